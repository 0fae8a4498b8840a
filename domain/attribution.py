"""Attribution (业绩归属): which store an online order belongs to, and which guide is credited.

How precedence meets routing: the attributed store IS the store that fulfils
the order and books its revenue (its dealer at order time). Each source in the
brand's precedence names at most one store (the QR-code store, the bound
guide's store, the member's home store) or, for NEAREST, the nearest eligible
one. A named store wins only if it is eligible for this order (open, online,
mode, hours, radius, capacity); otherwise the router notes why and falls down
the list. So precedence never sends an order to a store that cannot serve it.

Dual credit (业绩双计) is separate from revenue: when a guide drove the order
(a share link, or the member's bound guide), the guide and the guide's store get
performance credit even if another store fulfils it. Revenue is booked once, to
the fulfilling store's dealer; the guide credit carries no money.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from domain.errors import InvalidArgument


class AttributionSource(str, Enum):
    ENTRY_CONTEXT = "ENTRY_CONTEXT"  # the store QR scanned / the guide's share link
    BOUND_GUIDE_STORE = "BOUND_GUIDE_STORE"  # the store of the member's WeCom-bound guide
    HOME_STORE = "HOME_STORE"  # the member's home (registration) store
    NEAREST = "NEAREST"  # 就近分配


DEFAULT_PRECEDENCE = (
    AttributionSource.ENTRY_CONTEXT,
    AttributionSource.BOUND_GUIDE_STORE,
    AttributionSource.HOME_STORE,
    AttributionSource.NEAREST,
)


class EntryKind(str, Enum):
    NONE = "NONE"
    STORE_QR = "STORE_QR"
    GUIDE_SHARE = "GUIDE_SHARE"


@dataclass(frozen=True, slots=True)
class EntryContext:
    """How the customer entered the mini-program for this order.

    STORE_QR names ``store_id``; GUIDE_SHARE names ``guide_id`` and the guide's
    store as ``store_id`` (resolved by the application when the link is opened).
    """

    kind: EntryKind = EntryKind.NONE
    store_id: UUID | None = None
    guide_id: UUID | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EntryKind):
            raise InvalidArgument("entry kind must be an EntryKind", reason="INVALID_ENTRY_CONTEXT")
        for name in ("store_id", "guide_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, UUID):
                raise InvalidArgument(f"{name} must be a UUID", reason="INVALID_ENTRY_CONTEXT")
        needs_store = self.kind is not EntryKind.NONE
        needs_guide = self.kind is EntryKind.GUIDE_SHARE
        if needs_store != (self.store_id is not None) or needs_guide != (self.guide_id is not None):
            raise InvalidArgument(
                "NONE takes no ids, STORE_QR takes store_id, GUIDE_SHARE takes guide_id and store_id",
                reason="INVALID_ENTRY_CONTEXT",
                kind=self.kind.value,
            )

    @classmethod
    def none(cls) -> EntryContext:
        return cls()

    @classmethod
    def store_qr(cls, store_id: UUID) -> EntryContext:
        return cls(EntryKind.STORE_QR, store_id=store_id)

    @classmethod
    def guide_share(cls, guide_id: UUID, guide_store_id: UUID) -> EntryContext:
        return cls(EntryKind.GUIDE_SHARE, store_id=guide_store_id, guide_id=guide_id)


@dataclass(frozen=True, slots=True)
class GuideRef:
    """A member's bound guide (导购) and the store that guide works in now (looked up at order time)."""

    guide_id: UUID
    store_id: UUID

    def __post_init__(self) -> None:
        if not isinstance(self.guide_id, UUID) or not isinstance(self.store_id, UUID):
            raise InvalidArgument("guide_id and store_id must be UUIDs", reason="INVALID_GUIDE")


class GuideCreditSource(str, Enum):
    GUIDE_SHARE = "GUIDE_SHARE"
    BOUND_GUIDE = "BOUND_GUIDE"


@dataclass(frozen=True, slots=True)
class GuideCredit:
    """Performance (not revenue) credit for the guide who drove the order, and their store."""

    guide_id: UUID
    guide_store_id: UUID
    source: GuideCreditSource


DEFAULT_PICKUP_MAX_DISTANCE_M = 10_000  # nobody is sent 64 km to collect an order
MAX_PICKUP_DISTANCE_M = 1_000_000


class StockFallback(str, Enum):
    """What routing does when no eligible store holds every line of an order (stock-tracked SKUs)."""

    UNALLOCATED = "UNALLOCATED"  # leave it unallocated: the brand's ``fallback_target`` serves it
    NEAREST_IN_STOCK = "NEAREST_IN_STOCK"  # the nearest store holding every line, within ``stock_max_distance_m``
    SPLIT = "SPLIT"  # the fewest stores that between them hold every line (each part its own store and dealer)


