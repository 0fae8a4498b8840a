"""The shopping guide (导购): a store employee with a WeCom id, their customers,
handovers (离职继承 / 在职继承), credits and commission.

Handover is a conversation between two guides, mirrored on each:

* giving guide: ``start_handover`` -> HandoverStarted; later
  ``conclude_handover`` per customer -> HandoverConcluded (accepted: the
  customer leaves; refused: the customer stays).
* receiving guide: ``offer_handover`` -> HandoverOffered for what fits under
  the customer limit and HandoverRefused(RECEIVER_AT_CUSTOMER_LIMIT) for the
  rest; then ``accept_handover`` / ``refuse_handover`` per customer, or
  ``complete_due_handovers`` auto-accepts after the waiting period (WeCom: 24h).
* member: ``Member.hand_over`` records CustomerHandedOver and enforces the
  "at most N handovers in D days" rule; the application checks
  ``Member.can_be_handed_over`` before offering a customer.

Commission (业绩提成): a sale is credited frozen, settles at the order's
``settle_due_at`` (fixed when it was paid), and a refund claws back
proportionally, even after settlement (then as debt, offset against later
settlements). A guide who has left earns nothing new (``GUIDE_LEFT``); what was
credited before still settles and claws back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.errors import AlreadyExists, InvalidArgument, NotFound, RuleViolation
from domain.identity import IdentityKind, normalise
from domain.loyalty_args import (
    MAX_REASON_LENGTH,
    check_brand,
    check_enum,
    check_int,
    check_optional_uuid,
    check_text,
    check_utc,
    check_uuid,
)
from domain.programme import LoyaltyProgramme

MAX_FEN = 10**13


class HandoverKind(str, enum.Enum):
    RESIGNATION = "RESIGNATION"  # 离职继承
    REASSIGNMENT = "REASSIGNMENT"  # 在职继承


class CreditKind(str, enum.Enum):
    CUSTOMER_ADDED = "CUSTOMER_ADDED"
    REFERRAL = "REFERRAL"  # a customer of this guide brought a new member (老带新)
    SALES = "SALES"  # mini-program sales the guide drove


@dataclass(frozen=True, slots=True)
class IncomingTransfer:
    from_guide_id: UUID
    kind: HandoverKind
    due_at: datetime


@dataclass(frozen=True, slots=True)
class SaleCommission:
    """State only (never in events): one credited sale's commission so far.

    Frozen and replaced on change like every value, so a snapshot stores it as
    a value type and a shared cached guide can never be changed in place.
    """

    paid_fen: int
    commission_fen: int
    settle_after: datetime
    refunded_fen: int = 0
    clawed_back_fen: int = 0
    settled: bool = False


class Guide(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Hired: ClassVar[DecoratedEvent]
        MovedToStore: ClassVar[DecoratedEvent]
        Left: ClassVar[DecoratedEvent]
        PersonalDataErased: ClassVar[DecoratedEvent]
        CustomerAdded: ClassVar[DecoratedEvent]
        CustomerReleased: ClassVar[DecoratedEvent]
        HandoverConcluded: ClassVar[DecoratedEvent]
        HandoverAccepted: ClassVar[DecoratedEvent]
        CreditEarned: ClassVar[DecoratedEvent]
        SaleCredited: ClassVar[DecoratedEvent]
        CommissionSettled: ClassVar[DecoratedEvent]
        CommissionClawedBack: ClassVar[DecoratedEvent]

    @classmethod
    def hire(
        cls, brand: str, store_id: UUID, wecom_userid: str, name: str, at: datetime, *, guide_id: UUID | None = None
    ) -> Guide:
        check_brand(brand)
        check_uuid("store_id", store_id)
        wecom_userid = normalise(IdentityKind.WECOM, wecom_userid)
        check_text("name", name, max_length=64)
        check_utc("at", at)
        check_optional_uuid("guide_id", guide_id)
        return cls._create(
            cls.Hired, id=guide_id, brand=brand, store_id=store_id, wecom_userid=wecom_userid, name=name, at=at
        )

    @event("Hired")
    def __init__(self, brand: str, store_id: UUID, wecom_userid: str, name: str, at: datetime) -> None:
        self.brand = brand
        self.store_id = store_id
        self.wecom_userid: str | None = wecom_userid  # None once erased (PIPL)
        self.name: str | None = name
        self.hired_at = at
        self.left_at: datetime | None = None
        self.customers: dict[UUID, datetime] = {}
        self.outgoing: dict[UUID, UUID] = {}  # member -> receiving guide
        self.incoming: dict[UUID, IncomingTransfer] = {}
        self.credits = 0
        self._credit_refs: set[tuple[CreditKind, str]] = set()
        self._sales: dict[str, SaleCommission] = {}
        self.frozen_fen = 0
        self.settled_fen = 0
        self.debt_fen = 0

    # ------------------------------------------------------------------ employment
    @property
    def employed(self) -> bool:
        return self.left_at is None

    def _check_employed(self) -> None:
        if not self.employed:
            raise RuleViolation("guide has left", reason="GUIDE_LEFT")

    def _check_programme(self, programme: LoyaltyProgramme) -> None:
        if not isinstance(programme, LoyaltyProgramme):
            raise InvalidArgument("programme must be a LoyaltyProgramme", reason="INVALID_PROGRAMME")
        if programme.brand != self.brand:
            raise InvalidArgument("programme of another brand", reason="PROGRAMME_BRAND_MISMATCH")

    def move_to_store(self, store_id: UUID, at: datetime) -> None:
        self._check_employed()
        check_uuid("store_id", store_id)
        check_utc("at", at)
        if store_id == self.store_id:
            raise RuleViolation("already at this store", reason="SAME_STORE")
        self._moved_to_store(from_store_id=self.store_id, store_id=store_id, at=at)

    @event("MovedToStore")
    def _moved_to_store(self, from_store_id: UUID, store_id: UUID, at: datetime) -> None:
        self.store_id = store_id

    def leave(self, at: datetime) -> None:
        """Customers stay listed until a RESIGNATION handover moves them (离职继承)."""
        self._check_employed()
        check_utc("at", at)
        self._left(at=at)

    @event("Left")
    def _left(self, at: datetime) -> None:
        self.left_at = at

    # ------------------------------------------------------------------ personal data (PIPL)
    @property
    def erased(self) -> bool:
        return getattr(self, "erased_at", None) is not None

    def erase_personal_data(self, by: str, reason: str, at: datetime) -> bool:
        """PIPL Art. 47: forget who the guide is (WeCom id, name); customers, credits and commission stay.

        Only a guide who has left (``GUIDE_EMPLOYED`` otherwise: an employee's WeCom id is how customers
        reach them). Records who asked, why and when; False (nothing recorded) when already erased. The
        infrastructure destroys the guide's data key, so earlier events cannot be read either.
        """
        check_text("requested_by", by, max_length=64)  # named as in EraseGuideRequest
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        if self.erased:
            return False
        if self.employed:
            raise RuleViolation("the guide is still employed: release the guide first", reason="GUIDE_EMPLOYED")
        self._personal_data_erased(by=by, reason=reason, at=at)
        return True

    @event("PersonalDataErased")
    def _personal_data_erased(self, by: str, reason: str, at: datetime) -> None:
        self.wecom_userid = None
        self.name = None
        self.erased_at = at
        self.erasure = (by, reason)

    # ------------------------------------------------------------------ customers
    def add_customer(self, member_id: UUID, programme: LoyaltyProgramme, at: datetime) -> None:
        self._check_employed()
        check_uuid("member_id", member_id)
        self._check_programme(programme)
        check_utc("at", at)
        if member_id in self.customers or member_id in self.incoming:
            raise AlreadyExists("already this guide's customer", reason="CUSTOMER_EXISTS", member_id=member_id)
        if self._load() >= programme.guide_customer_limit:
            raise RuleViolation(
                "guide is at the customer limit", reason="GUIDE_CUSTOMER_LIMIT", limit=programme.guide_customer_limit
            )
        self._customer_added(member_id=member_id, at=at)
        self._earn_credit(
            CreditKind.CUSTOMER_ADDED, str(member_id), programme.guide_credit_customer_added, programme, at
        )

    def _load(self) -> int:
        return len(self.customers) + len(self.incoming)

    @event("CustomerAdded")
    def _customer_added(self, member_id: UUID, at: datetime) -> None:
        self.customers[member_id] = at

    def release_customer(self, member_id: UUID, reason: str, at: datetime) -> None:
        check_uuid("member_id", member_id)
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        self._check_customer(member_id)
        if member_id in self.outgoing:
            raise RuleViolation("customer is being handed over", reason="HANDOVER_PENDING", member_id=member_id)
        self._customer_released(member_id=member_id, reason=reason, at=at)

    def _check_customer(self, member_id: UUID) -> None:
        if member_id not in self.customers:
            raise NotFound("not this guide's customer", reason="CUSTOMER_NOT_FOUND", member_id=member_id)

    @event("CustomerReleased")
    def _customer_released(self, member_id: UUID, reason: str, at: datetime) -> None:
        del self.customers[member_id]

    # ------------------------------------------------------------------ handover: giving side
    def start_handover(self, customers: tuple[UUID, ...], to_guide_id: UUID, kind: HandoverKind, at: datetime) -> None:
        check_enum("kind", kind, HandoverKind)
        if kind is HandoverKind.REASSIGNMENT:
            self._check_employed()
        self._check_member_tuple(customers)
        check_uuid("to_guide_id", to_guide_id)
        check_utc("at", at)
        if to_guide_id == self.id:
            raise RuleViolation("cannot hand over to oneself", reason="SAME_GUIDE")
        for member_id in customers:
            self._check_customer(member_id)
            if member_id in self.outgoing:
                raise RuleViolation(
                    "customer is already being handed over", reason="HANDOVER_PENDING", member_id=member_id
                )
        self._handover_started(customers=customers, to_guide_id=to_guide_id, kind=kind, at=at)

    @staticmethod
    def _check_member_tuple(customers: object) -> None:
        if not isinstance(customers, tuple) or not customers or not all(isinstance(c, UUID) for c in customers):
            raise InvalidArgument(
                "customers must be a non-empty tuple of member ids", reason="INVALID_ID", field="customers"
            )
        if len(set(customers)) != len(customers):
            raise InvalidArgument("customers repeat", reason="DUPLICATE_ID", field="customers")

    @event("HandoverStarted")
    def _handover_started(
        self, customers: tuple[UUID, ...], to_guide_id: UUID, kind: HandoverKind, at: datetime
    ) -> None:
        for member_id in customers:
            self.outgoing[member_id] = to_guide_id

    def conclude_handover(self, member_id: UUID, accepted: bool, reason: str, at: datetime) -> None:
        """Relay of the receiver's answer: accepted customers leave, refused ones stay."""
        check_uuid("member_id", member_id)
        if not isinstance(accepted, bool):
            raise InvalidArgument("accepted must be a bool", reason="INVALID_BOOL")
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        if member_id not in self.outgoing:
            raise NotFound("no handover pending for this customer", reason="HANDOVER_NOT_FOUND", member_id=member_id)
        self._handover_concluded(
            member_id=member_id, to_guide_id=self.outgoing[member_id], accepted=accepted, reason=reason, at=at
        )

    @event("HandoverConcluded")
    def _handover_concluded(
        self, member_id: UUID, to_guide_id: UUID, accepted: bool, reason: str, at: datetime
    ) -> None:
        del self.outgoing[member_id]
        if accepted:
            del self.customers[member_id]

    # ------------------------------------------------------------------ handover: receiving side
    def offer_handover(
        self,
        from_guide_id: UUID,
        customers: tuple[UUID, ...],
        kind: HandoverKind,
        programme: LoyaltyProgramme,
        at: datetime,
    ) -> tuple[UUID, ...]:
        """Takes what fits under the limit as pending; refuses the rest. Returns the refused ids."""
        self._check_employed()
        check_uuid("from_guide_id", from_guide_id)
        self._check_member_tuple(customers)
        check_enum("kind", kind, HandoverKind)
        self._check_programme(programme)
        check_utc("at", at)
        if from_guide_id == self.id:
            raise RuleViolation("cannot receive from oneself", reason="SAME_GUIDE")
        for member_id in customers:
            if member_id in self.customers or member_id in self.incoming:
                raise AlreadyExists("already this guide's customer", reason="CUSTOMER_EXISTS", member_id=member_id)
        room = max(programme.guide_customer_limit - self._load(), 0)
        taken, refused = customers[:room], customers[room:]
        if taken:
            self._handover_offered(
                from_guide_id=from_guide_id,
                customers=taken,
                kind=kind,
                due_at=at + timedelta(hours=programme.handover_waiting_hours),
                programme_version=programme.version,
                at=at,
            )
        for member_id in refused:
            self._handover_refused(
                member_id=member_id, from_guide_id=from_guide_id, reason="RECEIVER_AT_CUSTOMER_LIMIT", at=at
            )
        return refused

    @event("HandoverOffered")
    def _handover_offered(
        self,
        from_guide_id: UUID,
        customers: tuple[UUID, ...],
        kind: HandoverKind,
        due_at: datetime,
        programme_version: int,
        at: datetime,
    ) -> None:
        for member_id in customers:
            self.incoming[member_id] = IncomingTransfer(from_guide_id, kind, due_at)

    def accept_handover(self, member_id: UUID, at: datetime) -> None:
        self._check_employed()
        check_uuid("member_id", member_id)
        check_utc("at", at)
        transfer = self._check_incoming(member_id)
        self._handover_accepted(member_id=member_id, from_guide_id=transfer.from_guide_id, automatic=False, at=at)

    def _check_incoming(self, member_id: UUID) -> IncomingTransfer:
        if member_id not in self.incoming:
            raise NotFound("no handover offered for this customer", reason="HANDOVER_NOT_FOUND", member_id=member_id)
        return self.incoming[member_id]

    @event("HandoverAccepted")
    def _handover_accepted(self, member_id: UUID, from_guide_id: UUID, automatic: bool, at: datetime) -> None:
        del self.incoming[member_id]
        self.customers[member_id] = at

    def refuse_handover(self, member_id: UUID, reason: str, at: datetime) -> None:
        check_uuid("member_id", member_id)
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        transfer = self._check_incoming(member_id)
        self._handover_refused(member_id=member_id, from_guide_id=transfer.from_guide_id, reason=reason, at=at)

    @event("HandoverRefused")
    def _handover_refused(self, member_id: UUID, from_guide_id: UUID, reason: str, at: datetime) -> None:
        self.incoming.pop(member_id, None)

    def complete_due_handovers(self, at: datetime) -> tuple[UUID, ...]:
        """Auto-accepts offers past their waiting period (WeCom's 24h rule), oldest first."""
        check_utc("at", at)
        due = sorted(((t.due_at, str(m), m, t) for m, t in self.incoming.items() if t.due_at <= at))
        for _, _, member_id, transfer in due:
            self._handover_accepted(member_id=member_id, from_guide_id=transfer.from_guide_id, automatic=True, at=at)
        return tuple(member_id for _, _, member_id, _ in due)

    # ------------------------------------------------------------------ credits
    def credit_referral(self, invitee_id: UUID, programme: LoyaltyProgramme, at: datetime) -> None:
        """One of this guide's customers brought a new member (老带新)."""
        self._check_employed()
        check_uuid("invitee_id", invitee_id)
        self._check_programme(programme)
        check_utc("at", at)
        if (CreditKind.REFERRAL, str(invitee_id)) in self._credit_refs:
            raise AlreadyExists("referral already credited", reason="CREDIT_EXISTS", invitee_id=invitee_id)
        self._earn_credit(CreditKind.REFERRAL, str(invitee_id), programme.guide_credit_referral, programme, at)

    def _earn_credit(
        self, kind: CreditKind, reference: str, credits: int, programme: LoyaltyProgramme, at: datetime
    ) -> None:
        if credits > 0:
            self._credit_earned(
                kind=kind, reference=reference, credits=credits, programme_version=programme.version, at=at
            )

    @event("CreditEarned")
    def _credit_earned(
        self, kind: CreditKind, reference: str, credits: int, programme_version: int, at: datetime
    ) -> None:
        self.credits += credits
        self._credit_refs.add((kind, reference))

    # ------------------------------------------------------------------ commission
    def credit_sale(
        self,
        order_id: str,
        store_id: UUID,
        paid_fen: int,
        commission_fen: int,
        programme: LoyaltyProgramme,
        at: datetime,
        *,
        settle_after: datetime,
    ) -> None:
        """Frozen commission for a sale the guide drove; settles at ``settle_after``.

        ``commission_fen`` is decided by the caller (``programme.commission_fen(paid_fen)``
        or a campaign rate); ``settle_after`` is the order's ``settle_due_at``, fixed
        when it was paid; the programme gives the sales credits.
        A guide who has left earns nothing (``GUIDE_LEFT``).
        """
        self._check_employed()
        check_text("order_id", order_id)
        check_uuid("store_id", store_id)
        check_int("paid_fen", paid_fen, minimum=1, maximum=MAX_FEN)
        check_int("commission_fen", commission_fen, maximum=paid_fen)
        self._check_programme(programme)
        check_utc("at", at)
        check_utc("settle_after", settle_after)
        if order_id in self._sales:
            raise AlreadyExists("sale already credited", reason="SALE_EXISTS", order_id=order_id)
        self._sale_credited(
            order_id=order_id,
            store_id=store_id,
            paid_fen=paid_fen,
            commission_fen=commission_fen,
            settle_after=settle_after,
            programme_version=programme.version,
            at=at,
        )
        self._earn_credit(CreditKind.SALES, order_id, programme.sales_credits(paid_fen), programme, at)

    @event("SaleCredited")
    def _sale_credited(
        self,
        order_id: str,
        store_id: UUID,
        paid_fen: int,
        commission_fen: int,
        settle_after: datetime,
        programme_version: int,
        at: datetime,
    ) -> None:
        self._sales[order_id] = SaleCommission(paid_fen, commission_fen, settle_after)
        self.frozen_fen += commission_fen

    def _check_sale(self, order_id: str) -> SaleCommission:
        check_text("order_id", order_id)
        if order_id not in self._sales:
            raise NotFound("no sale credited for this order", reason="SALE_NOT_FOUND", order_id=order_id)
        return self._sales[order_id]

    def has_sale(self, order_id: str) -> bool:
        """A sale was credited to this guide for the order (so a refund claws it back)."""
        return order_id in self._sales

    def unsettled_orders(self) -> tuple[str, ...]:
        """Orders whose commission is credited and not settled yet."""
        return tuple(order_id for order_id, sale in self._sales.items() if not sale.settled)

    def settle_commission(self, order_id: str, at: datetime) -> int:
        """Releases what is still frozen once the return window passed; repays debt first."""
        sale = self._check_sale(order_id)
        check_utc("at", at)
        if sale.settled:
            raise AlreadyExists("commission already settled", reason="COMMISSION_SETTLED", order_id=order_id)
        if at < sale.settle_after:
            raise RuleViolation(
                "order still inside its return window",
                reason="COMMISSION_NOT_YET_DUE",
                due_at=sale.settle_after.isoformat(),
            )
        amount = sale.commission_fen - sale.clawed_back_fen
        offset = min(self.debt_fen, amount)
        self._commission_settled(order_id=order_id, commission_fen=amount, debt_offset_fen=offset, at=at)
        return amount - offset

    @event("CommissionSettled")
    def _commission_settled(self, order_id: str, commission_fen: int, debt_offset_fen: int, at: datetime) -> None:
        self._sales[order_id] = replace(self._sales[order_id], settled=True)
        self.frozen_fen -= commission_fen
        self.settled_fen += commission_fen - debt_offset_fen
        self.debt_fen -= debt_offset_fen

    def claw_back(self, order_id: str, refunded_fen: int, at: datetime) -> int:
        """Proportional to the refund, cumulative never above the commission; returns fen clawed back."""
        sale = self._check_sale(order_id)
        check_int("refunded_fen", refunded_fen, minimum=1, maximum=MAX_FEN)
        check_utc("at", at)
        if sale.refunded_fen + refunded_fen > sale.paid_fen:
            raise RuleViolation("refund exceeds the paid amount", reason="REFUND_EXCEEDS_PAID", paid_fen=sale.paid_fen)
        amount = sale.commission_fen * (sale.refunded_fen + refunded_fen) // sale.paid_fen - sale.clawed_back_fen
        self._commission_clawed_back(
            order_id=order_id,
            refunded_fen=refunded_fen,
            commission_fen=amount,
            debt_fen=amount if sale.settled else 0,
            at=at,
        )
        return amount

    @event("CommissionClawedBack")
    def _commission_clawed_back(
        self, order_id: str, refunded_fen: int, commission_fen: int, debt_fen: int, at: datetime
    ) -> None:
        sale = self._sales[order_id]
        self._sales[order_id] = replace(
            sale, refunded_fen=sale.refunded_fen + refunded_fen, clawed_back_fen=sale.clawed_back_fen + commission_fen
        )
        self.frozen_fen -= commission_fen - debt_fen
        self.debt_fen += debt_fen


# Value types in this aggregate's events and state (state: for snapshots).
VALUE_TYPES = (HandoverKind, CreditKind, IncomingTransfer, SaleCommission)
