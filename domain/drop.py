"""Limited drops (限量发售): register, a verifiable draw, a purchase window, unclaimed units passed on.

Aggregates: one ``Drop`` (the rules, the commitment, the draw and the offers) and one
``DropEntry`` per member and drop (id ``entry_id(drop_id, member_id)``). Registration is
the hot spot (thousands of members in the first minutes), so it never touches the
``Drop``: each entry is its own aggregate, created once (a second registration finds
it: idempotent), and an invitation bonus changes only the inviter's entry. The draw
takes every entry (gathered by the application from the log) and pins them in the
``Drawn`` event by count and digest.

Verifiable draw (commit-reveal): at creation the drop records ``commitment`` =
SHA-256 of a secret seed the *application* supplies (the domain makes no randomness);
the seed stays secret until the draw, which reveals it (``Drawn.seed``, checked
against the commitment). The draw order is a pure function of the seed and the
entries (``draw_order``): each ticket n of member m gets the key SHA-256(seed ‖ m ‖ n),
a member's best key is their smallest, members are ranked by best key. More tickets,
more chances of a small key. Winners are the ranking's head, each offered up to the
per-member limit until the pool's units run out; when an offer lapses unclaimed after
the purchase window its units go to the next members in the same order. So anyone
holding the events recomputes every offer.

Invitation bonus (约请好友提升中签几率): an invitee who registers in the drop adds
``tickets_per_invite`` to the inviter's entry, up to ``invite_ticket_cap``, only if the
invitee is *genuinely new*: referred by the inviter in the referral programme (which
already refuses self-referral and cycles), a member since the drop was created, never
paid an order; and the rule is checked again here (no self-invite, no cycle through the
inviter's upline, one bonus per invitee).

Early access (会员提早选购): a tier may register ``minutes`` before the registration
window opens (higher tiers earlier); everyone's registration closes together.

Claim (the purchase): a winner claims within the purchase window, and the claim places an
order for the offered units at the drop's ``price_fen`` in the same unit of work (the
application's ``DropService.claim``): the offer records the order (``Offer.order_id``) and
the units stay held by that order. The drop's units are an *allotment* set aside when the
drop is created, not store stock: the order reserves no ``StoreStock`` (taking the unit
from open stock again would count it twice and let a walk-in sale or an ordinary online
order take a unit a winner holds). If the order is cancelled or its payment times out,
``release_claim`` (in the cancellation's unit of work) lapses the offer and marks its units
returned; the next pass-on offers them to the next members in draw order, as for an offer
left unclaimed. A paid order keeps its units for good (a refund returns money, not units).
So at any moment the units of a pool are offered at most once: free + held by live offers
(unclaimed or claimed with a live order) = the pool's units (``check_units``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.attribution import AttributionSource, GuideCredit
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import Location, haversine_m, to_wgs84
from domain.loyalty_args import check_brand
from domain.routing import (
    CandidateReport,
    ExplanationStep,
    RoutingDecision,
    StepOutcome,
    StepReason,
    StoreSnapshot,
)
from domain.store_values import FulfilmentMode, require_int, require_text, require_utc, require_uuid
from domain.tiers import Tier

MAX_UNITS = 10_000_000
MAX_ORDER_FEN = 10**12  # an order's bound: a winner's order (per_member_limit x price_fen) stays within it
MAX_PER_MEMBER = 100_000  # an order line's bound on quantity
_ENTRY_NAMESPACE = uuid5(NAMESPACE_URL, "loyalty:drop-entry")


def entry_id(drop_id: UUID, member_id: UUID) -> UUID:
    return uuid5(_ENTRY_NAMESPACE, f"{drop_id}:{member_id}")


def commitment_of(seed: bytes) -> str:
    """What the drop records at creation: SHA-256 of the secret seed, hex."""
    if not isinstance(seed, bytes) or len(seed) < 16:
        raise InvalidArgument("a seed is at least 16 bytes", reason="INVALID_SEED")
    return hashlib.sha256(seed).hexdigest()


@dataclass(frozen=True, slots=True)
class DropPool:
    """Units drawn together: online (``store_id`` None) or reserved for collection at one store."""

    store_id: UUID | None
    units: int


@dataclass(frozen=True, slots=True)
class EarlyAccess:
    tier: Tier
    minutes: int  # may register this long before the window opens


@dataclass(frozen=True, slots=True)
class EntryTickets:
    """One entry as the draw sees it."""

    member_id: UUID
    store_id: UUID | None  # the pool
    tickets: int


@dataclass(frozen=True, slots=True)
class Offer:
    """A winner's purchase reservation: ``units`` to buy before ``expires_at``."""

    member_id: UUID
    store_id: UUID | None
    units: int
    expires_at: datetime
    claimed: bool = False
    lapsed: bool = False
    order_id: UUID | None = None  # the order the claim placed (kept after it was cancelled, for the record)

    @property
    def holding_order(self) -> UUID | None:
        """The order holding the offered units: the live claim's. None before a claim, and once the claim's order
        was cancelled or timed out unpaid (the units went back to the drop; ``order_id`` keeps it for the record)."""
        return self.order_id if self.claimed else None