@dataclass(frozen=True, slots=True)
class AttributionPolicy:
    """A brand's tunable routing rules (a value the programme can hold).

    ``fallback_target`` names where unallocatable orders go (e.g. the brand's
    own online store); ``max_distance_m`` bounds every candidate's distance
    (0 = unlimited; delivery is further bound by each store's radius);
    ``tie_tolerance_m`` makes near-equal distances share orders by rotation.

    Eligibility rules for the fulfilment modes: ``pickup_max_distance_m`` is
    how far a customer is sent to collect an order (default 10 km, 0 =
    unlimited; a store beyond it is rejected as BEYOND_PICKUP_DISTANCE).
    Delivery respects the store's opening hours (OUTSIDE_OPENING_HOURS) unless
    ``delivery_ignores_opening_hours`` (for brands whose stores take delivery
    orders around the clock to prepare later). Pickup and in-store orders
    always respect them.
    """

    precedence: tuple[AttributionSource, ...] = DEFAULT_PRECEDENCE
    fallback_target: str = "BRAND_ONLINE_STORE"
    credit_bound_guide: bool = True
    max_distance_m: int = 0
    tie_tolerance_m: int = 1
    pickup_max_distance_m: int = DEFAULT_PICKUP_MAX_DISTANCE_M
    delivery_ignores_opening_hours: bool = False
    stock_fallback: StockFallback = StockFallback.UNALLOCATED
    stock_max_distance_m: int = 20_000  # NEAREST_IN_STOCK / SPLIT look no farther (0 = unlimited)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.precedence, tuple)
            or not self.precedence
            or not all(isinstance(s, AttributionSource) for s in self.precedence)
            or len(set(self.precedence)) != len(self.precedence)
        ):
            raise InvalidArgument(
                "precedence must be a non-empty tuple of distinct AttributionSource", reason="INVALID_POLICY"
            )
        if not isinstance(self.fallback_target, str) or not self.fallback_target:
            raise InvalidArgument("fallback_target must be a non-empty string", reason="INVALID_POLICY")
        if not isinstance(self.credit_bound_guide, bool):
            raise InvalidArgument("credit_bound_guide must be a bool", reason="INVALID_POLICY")
        if isinstance(self.max_distance_m, bool) or not isinstance(self.max_distance_m, int) or self.max_distance_m < 0:
            raise InvalidArgument("max_distance_m must be a non-negative int", reason="INVALID_POLICY")
        if (
            isinstance(self.tie_tolerance_m, bool)
            or not isinstance(self.tie_tolerance_m, int)
            or not (0 <= self.tie_tolerance_m <= 1000)
        ):
            raise InvalidArgument("tie_tolerance_m must be an int within [0, 1000]", reason="INVALID_POLICY")
        if (
            isinstance(self.pickup_max_distance_m, bool)
            or not isinstance(self.pickup_max_distance_m, int)
            or not (0 <= self.pickup_max_distance_m <= MAX_PICKUP_DISTANCE_M)
        ):
            raise InvalidArgument(
                f"pickup_max_distance_m must be an int within [0, {MAX_PICKUP_DISTANCE_M}]", reason="INVALID_POLICY"
            )
        if not isinstance(self.delivery_ignores_opening_hours, bool):
            raise InvalidArgument("delivery_ignores_opening_hours must be a bool", reason="INVALID_POLICY")
        if not isinstance(self.stock_fallback, StockFallback):
            raise InvalidArgument("stock_fallback must be a StockFallback", reason="INVALID_POLICY")
        if (
            isinstance(self.stock_max_distance_m, bool)
            or not isinstance(self.stock_max_distance_m, int)
            or not (0 <= self.stock_max_distance_m <= 2_000_000)
        ):
            raise InvalidArgument("stock_max_distance_m must be an int within [0, 2000000]", reason="INVALID_POLICY")


def guide_credit_for(
    entry: EntryContext,
    bound_guide: GuideRef | None,
    policy: AttributionPolicy,
    departed: frozenset[UUID] = frozenset(),
) -> GuideCredit | None:
    """The share link's guide wins (they drove this order); else the bound guide if the brand credits them.

    A guide in ``departed`` (who has left) is never credited: a guide earns nothing after leaving.
    """
    if entry.kind is EntryKind.GUIDE_SHARE and entry.guide_id not in departed:
        assert entry.guide_id is not None and entry.store_id is not None
        return GuideCredit(entry.guide_id, entry.store_id, GuideCreditSource.GUIDE_SHARE)
    if bound_guide is not None and policy.credit_bound_guide and bound_guide.guide_id not in departed:
        return GuideCredit(bound_guide.guide_id, bound_guide.store_id, GuideCreditSource.BOUND_GUIDE)
    return None


VALUE_TYPES = (
    AttributionSource,
    EntryKind,
    EntryContext,
    GuideRef,
    GuideCreditSource,
    GuideCredit,
    StockFallback,
    AttributionPolicy,
)
