"""The member (会员): identity, points lots (积分), tiers (会员分层), referral (老带新), guide binding.

Commands validate everything first and only then trigger events, so a rejected
command leaves nothing behind. Event bodies (the ``@event`` methods) only
mutate state from their own attributes, which makes replay deterministic.
Every decision event carries the programme version it was decided under.

Points accounting (see ``PointsTotals.conserved``)::

    earned - redeemed - expired - reversed + adjusted + transferred == remaining - debt

``remaining`` is the sum of all lots' remainders; ``debt`` is what refunds
could not take back (``shortfall`` on ``OrderPointsReversed``); new earnings
repay debt first (``debt_repaid`` on the earning event). Availability is a
function of time: a lot is available when ``available_at <= at < expires_at``
(no release events), expired lots are swept by ``expire_due``.

Referral cycles: registration-time referral can only point at an existing
member, so the only cycles possible are self-referral and A->B->A after a
merge or a late referral; ``record_referral`` rejects the invitee being the
referrer's own ``referred_by`` or anywhere in the ``upline`` the application
passes (the referrer's chain of ``referred_by``).

Handover limit: the member records ``CustomerHandedOver`` and answers
``handovers_within(days, at)``; the application checks
``can_be_handed_over`` before offering a customer in a handover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.calendar import BRAND_CALENDAR
from domain.errors import AlreadyExists, InvalidArgument, NotFound, RuleViolation
from domain.identity import VALUE_TYPES as _IDENTITY_VALUE_TYPES
from domain.identity import IdentityKey, IdentityKind, normalise
from domain.loyalty_args import (
    MAX_REASON_LENGTH,
    check_brand,
    check_date,
    check_enum,
    check_int,
    check_optional_text,
    check_optional_uuid,
    check_text,
    check_utc,
    check_uuid,
)
from domain.points import VALUE_TYPES as _POINTS_VALUE_TYPES
from domain.points import (
    CarriedLot,
    LotAllocation,
    LotSource,
    PointsLot,
    PointsMovement,
    PointsTotals,
    draw,
)
from domain.programme import BindingMode, LoyaltyProgramme, period_key
from domain.tiers import VALUE_TYPES as _TIERS_VALUE_TYPES
from domain.tiers import Tier, TierChangeReason, TierFact, next_tier, qualified_tier, window_totals

MAX_POINTS = 10**12
MAX_FEN = 10**13
EARLIEST_BIRTHDAY = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class FirstPaidOrder:
    order_id: str
    paid_fen: int
    paid_at: datetime


class Member(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Registered: ClassVar[DecoratedEvent]
        ProfileUpdated: ClassVar[DecoratedEvent]
        PersonalDataErased: ClassVar[DecoratedEvent]
        PointsEarned: ClassVar[DecoratedEvent]
        RedemptionDrawn: ClassVar[DecoratedEvent]
        PointsExpired: ClassVar[DecoratedEvent]
        OrderPointsReversed: ClassVar[DecoratedEvent]
        PointsAdjusted: ClassVar[DecoratedEvent]
        MemberAbsorbed: ClassVar[DecoratedEvent]
        MergedInto: ClassVar[DecoratedEvent]
        ReferralRewarded: ClassVar[DecoratedEvent]

    # ------------------------------------------------------------------ registration
    @classmethod
    def register(
        cls,
        brand: str,
        openid: str,
        at: datetime,
        *,
        unionid: str | None = None,
        phone: str | None = None,
        referrer_id: UUID | None = None,
        member_id: UUID | None = None,
    ) -> Member:
        """Registers a member; pass ``member_id`` for a deterministic id, else a uuid4."""
        check_brand(brand)
        openid = normalise(IdentityKind.OPENID, openid)
        unionid = None if unionid is None else normalise(IdentityKind.UNIONID, unionid)
        phone = None if phone is None else normalise(IdentityKind.PHONE, phone)
        check_optional_uuid("referrer_id", referrer_id)
        check_optional_uuid("member_id", member_id)
        check_utc("at", at)
        if referrer_id is not None and referrer_id == member_id:
            raise RuleViolation("a member cannot refer itself", reason="SELF_REFERRAL")
        return cls._create(
            cls.Registered,
            id=member_id,
            brand=brand,
            openid=openid,
            unionid=unionid,
            phone=phone,
            referrer_id=referrer_id,
            at=at,
        )

    @event("Registered")
    def __init__(
        self,
        brand: str,
        openid: str,
        unionid: str | None,
        phone: str | None,
        referrer_id: UUID | None,
        at: datetime,
    ) -> None:
        self.brand = brand
        self.openid: str | None = openid  # None once the personal data is erased
        self.unionid = unionid
        self.phone = phone
        self.nickname: str | None = None
        self.birthday: date | None = None
        self.referred_by = referrer_id
        self.registered_at = at
        self.erased_at: datetime | None = None
        self.merged_into: UUID | None = None
        self.absorbed: list[UUID] = []
        # points
        self._lots: dict[str, PointsLot] = {}
        self._remaining: dict[str, int] = {}
        self.debt = 0
        self._order_lot: dict[str, str] = {}
        self._order_paid: dict[str, int] = {}
        self._order_refunded: dict[str, int] = {}
        self._order_reversed: dict[str, int] = {}
        self._redemptions: set[str] = set()
        self._totals = dict.fromkeys(("earned", "redeemed", "expired", "reversed", "adjusted", "transferred"), 0)
        self._history: list[PointsMovement] = []
        self.first_paid_order: FirstPaidOrder | None = None
        # tiers
        self.tier = Tier.NEW
        self.tier_floor: Tier | None = None
        self._facts: list[TierFact] = []
        self.ever_paid = False
        # referral
        self._invitees: dict[UUID, datetime] = {}
        self._rewarded: dict[UUID, str] = {}  # invitee -> REWARDED / FORFEITED
        self._rewards_per_period: dict[str, int] = {}
        # guide
        self.guide_id: UUID | None = None
        self.guide_store_id: UUID | None = None  # the guide's store at binding; attribution asks the Guide
        self.bound_at: datetime | None = None
        self.home_store_id: UUID | None = None
        self._handovers: list[datetime] = []

    def _check_active(self) -> None:
        if self.merged_into is not None:
            raise RuleViolation("member was merged into another", reason="MEMBER_MERGED", survivor_id=self.merged_into)

    def _check_programme(self, programme: LoyaltyProgramme) -> None:
        if not isinstance(programme, LoyaltyProgramme):
            raise InvalidArgument("programme must be a LoyaltyProgramme", reason="INVALID_PROGRAMME")
        if programme.brand != self.brand:
            raise InvalidArgument(
                "programme of another brand", reason="PROGRAMME_BRAND_MISMATCH", brand=programme.brand
            )

    # ------------------------------------------------------------------ profile / identity
    def update_profile(
        self,
        at: datetime,
        *,
        phone: str | None = None,
        unionid: str | None = None,
        nickname: str | None = None,
        birthday: date | None = None,
    ) -> None:
        """Sets the given fields (None = unchanged). A new phone/unionid needs a new IdentityIndex."""
        self._check_active()
        self._check_not_erased()
        check_utc("at", at)
        phone = None if phone is None else normalise(IdentityKind.PHONE, phone)
        unionid = None if unionid is None else normalise(IdentityKind.UNIONID, unionid)
        check_optional_text("nickname", nickname, max_length=64)
        if birthday is not None:  # nobody was born in the future, or before 1900
            check_date("birthday", birthday, earliest=EARLIEST_BIRTHDAY, latest=BRAND_CALENDAR.day(at))
        if all(v is None for v in (phone, unionid, nickname, birthday)):
            raise InvalidArgument("nothing to update", reason="EMPTY_UPDATE")
        self._profile_updated(phone=phone, unionid=unionid, nickname=nickname, birthday=birthday, at=at)

    @event("ProfileUpdated")
    def _profile_updated(
        self, phone: str | None, unionid: str | None, nickname: str | None, birthday: date | None, at: datetime
    ) -> None:
        self.phone = phone if phone is not None else self.phone
        self.unionid = unionid if unionid is not None else self.unionid
        self.nickname = nickname if nickname is not None else self.nickname
        self.birthday = birthday if birthday is not None else self.birthday

    # ------------------------------------------------------------------ personal data (PIPL)
    @property
    def erased(self) -> bool:
        return getattr(self, "erased_at", None) is not None

    def _check_not_erased(self) -> None:
        if self.erased:
            raise RuleViolation("member's personal data was erased", reason="MEMBER_ERASED")

    def erase_personal_data(self, by: str, reason: str, at: datetime) -> bool:
        """PIPL Art. 47: forget who the member is; points, orders and their history stay.

        Records who asked, why and when. False (nothing recorded) when already erased: idempotent.
        The infrastructure destroys the member's data key, so the personal values in earlier
        events can no longer be read either (crypto-shredding).
        """
        check_text("requested_by", by, max_length=64)  # named as in EraseMemberRequest
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        if self.erased:
            return False
        self._personal_data_erased(by=by, reason=reason, at=at)
        return True

    @event("PersonalDataErased")
    def _personal_data_erased(self, by: str, reason: str, at: datetime) -> None:
        self.openid = None
        self.unionid = None
        self.phone = None
        self.nickname = None
        self.birthday = None
        self.erased_at = at
        self.erasure = (by, reason)

    def record_marketing_consent(self, granted: bool, channel: str, at: datetime) -> None:
        """PIPL Art. 24: the member's consent to personalised marketing, or its withdrawal."""
        self._check_active()
        if not isinstance(granted, bool):
            raise InvalidArgument("granted must be a bool", reason="INVALID_ARGUMENT", field="granted")
        check_text("channel", channel, max_length=64)
        check_utc("at", at)
        if self.marketing_consent is granted:
            return  # unchanged: nothing to record
        self._marketing_consent_recorded(granted=granted, channel=channel, at=at)

    @event("MarketingConsentRecorded")
    def _marketing_consent_recorded(self, granted: bool, channel: str, at: datetime) -> None:
        self.consent = (granted, channel, at)

    @property
    def marketing_consent(self) -> bool | None:
        """True or False as last recorded; None: never asked (no marketing)."""
        consent = getattr(self, "consent", None)
        return None if consent is None else consent[0]

    def identity_keys(self) -> tuple[IdentityKey, ...]:
        if self.openid is None:  # erased
            return ()
        keys = [IdentityKey(IdentityKind.OPENID, self.openid)]
        if self.unionid is not None:
            keys.append(IdentityKey(IdentityKind.UNIONID, self.unionid))
        if self.phone is not None:
            keys.append(IdentityKey(IdentityKind.PHONE, self.phone))
        return tuple(keys)

    # ------------------------------------------------------------------ points: queries
    def _lot_pairs(self, predicate: Callable[[PointsLot], bool]) -> list[tuple[PointsLot, int]]:
        return [(lot, self._remaining[i]) for i, lot in self._lots.items() if self._remaining[i] > 0 and predicate(lot)]

    def balance(self, at: datetime) -> int:
        """Available points: usable now."""
        check_utc("at", at)
        return sum(r for _, r in self._lot_pairs(lambda lot: lot.is_available(at)))

    def pending(self, at: datetime) -> int:
        """Earned points still inside the return window."""
        check_utc("at", at)
        return sum(r for _, r in self._lot_pairs(lambda lot: at < lot.available_at and not lot.is_expired(at)))

    def points_expiring_between(self, start: datetime, end: datetime) -> int:
        """Points that will expire in [start, end): for pre-expiry reminders."""
        check_utc("start", start)
        check_utc("end", end)
        return sum(
            r for _, r in self._lot_pairs(lambda lot: lot.expires_at is not None and start <= lot.expires_at < end)
        )

    def lots(self) -> tuple[tuple[PointsLot, int], ...]:
        """Every lot with its remainder, in draw order."""
        return tuple(
            sorted(((lot, self._remaining[i]) for i, lot in self._lots.items()), key=lambda p: p[0].draw_order())
        )

    def history(self) -> tuple[PointsMovement, ...]:
        return tuple(self._history)

    def totals(self) -> PointsTotals:
        return PointsTotals(**self._totals, debt=self.debt, remaining=sum(self._remaining.values()))

    # ------------------------------------------------------------------ points: earning
    def _new_lot(
        self,
        source: LotSource,
        reference: str,
        points: int,
        programme: LoyaltyProgramme,
        at: datetime,
        *,
        pending: bool,
    ) -> PointsLot:
        available_at = at + timedelta(days=programme.pending_days) if pending else at
        return PointsLot(
            lot_id=str(uuid5(self.id, f"lot:{self.version + 1}")),
            source=source,
            reference=reference,
            points=points,
            earned_at=at,
            available_at=available_at,
            expires_at=programme.lot_expires_at(at),
            programme_version=programme.version,
        )

    def earn_points_for_order(
        self, order_id: str, paid_fen: int, programme: LoyaltyProgramme, at: datetime
    ) -> PointsLot:
        """Points = paid_fen * points_per_yuan // 100, pending through the return window."""
        self._check_active()
        check_text("order_id", order_id)
        check_int("paid_fen", paid_fen, maximum=MAX_FEN)
        self._check_programme(programme)
        check_utc("at", at)
        if order_id in self._order_lot:
            raise AlreadyExists(
                "points already earned for this order", reason="ORDER_ALREADY_EARNED", order_id=order_id
            )
        points = programme.points_for(paid_fen)
        lot = self._new_lot(LotSource.ORDER, order_id, points, programme, at, pending=True)
        self._points_earned(lot=lot, paid_fen=paid_fen, debt_repaid=min(self.debt, points), at=at)
        if self.first_paid_order is None and paid_fen > 0:
            self._first_order_paid(order_id=order_id, paid_fen=paid_fen, at=at)
        return lot

    def earn_points(self, rule: str, points: int, programme: LoyaltyProgramme, at: datetime) -> PointsLot:
        """Rule-based points (sign-in, birthday...): available at once, no return window."""
        self._check_active()
        check_text("rule", rule, max_length=64)
        check_int("points", points, minimum=1, maximum=MAX_POINTS)
        self._check_programme(programme)
        check_utc("at", at)
        lot = self._new_lot(LotSource.RULE, rule, points, programme, at, pending=False)
        self._points_earned(lot=lot, paid_fen=0, debt_repaid=min(self.debt, points), at=at)
        return lot

    @event("PointsEarned")
    def _points_earned(self, lot: PointsLot, paid_fen: int, debt_repaid: int, at: datetime) -> None:
        self._add_lot(lot, lot.points - debt_repaid)
        self.debt -= debt_repaid
        self._totals["earned"] += lot.points
        if lot.source is LotSource.ORDER:
            self._order_lot[lot.reference] = lot.lot_id
            self._order_paid[lot.reference] = paid_fen
            self._order_refunded[lot.reference] = 0
            self._order_reversed[lot.reference] = 0
            self.ever_paid = self.ever_paid or paid_fen > 0
        self._facts.append(TierFact(at=at, paid_fen=paid_fen, points_earned=lot.points))
        self._history.append(PointsMovement(at, "EARNED", lot.points, lot.reference))

    def _add_lot(self, lot: PointsLot, remaining: int) -> None:
        self._lots[lot.lot_id] = lot
        self._remaining[lot.lot_id] = remaining

    @event("FirstOrderPaid")
    def _first_order_paid(self, order_id: str, paid_fen: int, at: datetime) -> None:
        self.first_paid_order = FirstPaidOrder(order_id, paid_fen, at)

    def order_refunded_fen(self, order_id: str) -> int:
        if order_id not in self._order_paid:
            raise NotFound("no points earned for this order", reason="ORDER_NOT_EARNED", order_id=order_id)
        return self._order_refunded[order_id]

    # ------------------------------------------------------------------ points: spending
    def redeem(self, points: int, reference: str, at: datetime) -> tuple[LotAllocation, ...]:
        """Draws available lots soonest-expiring first; ``reference`` makes retries safe."""
        self._check_active()
        check_int("points", points, minimum=1, maximum=MAX_POINTS)
        check_text("reference", reference)
        check_utc("at", at)
        if reference in self._redemptions:
            raise AlreadyExists("redemption already recorded", reason="REDEMPTION_EXISTS", reference=reference)
        allocations, uncovered = draw(self._lot_pairs(lambda lot: lot.is_available(at)), points)
        if uncovered:
            raise RuleViolation(
                "not enough available points",
                reason="INSUFFICIENT_POINTS",
                requested=points,
                balance=points - uncovered,
            )
        self._redemption_drawn(points=points, reference=reference, allocations=allocations, at=at)
        return allocations

    @event("RedemptionDrawn")
    def _redemption_drawn(
        self, points: int, reference: str, allocations: tuple[LotAllocation, ...], at: datetime
    ) -> None:
        self._take(allocations)
        self._redemptions.add(reference)
        self._totals["redeemed"] += points
        self._history.append(PointsMovement(at, "REDEEMED", -points, reference))

    def _take(self, allocations: Iterable[LotAllocation]) -> None:
        for allocation in allocations:
            self._remaining[allocation.lot_id] -= allocation.points

    def expire_due(self, at: datetime) -> int:
        """Expires every lot remainder past its expiry, soonest first; returns points expired."""
        self._check_active()
        check_utc("at", at)
        due = sorted(self._lot_pairs(lambda lot: lot.is_expired(at)), key=lambda p: p[0].draw_order())
        for lot, remaining in due:
            self._points_expired(lot_id=lot.lot_id, points=remaining, at=at)
        return sum(r for _, r in due)

    @event("PointsExpired")
    def _points_expired(self, lot_id: str, points: int, at: datetime) -> None:
        self._remaining[lot_id] -= points
        self._totals["expired"] += points
        self._history.append(PointsMovement(at, "EXPIRED", -points, lot_id))

    def reverse_order_points(self, order_id: str, refunded_fen: int, at: datetime) -> int:
        """Takes back points for a (partial) refund of ``refunded_fen``; returns the shortfall.

        Cumulative reversal = lot.points * cumulative refunded // paid, so
        reversals never exceed what the order earned. Taken from the order's
        own lot first, then other available lots (soonest-expiring first);
        what is left becomes debt, never a negative balance.
        """
        self._check_active()
        check_text("order_id", order_id)
        check_int("refunded_fen", refunded_fen, minimum=1, maximum=MAX_FEN)
        check_utc("at", at)
        if order_id not in self._order_lot:
            raise NotFound("no points earned for this order", reason="ORDER_NOT_EARNED", order_id=order_id)
        paid, refunded = self._order_paid[order_id], self._order_refunded[order_id]
        if refunded + refunded_fen > paid:
            raise RuleViolation(
                "refund exceeds the paid amount", reason="REFUND_EXCEEDS_PAID", paid_fen=paid, refunded_fen=refunded
            )
        lot = self._lots[self._order_lot[order_id]]
        points = lot.points * (refunded + refunded_fen) // paid - self._order_reversed[order_id]
        own = min(points, self._remaining[lot.lot_id])
        others, shortfall = draw(
            self._lot_pairs(lambda other: other.lot_id != lot.lot_id and other.is_available(at)), points - own
        )
        allocations = ((LotAllocation(lot.lot_id, own),) if own else ()) + others
        self._order_points_reversed(
            order_id=order_id,
            refunded_fen=refunded_fen,
            points=points,
            allocations=allocations,
            shortfall=shortfall,
            at=at,
        )
        return shortfall

    @event("OrderPointsReversed")
    def _order_points_reversed(
        self,
        order_id: str,
        refunded_fen: int,
        points: int,
        allocations: tuple[LotAllocation, ...],
        shortfall: int,
        at: datetime,
    ) -> None:
        self._take(allocations)
        self.debt += shortfall
        self._order_refunded[order_id] += refunded_fen
        self._order_reversed[order_id] += points
        self._totals["reversed"] += points
        earned_at = self._lots[self._order_lot[order_id]].earned_at
        self._facts.append(TierFact(at=earned_at, paid_fen=-refunded_fen, points_earned=-points))
        self._history.append(PointsMovement(at, "REVERSED", -(points - shortfall), order_id, shortfall))

    def adjust(
        self,
        points: int,
        reason: str,
        operator: str,
        programme: LoyaltyProgramme,
        at: datetime,
        *,
        corrects: str | None = None,
    ) -> None:
        """Operator correction: a compensating event, never an edit of history.

        ``corrects`` names the event being corrected (e.g. "<member id>:<version>").
        A positive adjustment is a new lot (available now, programme expiry) that
        repays debt first; a negative one draws available lots and may not go below zero.
        """
        self._check_active()
        check_int("points", points, minimum=-MAX_POINTS, maximum=MAX_POINTS)
        if points == 0:
            raise InvalidArgument("adjustment of zero points", reason="OUT_OF_RANGE", field="points")
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_text("operator", operator, max_length=64)
        self._check_programme(programme)
        check_utc("at", at)
        check_optional_text("corrects", corrects)
        lot: PointsLot | None = None
        allocations: tuple[LotAllocation, ...] = ()
        debt_repaid = 0
        if points > 0:
            lot = self._new_lot(LotSource.ADJUSTMENT, reason, points, programme, at, pending=False)
            debt_repaid = min(self.debt, points)
        else:
            allocations, uncovered = draw(self._lot_pairs(lambda lot: lot.is_available(at)), -points)
            if uncovered:
                raise RuleViolation(
                    "adjustment would make the balance negative", reason="INSUFFICIENT_POINTS", requested=-points
                )
        self._points_adjusted(
            points=points,
            reason=reason,
            operator=operator,
            corrects=corrects,
            lot=lot,
            allocations=allocations,
            debt_repaid=debt_repaid,
            programme_version=programme.version,
            at=at,
        )

    @event("PointsAdjusted")
    def _points_adjusted(
        self,
        points: int,
        reason: str,
        operator: str,
        corrects: str | None,
        lot: PointsLot | None,
        allocations: tuple[LotAllocation, ...],
        debt_repaid: int,
        programme_version: int,
        at: datetime,
    ) -> None:
        if lot is not None:
            self._add_lot(lot, lot.points - debt_repaid)
            self.debt -= debt_repaid
        self._take(allocations)
        self._totals["adjusted"] += points
        self._history.append(PointsMovement(at, "ADJUSTED", points - debt_repaid, reason))

    # ------------------------------------------------------------------ merge
    def absorb(self, other: Member, at: datetime) -> None:
        """Survivor side of a merge: carries the other member's lots over as they are.

        Call ``merge(survivor, absorbed, at)`` to do both sides.
        """
        self._check_active()
        if not isinstance(other, Member):
            raise InvalidArgument("can only absorb a Member", reason="INVALID_MEMBER")
        check_utc("at", at)
        other._check_active()
        if other.id == self.id:
            raise RuleViolation("a member cannot absorb itself", reason="SELF_MERGE")
        if other.brand != self.brand:
            raise RuleViolation("members of different brands", reason="BRAND_MISMATCH")
        lots = tuple(
            CarriedLot(
                lot=lot,
                remaining=remaining,
                order_paid_fen=other._order_paid.get(lot.reference, 0) if lot.source is LotSource.ORDER else 0,
                order_refunded_fen=other._order_refunded.get(lot.reference, 0) if lot.source is LotSource.ORDER else 0,
                order_reversed_points=other._order_reversed.get(lot.reference, 0)
                if lot.source is LotSource.ORDER
                else 0,
            )
            for lot, remaining in other.lots()
            if remaining > 0 or lot.source is LotSource.ORDER
        )
        self._member_absorbed(absorbed_id=other.id, lots=lots, debt=other.debt, tier_facts=tuple(other._facts), at=at)

    @event("MemberAbsorbed")
    def _member_absorbed(
        self, absorbed_id: UUID, lots: tuple[CarriedLot, ...], debt: int, tier_facts: tuple[TierFact, ...], at: datetime
    ) -> None:
        moved = 0
        for carried in lots:
            lot = carried.lot
            self._add_lot(lot, carried.remaining)
            moved += carried.remaining
            if lot.source is LotSource.ORDER and lot.reference not in self._order_lot:
                self._order_lot[lot.reference] = lot.lot_id
                self._order_paid[lot.reference] = carried.order_paid_fen
                self._order_refunded[lot.reference] = carried.order_refunded_fen
                self._order_reversed[lot.reference] = carried.order_reversed_points
                self.ever_paid = self.ever_paid or carried.order_paid_fen > 0
        self.debt += debt
        self._totals["transferred"] += moved - debt
        self._facts.extend(tier_facts)
        self.absorbed.append(absorbed_id)
        self._history.append(PointsMovement(at, "ABSORBED", moved, str(absorbed_id), debt))

    def merge_into(self, survivor_id: UUID, at: datetime) -> None:
        """Absorbed side of a merge: hands its lots over and refuses further commands."""
        self._check_active()
        check_uuid("survivor_id", survivor_id)
        check_utc("at", at)
        if survivor_id == self.id:
            raise RuleViolation("a member cannot merge into itself", reason="SELF_MERGE")
        moved = tuple(LotAllocation(lot.lot_id, r) for lot, r in self.lots() if r > 0)
        self._merged_into(survivor_id=survivor_id, lots=moved, debt=self.debt, at=at)

    @event("MergedInto")
    def _merged_into(self, survivor_id: UUID, lots: tuple[LotAllocation, ...], debt: int, at: datetime) -> None:
        self._take(lots)
        moved = sum(a.points for a in lots)
        self._totals["transferred"] -= moved - debt
        self.debt -= debt
        self.merged_into = survivor_id
        self._history.append(PointsMovement(at, "MERGED_OUT", -moved, str(survivor_id), -debt))

    # ------------------------------------------------------------------ tiers
    def evaluate_tier(self, programme: LoyaltyProgramme, at: datetime) -> Tier:
        """Recomputes the tier from the rolling window; records TierChanged only on change."""
        self._check_active()
        self._check_programme(programme)
        check_utc("at", at)
        paid, points = window_totals(self._facts, at - timedelta(days=programme.tier_window_days), at)
        qualified = qualified_tier(programme.tier_rules, paid, points, ever_paid=self.ever_paid)
        target, reason = next_tier(self.tier, qualified, programme.downgrade_policy, self.tier_floor)
        if target is not self.tier:
            self._tier_changed(
                from_tier=self.tier,
                to_tier=target,
                reason=reason,
                paid_fen_in_window=paid,
                points_in_window=points,
                programme_version=programme.version,
                at=at,
            )
        return self.tier

    @event("TierChanged")
    def _tier_changed(
        self,
        from_tier: Tier,
        to_tier: Tier,
        reason: TierChangeReason,
        paid_fen_in_window: int,
        points_in_window: int,
        programme_version: int,
        at: datetime,
    ) -> None:
        self.tier = to_tier

    def assign_tier_floor(self, tier: Tier | None, operator: str, reason: str, at: datetime) -> None:
        """Operator floor (e.g. VIP list); None removes it. Applied by the next evaluate_tier."""
        self._check_active()
        if tier is not None:
            check_enum("tier", tier, Tier)
        check_text("operator", operator, max_length=64)
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        check_utc("at", at)
        if tier == self.tier_floor:
            raise RuleViolation("tier floor unchanged", reason="TIER_FLOOR_UNCHANGED")
        self._tier_floor_assigned(tier=tier, operator=operator, reason=reason, at=at)

    @event("TierFloorAssigned")
    def _tier_floor_assigned(self, tier: Tier | None, operator: str, reason: str, at: datetime) -> None:
        self.tier_floor = tier

    # ------------------------------------------------------------------ referral (老带新)
    def accept_referrer(self, referrer_id: UUID, at: datetime) -> None:
        """On the invitee, when a referral is recorded after registration (e.g. a share link seen later).

        Only a member with no referrer and no paid order yet can still be someone's invitee:
        the referral reward is for bringing a *new* customer.
        """
        self._check_active()
        check_uuid("referrer_id", referrer_id)
        check_utc("at", at)
        if referrer_id == self.id:
            raise RuleViolation("a member cannot refer itself", reason="SELF_REFERRAL")
        if self.referred_by is not None:
            raise RuleViolation(
                "member already has a referrer", reason="ALREADY_REFERRED", referrer_id=self.referred_by
            )
        if self.first_paid_order is not None:
            raise RuleViolation("member already paid an order: no longer a new customer", reason="REFERRAL_TOO_LATE")
        self._referrer_accepted(referrer_id=referrer_id, at=at)

    @event("ReferrerAccepted")
    def _referrer_accepted(self, referrer_id: UUID, at: datetime) -> None:
        self.referred_by = referrer_id

    def record_referral(self, invitee_id: UUID, at: datetime, *, upline: tuple[UUID, ...] = ()) -> None:
        """On the referrer, when ``invitee_id`` registered with this member as referrer."""
        self._check_active()
        check_uuid("invitee_id", invitee_id)
        check_utc("at", at)
        if not isinstance(upline, tuple) or not all(isinstance(u, UUID) for u in upline):
            raise InvalidArgument("upline must be a tuple of member ids", reason="INVALID_ID", field="upline")
        if invitee_id == self.id:
            raise RuleViolation("a member cannot refer itself", reason="SELF_REFERRAL")
        if invitee_id in self._invitees:
            raise AlreadyExists("invitee already recorded", reason="REFERRAL_EXISTS", invitee_id=invitee_id)
        if invitee_id == self.referred_by or invitee_id in upline:
            raise RuleViolation("referral would form a cycle", reason="REFERRAL_CYCLE", invitee_id=invitee_id)
        self._referral_recorded(invitee_id=invitee_id, at=at)

    @event("ReferralRecorded")
    def _referral_recorded(self, invitee_id: UUID, at: datetime) -> None:
        self._invitees[invitee_id] = at

    @property
    def invitees(self) -> tuple[UUID, ...]:
        return tuple(self._invitees)

    def referral_pending(self, invitee_id: UUID) -> bool:
        """Invited by this member and neither rewarded nor forfeited yet."""
        return invitee_id in self._invitees and invitee_id not in self._rewarded

    def release_referral_reward(
        self, invitee_id: UUID, order_id: str, due_at: datetime, programme: LoyaltyProgramme, at: datetime
    ) -> PointsLot | None:
        """Rewards the referrer once the invitee's FIRST paid order is past its return window.

        The application passes the invitee's ``first_paid_order`` and that order's
        ``settle_due_at`` (fixed when it was paid) as ``due_at`` (and should skip
        it if that order was refunded). Beyond the period cap the reward is
        forfeited (ReferralRewardForfeited), a decision, so nobody retries it.
        Returns the reward lot, or None when forfeited.
        """
        self._check_active()
        check_uuid("invitee_id", invitee_id)
        check_text("order_id", order_id)
        check_utc("due_at", due_at)
        self._check_programme(programme)
        check_utc("at", at)
        if invitee_id not in self._invitees:
            raise NotFound("not an invitee of this member", reason="REFERRAL_NOT_FOUND", invitee_id=invitee_id)
        if invitee_id in self._rewarded:
            raise AlreadyExists("referral already settled", reason="REFERRAL_ALREADY_SETTLED", invitee_id=invitee_id)
        if at < due_at:
            raise RuleViolation(
                "first order still inside its return window", reason="REWARD_NOT_YET_DUE", due_at=due_at.isoformat()
            )
        period = period_key(programme.referral_cap_period, at)
        if self._rewards_per_period.get(period, 0) >= programme.referral_cap_per_period:
            self._referral_reward_forfeited(
                invitee_id=invitee_id,
                order_id=order_id,
                reason="REFERRAL_CAP_REACHED",
                period=period,
                programme_version=programme.version,
                at=at,
            )
            return None
        points = programme.referral_reward_points
        lot = self._new_lot(LotSource.REFERRAL, str(invitee_id), points, programme, at, pending=False)
        self._referral_rewarded(
            invitee_id=invitee_id, order_id=order_id, period=period, lot=lot, debt_repaid=min(self.debt, points), at=at
        )
        return lot

    @event("ReferralRewarded")
    def _referral_rewarded(
        self, invitee_id: UUID, order_id: str, period: str, lot: PointsLot, debt_repaid: int, at: datetime
    ) -> None:
        self._rewarded[invitee_id] = "REWARDED"
        self._rewards_per_period[period] = self._rewards_per_period.get(period, 0) + 1
        self._add_lot(lot, lot.points - debt_repaid)
        self.debt -= debt_repaid
        self._totals["earned"] += lot.points
        self._facts.append(TierFact(at=at, paid_fen=0, points_earned=lot.points))
        self._history.append(PointsMovement(at, "EARNED", lot.points, f"referral:{invitee_id}"))

    @event("ReferralRewardForfeited")
    def _referral_reward_forfeited(
        self, invitee_id: UUID, order_id: str, reason: str, period: str, programme_version: int, at: datetime
    ) -> None:
        self._rewarded[invitee_id] = "FORFEITED"

    # ------------------------------------------------------------------ guide binding (导购)
    def bind_guide(self, guide_id: UUID, store_id: UUID, programme: LoyaltyProgramme, at: datetime) -> None:
        """A guide added the customer on WeCom. The mode and protection period decide who keeps them."""
        self._check_active()
        check_uuid("guide_id", guide_id)
        check_uuid("store_id", store_id)
        self._check_programme(programme)
        check_utc("at", at)
        if self.guide_id == guide_id:
            raise AlreadyExists("already bound to this guide", reason="ALREADY_BOUND", guide_id=guide_id)
        if self.guide_id is not None:
            if programme.binding_mode is BindingMode.FIRST_GUIDE_KEEPS:
                raise RuleViolation("bound to another guide", reason="BOUND_TO_ANOTHER_GUIDE", guide_id=self.guide_id)
            assert self.bound_at is not None
            protected_until = self.bound_at + timedelta(days=programme.protection_days)
            if at < protected_until:
                raise RuleViolation(
                    "another guide's binding is protected",
                    reason="GUIDE_PROTECTION_ACTIVE",
                    guide_id=self.guide_id,
                    protected_until=protected_until.isoformat(),
                )
            self._guide_unbound(guide_id=self.guide_id, reason="REPLACED", programme_version=programme.version, at=at)
        self._guide_bound(guide_id=guide_id, store_id=store_id, programme_version=programme.version, at=at)
        if self.home_store_id != store_id:
            self._home_store_set(store_id=store_id, at=at)

    @event("GuideBound")
    def _guide_bound(self, guide_id: UUID, store_id: UUID, programme_version: int, at: datetime) -> None:
        self.guide_id = guide_id
        self.guide_store_id = store_id
        self.bound_at = at

    @event("GuideUnbound")
    def _guide_unbound(self, guide_id: UUID, reason: str, programme_version: int, at: datetime) -> None:
        self.guide_id = None
        self.guide_store_id = None
        self.bound_at = None

    @event("HomeStoreSet")
    def _home_store_set(self, store_id: UUID, at: datetime) -> None:
        self.home_store_id = store_id

    def unbind_guide(self, reason: str, programme: LoyaltyProgramme, at: datetime) -> None:
        """E.g. the customer deleted the guide in WeCom, or the guide released them."""
        self._check_active()
        check_text("reason", reason, max_length=MAX_REASON_LENGTH)
        self._check_programme(programme)
        check_utc("at", at)
        if self.guide_id is None:
            raise RuleViolation("no guide bound", reason="NOT_BOUND")
        self._guide_unbound(guide_id=self.guide_id, reason=reason, programme_version=programme.version, at=at)

    def set_home_store(self, store_id: UUID, at: datetime) -> None:
        """The customer picked a cloud store (云店) themselves."""
        self._check_active()
        check_uuid("store_id", store_id)
        check_utc("at", at)
        if self.home_store_id == store_id:
            raise RuleViolation("home store unchanged", reason="HOME_STORE_UNCHANGED")
        self._home_store_set(store_id=store_id, at=at)

    # ------------------------------------------------------------------ handover (离职继承/在职继承)
    def handovers_within(self, days: int, at: datetime) -> int:
        check_int("days", days, minimum=1)
        check_utc("at", at)
        since = at - timedelta(days=days)
        return sum(1 for t in self._handovers if since < t <= at)

    def can_be_handed_over(self, programme: LoyaltyProgramme, at: datetime) -> bool:
        self._check_programme(programme)
        return self.handovers_within(programme.handover_limit_days, at) < programme.handover_max_per_customer

    def hand_over(
        self, from_guide_id: UUID, to_guide_id: UUID, store_id: UUID, programme: LoyaltyProgramme, at: datetime
    ) -> None:
        """The receiving guide accepted this customer: move the binding (no protection check)."""
        self._check_active()
        check_uuid("from_guide_id", from_guide_id)
        check_uuid("to_guide_id", to_guide_id)
        check_uuid("store_id", store_id)
        self._check_programme(programme)
        check_utc("at", at)
        if self.guide_id != from_guide_id:
            raise RuleViolation(
                "customer is not bound to the giving guide", reason="NOT_BOUND_TO_GUIDE", guide_id=self.guide_id
            )
        if from_guide_id == to_guide_id:
            raise RuleViolation("cannot hand over to the same guide", reason="SAME_GUIDE")
        if not self.can_be_handed_over(programme, at):
            raise RuleViolation(
                "customer handed over too often",
                reason="HANDOVER_LIMIT_REACHED",
                limit=programme.handover_max_per_customer,
                days=programme.handover_limit_days,
            )
        self._customer_handed_over(
            from_guide_id=from_guide_id,
            to_guide_id=to_guide_id,
            store_id=store_id,
            programme_version=programme.version,
            at=at,
        )
        if self.home_store_id != store_id:
            self._home_store_set(store_id=store_id, at=at)

    @event("CustomerHandedOver")
    def _customer_handed_over(
        self, from_guide_id: UUID, to_guide_id: UUID, store_id: UUID, programme_version: int, at: datetime
    ) -> None:
        self.guide_id = to_guide_id
        self.guide_store_id = store_id
        self.bound_at = at
        self._handovers.append(at)


def merge(survivor: Member, absorbed: Member, at: datetime) -> None:
    """Both sides of a merge; the application saves both aggregates in one transaction."""
    survivor.absorb(absorbed, at)
    absorbed.merge_into(survivor.id, at)


# Everything member (and identity index) events and state carry, including the
# types defined in domain.points, domain.tiers and domain.identity, so registering
# this module's VALUE_TYPES is enough; duplicates across modules are harmless.
VALUE_TYPES = (*_POINTS_VALUE_TYPES, *_TIERS_VALUE_TYPES, *_IDENTITY_VALUE_TYPES, FirstPaidOrder)