def ticket_key(seed: bytes, member_id: UUID, n: int) -> bytes:
    return hashlib.sha256(seed + member_id.bytes + n.to_bytes(4, "big")).digest()


_FIRST_TICKET = (0).to_bytes(4, "big")


def draw_order(seed: bytes, entries: Iterable[EntryTickets]) -> list[UUID]:
    """Members ranked by their smallest ticket key (``ticket_key``; ties, never seen in practice, by member id
    bytes). Every entry has at least one ticket (the draw checks): its first key is the starting best."""
    sha256 = hashlib.sha256
    keyed: list[tuple[bytes, bytes, UUID]] = []
    append = keyed.append
    for e in entries:
        member_id = e.member_id
        member = member_id.bytes
        best = sha256(seed + member + _FIRST_TICKET).digest()
        for n in range(1, e.tickets):
            digest = sha256(seed + member + n.to_bytes(4, "big")).digest()
            if digest < best:
                best = digest
        append((best, member, member_id))
    keyed.sort()
    return [m for _, _, m in keyed]


def entries_digest(entries: Iterable[EntryTickets]) -> str:
    """SHA-256 over the entries in member order: pins exactly what was drawn.

    One line per entry, ``<member hex>:<pool store hex or ->:<tickets>``; each line starts with the member's
    fixed-width hex, so sorting the lines as text is sorting them by member."""
    lines = [
        f"{e.member_id.int:032x}:{'-' if e.store_id is None else f'{e.store_id.int:032x}'}:{e.tickets}\n"
        for e in entries
    ]
    lines.sort()
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class InviteeFacts:
    """What the application knows of an invitee, for the anti-abuse rules."""

    invitee_id: UUID
    referred_by: UUID | None
    member_since: datetime
    has_paid_order: bool
    inviter_upline: tuple[UUID, ...] = ()  # the inviter's referrers, nearest first


def pool_decision(
    order_id: UUID,
    store: StoreSnapshot,
    customer: Location,
    at: datetime,
    *,
    guide_credit: GuideCredit | None = None,
    programme_version: int = 1,
) -> RoutingDecision:
    """A store pool's order: collected (PICKUP) at the pool's store, which books it, whatever routing would pick.

    The units were allotted to that store when the drop was created, so the winner collects there; the
    store still accepts the order (``CloudStore.accept_order``: open, taking online orders, capacity) in the
    claim's unit of work. Attributed as the entrance the order came through (the drop's pool names the store).
    """
    if not isinstance(store, StoreSnapshot) or not isinstance(customer, Location):
        raise InvalidArgument("a pool decision takes a StoreSnapshot and a Location", reason="INVALID_ARGUMENT")
    where = to_wgs84(customer)
    d = round(haversine_m(where.lat, where.lng, store.lat, store.lng))
    return RoutingDecision(
        require_uuid(order_id, "order_id"),
        require_utc(at),
        FulfilmentMode.PICKUP,
        store.store_id,
        store.dealer_id,
        d,
        AttributionSource.ENTRY_CONTEXT,
        guide_credit,
        (CandidateReport(store.store_id, store.dealer_id, d),),
        (ExplanationStep(AttributionSource.ENTRY_CONTEXT, StepOutcome.CHOSEN, StepReason.DROP_POOL, store.store_id),),
        programme_version=require_int(programme_version, "programme_version", 1),
    )


