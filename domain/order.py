"""Order: an online order from the mini-program, from placement to refund.

State machine::

    PLACED -> ALLOCATED | UNALLOCATED -> PAID -> FULFILLED
    UNALLOCATED -> ALLOCATED             (re-routed once a store can take it)
    PLACED | ALLOCATED | UNALLOCATED -> CANCELLED   (before payment only; by the customer, or by the
                                                     server once ``payment_due_at`` has passed)
    PAID | FULFILLED -> REFUNDED          (when refunds reach the paid amount)

After payment an order is never cancelled: money goes back by refunds, partial
or full, whose sum never exceeds what was paid. The routing decision is kept on
the order as evidence of why it went where it went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.attribution import VALUE_TYPES as _ATTRIBUTION_TYPES
from domain.attribution import EntryContext
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import CoordSystem, Location, to_wgs84
from domain.loyalty_args import check_brand
from domain.programme import LoyaltyProgramme
from domain.routing import VALUE_TYPES as _ROUTING_TYPES
from domain.routing import RoutingDecision, UnallocatedReason
from domain.store_values import FulfilmentMode, require_int, require_text, require_utc, require_uuid

PAYMENT_TIMED_OUT = "PAYMENT_TIMED_OUT"  # the reason of a cancellation by the payment timeout


class OrderStatus(str, Enum):
    PLACED = "PLACED"
    ALLOCATED = "ALLOCATED"
    UNALLOCATED = "UNALLOCATED"
    PAID = "PAID"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int
    unit_fen: int

    def __post_init__(self) -> None:
        require_text(self.sku, "sku", 64)
        require_int(self.qty, "qty", 1, 100_000)
        require_int(self.unit_fen, "unit_fen", 0, 10**12)

    @property
    def amount_fen(self) -> int:
        return self.qty * self.unit_fen


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """One refund as the order shows it: its id, amount, the reason given (may be empty) and when."""

    refund_id: str
    amount_fen: int
    reason: str
    at: datetime


def _total(lines: tuple[OrderLine, ...], total_fen: int | None) -> int:
    if lines:
        total = sum(line.amount_fen for line in lines)
        if total_fen is not None and total_fen != total:
            raise InvalidArgument(
                "total_fen differs from the sum of the lines",
                reason="TOTAL_MISMATCH",
                total_fen=total_fen,
                lines_fen=total,
            )
        total_fen = total
    if total_fen is None:
        raise InvalidArgument("give lines or total_fen", reason="MISSING_AMOUNT")
    return require_int(total_fen, "total_fen", 1, 10**12)


class Order(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Placed: ClassVar[DecoratedEvent]
        Cancelled: ClassVar[DecoratedEvent]
        Refunded: ClassVar[DecoratedEvent]

    settle_due_at: datetime | None = None  # orders paid before Paid carried it (and their snapshots): derived
    refunds: tuple[RefundRecord, ...] = ()  # class default: state saved before refunds were kept reads as none
    payment_due_at: datetime | None = None  # class default: no payment timeout (and state saved before it)
    drop_id: UUID | None = None  # class default: not a drop's order (and state saved before drops placed orders)

    @classmethod
    def place(
        cls,
        *,
        member_id: UUID,
        brand: str,
        mode: FulfilmentMode,
        customer_location: Location,
        entry: EntryContext = EntryContext(),
        lines: Iterable[OrderLine] = (),
        total_fen: int | None = None,
        at: datetime,
        payment_due_at: datetime | None = None,
        id: UUID | None = None,
        drop_id: UUID | None = None,
    ) -> Order:
        """``payment_due_at`` (from the programme's payment timeout): after it, the order cannot be paid.
        ``drop_id``: a drop winner's claim placed it (its units are the drop's; cancelling it returns them)."""
        lines = tuple(lines)
        if not all(isinstance(line, OrderLine) for line in lines):
            raise InvalidArgument("lines must be OrderLine values", reason="INVALID_LINES")
        if not isinstance(mode, FulfilmentMode):
            raise InvalidArgument("mode must be a FulfilmentMode", reason="INVALID_MODES")
        if not isinstance(customer_location, Location):
            raise InvalidArgument("customer_location must be a Location", reason="INVALID_COORDINATE")
        if not isinstance(entry, EntryContext):
            raise InvalidArgument("entry must be an EntryContext", reason="INVALID_ENTRY_CONTEXT")
        return cls._create(
            cls.Placed,
            id=require_uuid(id, "id") if id is not None else None,
            member_id=require_uuid(member_id, "member_id"),
            brand=check_brand(brand),
            lines=lines,
            total_fen=_total(lines, total_fen),
            mode=mode,
            customer_location=to_wgs84(customer_location),
            original_customer_location=customer_location,
            entry=entry,
            at=require_utc(at),
            payment_due_at=require_utc(payment_due_at, "payment_due_at") if payment_due_at is not None else None,
            drop_id=require_uuid(drop_id, "drop_id") if drop_id is not None else None,
        )

    @event("Placed")
    def __init__(
        self,
        member_id: UUID,
        brand: str,
        lines: tuple[OrderLine, ...],
        total_fen: int,
        mode: FulfilmentMode,
        customer_location: Location,
        original_customer_location: Location,
        entry: EntryContext,
        at: datetime,
        payment_due_at: datetime | None = None,  # None: no timeout (and Placed events recorded before it)
        drop_id: UUID | None = None,  # a drop's claim placed it (Placed events of other orders do not carry it)
    ) -> None:
        self.member_id = member_id
        if drop_id is not None:  # else the class default
            self.drop_id = drop_id
        if payment_due_at is not None:  # else the class default: state without a timeout reads the same
            self.payment_due_at = payment_due_at
        self.brand = brand
        self.lines = lines
        self.total_fen = total_fen
        self.mode = mode
        self.customer_location = customer_location
        self.original_customer_location = original_customer_location
        self.entry = entry
        self.placed_at = at
        self.status = OrderStatus.PLACED
        self.decision: RoutingDecision | None = None
        self.fallback_target: str | None = None
        self.paid_at: datetime | None = None
        self.paid_fen = 0
        self.refunded_fen = 0
        self.refund_ids: set[str] = set()

    @property
    def store_id(self) -> UUID | None:
        return self.decision.store_id if self.decision else None

    @property
    def dealer_id(self) -> str | None:
        return self.decision.dealer_id if self.decision else None

    def _require(self, *allowed: OrderStatus, action: str) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                f"cannot {action} an order that is {self.status.value}",
                reason=f"ORDER_{self.status.value}",
                order_id=self.id,
                action=action,
            )

    def _check_decision(self, decision: object) -> RoutingDecision:
        if not isinstance(decision, RoutingDecision):
            raise InvalidArgument("decision must be a RoutingDecision", reason="INVALID_DECISION")
        if decision.order_id != self.id:
            raise InvalidArgument("decision is for another order", reason="DECISION_ORDER_MISMATCH")
        if decision.mode is not self.mode:
            raise InvalidArgument("decision is for another fulfilment mode", reason="DECISION_MODE_MISMATCH")
        return decision

    def allocate(self, decision: RoutingDecision, at: datetime) -> None:
        self._check_decision(decision)
        require_utc(at)
        if not decision.allocated:
            raise InvalidArgument("an unallocated decision cannot allocate", reason="DECISION_NOT_ALLOCATED")
        self._require(OrderStatus.PLACED, OrderStatus.UNALLOCATED, action="allocate")
        self._allocated(decision=decision, at=at)

    @event("Allocated")
    def _allocated(self, decision: RoutingDecision, at: datetime) -> None:
        self.decision = decision
        self.fallback_target = None
        self.status = OrderStatus.ALLOCATED

    def leave_unallocated(self, decision: RoutingDecision, at: datetime) -> None:
        self._check_decision(decision)
        require_utc(at)
        if decision.allocated or decision.unallocated_reason is None or decision.fallback_target is None:
            raise InvalidArgument("decision is not an unallocated outcome", reason="DECISION_ALLOCATED")
        self._require(OrderStatus.PLACED, action="leave unallocated")
        self._unallocated(
            reason=decision.unallocated_reason, fallback_target=decision.fallback_target, decision=decision, at=at
        )

    @event("Unallocated")
    def _unallocated(
        self, reason: UnallocatedReason, fallback_target: str, decision: RoutingDecision, at: datetime
    ) -> None:
        self.decision = decision
        self.fallback_target = fallback_target
        self.status = OrderStatus.UNALLOCATED

    def pay(self, paid_fen: int, programme: LoyaltyProgramme, at: datetime) -> None:
        """Paid under ``programme`` (the brand's, in force now): it fixes when the order settles.

        ``settle_due_at`` = ``at`` + the programme's return window, recorded on the
        event; the guide's commission and a referral reward fall due then, whatever
        the brand publishes later.
        """
        require_int(paid_fen, "paid_fen", 0)
        if not isinstance(programme, LoyaltyProgramme):
            raise InvalidArgument("programme must be a LoyaltyProgramme", reason="INVALID_PROGRAMME")
        if programme.brand != self.brand:
            raise InvalidArgument(
                "programme of another brand", reason="PROGRAMME_BRAND_MISMATCH", brand=programme.brand
            )
        require_utc(at)
        self._require(OrderStatus.ALLOCATED, OrderStatus.UNALLOCATED, action="pay")
        if self._payment_timed_out(at):
            raise RuleViolation(
                "the time to pay this order has run out",
                reason="PAYMENT_TIMED_OUT",
                order_id=self.id,
                payment_due_at=self.payment_due_at,
            )
        if paid_fen != self.total_fen:
            raise RuleViolation(
                "payment must equal the order total",
                reason="PAYMENT_AMOUNT_MISMATCH",
                paid_fen=paid_fen,
                total_fen=self.total_fen,
            )
        self._paid(
            paid_fen=paid_fen,
            settle_due_at=at + timedelta(days=programme.return_window_days),
            programme_version=programme.version,
            at=at,
        )

    class Paid(Aggregate.Event):
        """Version 2 added ``settle_due_at`` and ``programme_version``.

        A version-1 event cannot know its programme's return window, so it decodes
        with both ``None``; the application derives the due time once from the
        programme in force at ``at`` (``ProgrammeCatalog.in_force_at``).
        """

        class_version = 2
        paid_fen: int
        settle_due_at: datetime | None
        programme_version: int | None
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["settle_due_at"] = None
            state["programme_version"] = None

    @event(Paid)
    def _paid(self, paid_fen: int, settle_due_at: datetime | None, programme_version: int | None, at: datetime) -> None:
        self.paid_fen = paid_fen
        self.paid_at = at
        if settle_due_at is not None:  # else the class default: state as the code before it left it
            self.settle_due_at = settle_due_at
        self.status = OrderStatus.PAID

    def fulfil(self, at: datetime) -> None:
        require_utc(at)
        self._require(OrderStatus.PAID, action="fulfil")
        self._fulfilled(at=at)

    @event("Fulfilled")
    def _fulfilled(self, at: datetime) -> None:
        self.status = OrderStatus.FULFILLED

    def cancel(self, reason: str, at: datetime) -> None:
        require_text(reason, "reason")
        require_utc(at)
        self._require(OrderStatus.PLACED, OrderStatus.ALLOCATED, OrderStatus.UNALLOCATED, action="cancel")
        self._cancelled(reason=reason, at=at)

    def _payment_timed_out(self, at: datetime) -> bool:
        return self.payment_due_at is not None and at >= self.payment_due_at

    def cancel_unpaid(self, at: datetime) -> None:
        """The server's cancellation of an order left unpaid past ``payment_due_at``."""
        require_utc(at)
        self._require(OrderStatus.PLACED, OrderStatus.ALLOCATED, OrderStatus.UNALLOCATED, action="cancel")
        if not self._payment_timed_out(at):
            raise RuleViolation(
                "the order may still be paid", reason="PAYMENT_NOT_YET_DUE", payment_due_at=self.payment_due_at
            )
        self._cancelled(reason=PAYMENT_TIMED_OUT, at=at)

    @event("Cancelled")
    def _cancelled(self, reason: str, at: datetime) -> None:
        self.status = OrderStatus.CANCELLED

    def refund(self, refund_id: str, amount_fen: int, at: datetime, reason: str = "") -> None:
        """Partial or full; the order becomes REFUNDED when refunds reach the paid amount.

        ``reason`` is optional (empty: none given) and recorded on the event as given.
        """
        require_text(refund_id, "refund_id", 64)
        if reason != "":
            require_text(reason, "reason")
        require_int(amount_fen, "amount_fen", 1)
        require_utc(at)
        self._require(OrderStatus.PAID, OrderStatus.FULFILLED, action="refund")
        if refund_id in self.refund_ids:
            raise RuleViolation("refund id already used", reason="DUPLICATE_REFUND", refund_id=refund_id)
        if self.refunded_fen + amount_fen > self.paid_fen:
            raise RuleViolation(
                "refunds would exceed the paid amount",
                reason="REFUND_EXCEEDS_PAID",
                remaining_fen=self.paid_fen - self.refunded_fen,
            )
        self._refunded(refund_id=refund_id, amount_fen=amount_fen, reason=reason, at=at)

    @event("Refunded")
    def _refunded(self, refund_id: str, amount_fen: int, at: datetime, reason: str = "") -> None:
        # ``reason`` defaults for Refunded events stored before it was recorded.
        self.refunds = (*self.refunds, RefundRecord(refund_id, amount_fen, reason, at))
        self.refund_ids.add(refund_id)
        self.refunded_fen += amount_fen
        if self.refunded_fen == self.paid_fen:
            self.status = OrderStatus.REFUNDED


# Value types carried by this aggregate's events (for the transcoder).
VALUE_TYPES = (
    OrderStatus,
    OrderLine,
    RefundRecord,
    FulfilmentMode,
    CoordSystem,
    Location,
    *_ATTRIBUTION_TYPES,
    *_ROUTING_TYPES,
)