class Drop(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Drawn: ClassVar[DecoratedEvent]
        Claimed: ClassVar[DecoratedEvent]
        ClaimReleased: ClassVar[DecoratedEvent]
        PassedOn: ClassVar[DecoratedEvent]

    price_fen: int = 0  # class default: drops created before drops had a price (they cannot be claimed)
    returned: tuple[UUID, ...] = ()  # class default: members whose claim's order was cancelled, not yet passed on

    @classmethod
    def create(
        cls,
        *,
        brand: str,
        name: str,
        sku: str,
        pools: Sequence[DropPool],
        registration_opens_at: datetime,
        registration_closes_at: datetime,
        early_access: Sequence[EarlyAccess] = (),
        purchase_window_minutes: int,
        per_member_limit: int,
        tickets_per_invite: int = 0,
        invite_ticket_cap: int = 0,
        price_fen: int,
        commitment: str,
        at: datetime,
        id: UUID | None = None,
    ) -> Drop:
        pools = tuple(pools)
        if not pools or not all(isinstance(p, DropPool) for p in pools):
            raise InvalidArgument("a drop has at least one pool of units", reason="FIELD_REQUIRED", field="pools")
        if len({p.store_id for p in pools}) != len(pools):
            raise InvalidArgument("a pool repeats", reason="DUPLICATE_POOL", field="pools")
        for p in pools:
            require_int(p.units, "units", 1, MAX_UNITS)
            if p.store_id is not None:
                require_uuid(p.store_id, "store_id")
        early = tuple(early_access)
        if not all(isinstance(e, EarlyAccess) and isinstance(e.tier, Tier) for e in early) or len(
            {e.tier for e in early}
        ) != len(early):
            raise InvalidArgument("early access names each tier once", reason="INVALID_EARLY_ACCESS")
        for e in early:
            require_int(e.minutes, "early_access.minutes", 0, 30 * 24 * 60)
        require_utc(registration_opens_at, "registration_opens_at")
        require_utc(registration_closes_at, "registration_closes_at")
        if registration_closes_at <= registration_opens_at:
            raise InvalidArgument(
                "registration closes after it opens", reason="OUT_OF_RANGE", field="registration_closes_at"
            )
        if (
            not isinstance(commitment, str)
            or len(commitment) != 64
            or any(c not in "0123456789abcdef" for c in commitment)
        ):
            raise InvalidArgument("the commitment is a SHA-256 in hex", reason="INVALID_COMMITMENT")
        require_int(per_member_limit, "per_member_limit", 1, MAX_PER_MEMBER)
        require_int(price_fen, "price_fen", 1, MAX_ORDER_FEN)
        if price_fen * per_member_limit > MAX_ORDER_FEN:
            raise InvalidArgument(
                "a winner's order (per_member_limit x price_fen) would exceed an order's bound",
                reason="OUT_OF_RANGE",
                field="price_fen",
            )
        return cls._create(
            cls.Created,
            id=require_uuid(id, "id") if id is not None else None,
            brand=check_brand(brand),
            name=require_text(name, "name"),
            sku=require_text(sku, "sku", 64),
            pools=pools,
            registration_opens_at=registration_opens_at,
            registration_closes_at=registration_closes_at,
            early_access=early,
            purchase_window_minutes=require_int(purchase_window_minutes, "purchase_window_minutes", 1, 30 * 24 * 60),
            per_member_limit=per_member_limit,
            tickets_per_invite=require_int(tickets_per_invite, "tickets_per_invite", 0, 1000),
            invite_ticket_cap=require_int(invite_ticket_cap, "invite_ticket_cap", 0, 100_000),
            commitment=commitment,
            at=require_utc(at),
            price_fen=price_fen,
        )

    class Created(Aggregate.Created):
        brand: str
        name: str
        sku: str
        pools: tuple[DropPool, ...]
        registration_opens_at: datetime
        registration_closes_at: datetime
        early_access: tuple[EarlyAccess, ...]
        purchase_window_minutes: int
        per_member_limit: int
        tickets_per_invite: int
        invite_ticket_cap: int
        commitment: str
        at: datetime
        price_fen: int = 0  # 0: created before drops had a price

    @event(Created)
    def __init__(
        self,
        brand: str,
        name: str,
        sku: str,
        pools: tuple[DropPool, ...],
        registration_opens_at: datetime,
        registration_closes_at: datetime,
        early_access: tuple[EarlyAccess, ...],
        purchase_window_minutes: int,
        per_member_limit: int,
        tickets_per_invite: int,
        invite_ticket_cap: int,
        commitment: str,
        at: datetime,
        price_fen: int = 0,
    ) -> None:
        if price_fen:  # else the class default: a drop created before drops had a price
            self.price_fen = price_fen
        self.brand = brand
        self.name = name
        self.sku = sku
        self.pools = pools
        self.registration_opens_at = registration_opens_at
        self.registration_closes_at = registration_closes_at
        self.early_access = early_access
        self.purchase_window_minutes = purchase_window_minutes
        self.per_member_limit = per_member_limit
        self.tickets_per_invite = tickets_per_invite
        self.invite_ticket_cap = invite_ticket_cap
        self.commitment = commitment
        self.created_at = at
        self.seed: str | None = None  # revealed at the draw (hex)
        self.digest: str | None = None
        self.entry_count = 0
        self.offers: dict[UUID, Offer] = {}
        self.cursors: dict[UUID | None, int] = {}  # per pool: members of its draw order offered so far

    # --- registration rules (checked by each entry) -------------------------------------

    def opens_for(self, tier: Tier) -> datetime:
        """When a member of ``tier`` may register: earlier for a tier with early access (or a lower tier's)."""
        minutes = max((e.minutes for e in self.early_access if tier.rank >= e.tier.rank), default=0)
        return self.registration_opens_at - timedelta(minutes=minutes)

    def check_registration(self, tier: Tier, store_id: UUID | None, at: datetime) -> None:
        require_utc(at)
        if not isinstance(tier, Tier):
            raise InvalidArgument("tier must be a Tier", reason="INVALID_ARGUMENT", field="tier")
        if at < self.opens_for(tier):
            raise RuleViolation(
                "registration is not open for this tier yet",
                reason="REGISTRATION_NOT_OPEN",
                opens_at=self.opens_for(tier).isoformat(),
                tier=tier.value,
            )
        if at >= self.registration_closes_at or self.drawn:
            raise RuleViolation("registration has closed", reason="REGISTRATION_CLOSED")
        if store_id not in {p.store_id for p in self.pools}:
            raise RuleViolation(
                "this drop has no units for that store", reason="NO_SUCH_POOL", store_id=store_id or "online"
            )

    # --- the draw -----------------------------------------------------------------------

    @property
    def drawn(self) -> bool:
        return self.seed is not None

    def _pool_orders(self, seed: bytes, entries: Sequence[EntryTickets]) -> dict[UUID | None, list[UUID]]:
        return {p.store_id: draw_order(seed, (e for e in entries if e.store_id == p.store_id)) for p in self.pools}

    def _offer_from(
        self,
        orders: dict[UUID | None, list[UUID]],
        free: dict[UUID | None, int],
        cursors: dict[UUID | None, int],
        at: datetime,
        offered: set[UUID],
    ) -> list[Offer]:
        """Offers to the next members in each pool's order while units are free (a member is offered once)."""
        out = []
        expires = at + timedelta(minutes=self.purchase_window_minutes)
        for pool, order in orders.items():
            i = cursors.get(pool, 0)
            while free[pool] > 0 and i < len(order):
                member = order[i]
                i += 1
                if member in offered:
                    continue
                units = min(self.per_member_limit, free[pool])
                free[pool] -= units
                offered.add(member)
                out.append(Offer(member, pool, units, expires))
            cursors[pool] = i
        return out

    def _free(self) -> dict[UUID | None, int]:
        taken: dict[UUID | None, int] = {}
        for o in self.offers.values():
            if not o.lapsed:
                taken[o.store_id] = taken.get(o.store_id, 0) + o.units
        return {p.store_id: p.units - taken.get(p.store_id, 0) for p in self.pools}

    def draw(self, seed: bytes, entries: Sequence[EntryTickets], at: datetime) -> None:
        """Reveal the seed and offer the units to the head of each pool's draw order."""
        require_utc(at)
        if self.drawn:
            raise RuleViolation("the drop was drawn already", reason="ALREADY_DRAWN")
        if at < self.registration_closes_at:
            raise RuleViolation(
                "registration is still open",
                reason="REGISTRATION_OPEN",
                closes_at=self.registration_closes_at.isoformat(),
            )
        if commitment_of(seed) != self.commitment:
            raise InvalidArgument("the seed does not match the drop's commitment", reason="SEED_MISMATCH")
        entries = tuple(entries)
        if len({e.member_id for e in entries if type(e) is EntryTickets and e.tickets >= 1}) != len(entries):
            raise InvalidArgument("entries: one per member, at least one ticket each", reason="INVALID_ENTRIES")
        cursors: dict[UUID | None, int] = {}
        offers = self._offer_from(self._pool_orders(seed, entries), self._free(), cursors, at, set())
        self._drawn(
            seed=seed.hex(),
            digest=entries_digest(entries),
            entry_count=len(entries),
            offers=tuple(offers),
            cursors=tuple((k, v) for k, v in cursors.items()),
            at=at,
        )

    @event("Drawn")
    def _drawn(
        self,
        seed: str,
        digest: str,
        entry_count: int,
        offers: tuple[Offer, ...],
        cursors: tuple[tuple[UUID | None, int], ...],
        at: datetime,
    ) -> None:
        self.seed, self.digest, self.entry_count = seed, digest, entry_count
        self.offers = {o.member_id: o for o in offers}
        self.cursors = dict(cursors)

    def check_claim(self, member_id: UUID, at: datetime) -> Offer:
        """The offer a claim by ``member_id`` now would take (raises why not): checked before the order is built."""
        require_utc(at)
        offer = self.offers.get(member_id)
        if offer is None or offer.lapsed:
            raise RuleViolation("no purchase reservation for this member", reason="NO_OFFER", member_id=member_id)
        if offer.claimed:
            raise RuleViolation(
                f"the offer was already claimed: its order is {offer.order_id} (pay it, or cancel it to let the "
                "units go to the next in draw order)",
                reason="OFFER_CLAIMED",
                member_id=member_id,
                order_id=offer.order_id or "",
            )
        if at >= offer.expires_at:
            raise RuleViolation(
                "the purchase window has closed", reason="OFFER_EXPIRED", expires_at=offer.expires_at.isoformat()
            )
        if not self.price_fen:
            raise RuleViolation(
                "this drop was created without a price: it cannot be bought", reason="DROP_HAS_NO_PRICE"
            )
        return offer

    def claim(self, member_id: UUID, order_id: UUID, at: datetime) -> Offer:
        """The winner buys within the purchase window: ``order_id`` (placed in the same unit of work, for
        ``offer.units`` at ``price_fen``, payable until ``offer.expires_at``) holds the offered units."""
        self.check_claim(member_id, at)
        self._claimed(member_id=member_id, at=at, order_id=require_uuid(order_id, "order_id"))
        return self.offers[member_id]

    @event("Claimed")
    def _claimed(self, member_id: UUID, at: datetime, order_id: UUID | None = None) -> None:
        # order_id None: a claim recorded before claims placed orders
        o = self.offers[member_id]
        self.offers = {**self.offers, member_id: replace(o, claimed=True, order_id=order_id)}

    def claim_of(self, order_id: UUID) -> Offer | None:
        """The live claim ``order_id`` holds (None: none, or it was released)."""
        for o in self.offers.values():
            if o.order_id == order_id and o.claimed:
                return o
        return None

    def release_claim(self, order_id: UUID, reason: str, at: datetime) -> bool:
        """The claim's order was cancelled (by the customer, or its payment timed out) before it was paid: the
        offer lapses and its units go back to the drop, for the next pass-on to offer in draw order. False (and
        nothing recorded) when ``order_id`` holds no live claim here: a cancellation is never refused for it."""
        require_uuid(order_id, "order_id")
        require_text(reason, "reason")
        require_utc(at)
        offer = self.claim_of(order_id)
        if offer is None:
            return False
        self._claim_released(member_id=offer.member_id, order_id=order_id, reason=reason, at=at)
        return True

    @event("ClaimReleased")
    def _claim_released(self, member_id: UUID, order_id: UUID, reason: str, at: datetime) -> None:
        o = self.offers[member_id]
        self.offers = {**self.offers, member_id: replace(o, claimed=False, lapsed=True)}
        self.returned = (*self.returned, member_id)

    def check_units(self) -> None:
        """Invariant (property-tested): per pool, the units of live offers (not lapsed) never exceed its units,
        and each member holds at most one offer."""
        free = self._free()
        assert all(0 <= free[p.store_id] <= p.units for p in self.pools), f"units over-offered: {free}"
        assert all(o.units >= 1 for o in self.offers.values())

    def lapsed_offers(self, at: datetime) -> tuple[UUID, ...]:
        return tuple(o.member_id for o in self.offers.values() if not o.claimed and not o.lapsed and at >= o.expires_at)

    def to_pass_on(self, at: datetime) -> bool:
        """Whether a pass-on has units to offer: offers lapsed unclaimed, or claims whose order was cancelled."""
        return bool(self.returned) or bool(self.lapsed_offers(at))

    def pass_on(self, entries: Sequence[EntryTickets], at: datetime) -> tuple[Offer, ...]:
        """Offers unclaimed past their window lapse; their units, and those of claims whose order was cancelled
        (``returned``), go to the next members in draw order.

        ``entries`` must be exactly the drawn ones (checked by digest): the order is recomputed, not stored.
        """
        require_utc(at)
        if not self.drawn:
            raise RuleViolation("the drop has not been drawn", reason="NOT_DRAWN")
        lapsed = self.lapsed_offers(at)
        if not lapsed and not self.returned:
            return ()
        entries = tuple(entries)
        if entries_digest(entries) != self.digest:
            raise InvalidArgument("entries differ from the drawn ones", reason="ENTRIES_MISMATCH")
        assert self.seed is not None
        free = self._free()  # the returned claims' offers are lapsed already: their units are free
        for m in lapsed:
            o = self.offers[m]
            free[o.store_id] += o.units
        cursors = dict(self.cursors)
        offers = self._offer_from(
            self._pool_orders(bytes.fromhex(self.seed), entries), free, cursors, at, set(self.offers)
        )
        self._passed_on(lapsed=lapsed + self.returned, offers=tuple(offers), cursors=tuple(cursors.items()), at=at)
        return tuple(offers)

    @event("PassedOn")
    def _passed_on(
        self,
        lapsed: tuple[UUID, ...],
        offers: tuple[Offer, ...],
        cursors: tuple[tuple[UUID | None, int], ...],
        at: datetime,
    ) -> None:
        updated = dict(self.offers)
        for m in lapsed:  # unclaimed past the window, or a released claim's (lapsed already, its order kept)
            updated[m] = replace(updated[m], claimed=False, lapsed=True)
        for o in offers:
            updated[o.member_id] = o
        self.offers = updated
        self.cursors = dict(cursors)
        if self.returned:
            self.returned = ()


class DropEntry(Aggregate):
    """One member's registration in one drop, and the bonus tickets their invitees brought."""

    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Registered: ClassVar[DecoratedEvent]
        BonusGranted: ClassVar[DecoratedEvent]

    @classmethod
    def register(
        cls, *, drop: Drop, member_id: UUID, tier: Tier, store_id: UUID | None = None, at: datetime
    ) -> DropEntry:
        drop.check_registration(tier, store_id, at)
        return cls._create(
            cls.Registered,
            id=entry_id(drop.id, require_uuid(member_id, "member_id")),
            drop_id=drop.id,
            brand=drop.brand,
            member_id=member_id,
            store_id=store_id,
            tier=tier,
            at=at,
        )

    @event("Registered")
    def __init__(
        self, drop_id: UUID, brand: str, member_id: UUID, store_id: UUID | None, tier: Tier, at: datetime
    ) -> None:
        self.drop_id = drop_id
        self.brand = brand
        self.member_id = member_id
        self.store_id = store_id
        self.tier = tier
        self.registered_at = at
        self.bonus = 0
        self.invitees: tuple[UUID, ...] = ()

    @property
    def tickets(self) -> int:
        return 1 + self.bonus

    def as_drawn(self) -> EntryTickets:
        return EntryTickets(self.member_id, self.store_id, self.tickets)

    def check_invitee(self, drop: Drop, facts: InviteeFacts) -> str | None:
        """Why this invitee brings no bonus (None: it does). The referral programme's rules, checked again."""
        if facts.invitee_id == self.member_id:
            return "SELF_INVITE"
        if facts.invitee_id in facts.inviter_upline:
            return "INVITE_CYCLE"
        if facts.referred_by != self.member_id:
            return "NOT_INVITED_BY_THIS_MEMBER"
        if facts.has_paid_order or facts.member_since < drop.created_at:
            return "NOT_A_NEW_MEMBER"
        if facts.invitee_id in self.invitees:
            return "ALREADY_COUNTED"
        if self.bonus >= drop.invite_ticket_cap or drop.tickets_per_invite == 0:
            return "INVITE_CAP_REACHED"
        return None

    def grant_bonus(self, drop: Drop, facts: InviteeFacts, at: datetime) -> bool:
        """The invitee registered in the drop: bonus tickets if the rules allow (False: none, by rule)."""
        require_utc(at)
        if not isinstance(facts, InviteeFacts):
            raise InvalidArgument("facts must be InviteeFacts", reason="INVALID_ARGUMENT")
        if drop.id != self.drop_id:
            raise InvalidArgument("another drop", reason="INVALID_ARGUMENT")
        if self.check_invitee(drop, facts) is not None:
            return False
        tickets = min(drop.tickets_per_invite, drop.invite_ticket_cap - self.bonus)
        self._bonus(invitee_id=facts.invitee_id, tickets=tickets, at=at)
        return True

    @event("BonusGranted")
    def _bonus(self, invitee_id: UUID, tickets: int, at: datetime) -> None:
        self.bonus += tickets
        self.invitees = (*self.invitees, invitee_id)


VALUE_TYPES = (DropPool, EarlyAccess, EntryTickets, Offer, Tier)
