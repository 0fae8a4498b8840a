"""Store routing (就近分配) as one pure function: ``decide(facts, candidates, policy, at)``.

No side effects and no clock: the same inputs give the same decision, so a
what-if simulation is just a call. The caller (application) supplies the
candidate stores: the nearby ones from the spatial index plus any store the
order's facts name (QR store, bound guide's store, home store); a named store
missing from the candidates is reported as NOT_A_CANDIDATE and skipped.

Never raises for "no store": an Unallocated decision names the reason and the
brand's fallback target. Ties (distances within ``policy.tie_tolerance_m`` of
the nearest) are shared by a rotation keyed on a hash of the order id: the same
order always lands on the same store, and many orders spread evenly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from itertools import combinations
from typing import NamedTuple
from uuid import UUID, uuid5

from domain.attribution import (
    AttributionPolicy,
    AttributionSource,
    EntryContext,
    EntryKind,
    GuideCredit,
    GuideCreditSource,
    GuideRef,
    StockFallback,
    guide_credit_for,
)
from domain.errors import InvalidArgument
from domain.geo import Location, haversine_m, to_wgs84
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus, require_int, require_utc, require_uuid


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What the router needs to know about one cloud store at one instant (WGS-84 position).

    ``dealer_id`` is the owner at the decision time and ``orders_today`` the
    count on the store's local day of that time (``CloudStore.snapshot(at)``).
    """

    store_id: UUID
    dealer_id: str
    lat: float
    lng: float
    service_radius_m: int
    modes: tuple[FulfilmentMode, ...]
    status: StoreStatus
    online_orders_enabled: bool
    hours: OpeningHours
    daily_capacity: int = 0  # 0 = unlimited
    orders_today: int = 0

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lng <= 180.0):
            raise InvalidArgument("snapshot position out of range", reason="INVALID_COORDINATE")


class Rejection(str, Enum):
    STORE_SUSPENDED = "STORE_SUSPENDED"
    STORE_CLOSED = "STORE_CLOSED"
    ONLINE_ORDERS_DISABLED = "ONLINE_ORDERS_DISABLED"
    MODE_NOT_SUPPORTED = "MODE_NOT_SUPPORTED"
    OUTSIDE_OPENING_HOURS = "OUTSIDE_OPENING_HOURS"
    OUTSIDE_SERVICE_RADIUS = "OUTSIDE_SERVICE_RADIUS"
    BEYOND_MAX_DISTANCE = "BEYOND_MAX_DISTANCE"
    BEYOND_PICKUP_DISTANCE = "BEYOND_PICKUP_DISTANCE"
    CAPACITY_REACHED = "CAPACITY_REACHED"
    OUT_OF_STOCK = "OUT_OF_STOCK"  # does not hold every stock-tracked line (after walk-in protection)


# Refusals the brand's stock fallback may look past: a store that has the goods but is farther than the
# order's mode allows ships or is collected from farther away, up to ``stock_max_distance_m``.
_DISTANCE_ONLY = frozenset(
    {
        Rejection.OUTSIDE_SERVICE_RADIUS,
        Rejection.BEYOND_PICKUP_DISTANCE,
        Rejection.BEYOND_MAX_DISTANCE,
        Rejection.OUT_OF_STOCK,
    }
)
MAX_SPLIT_CANDIDATES = 12  # the split search looks at the nearest this many stores holding a needed SKU


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """One store considered: its distance (whole metres) and every reason it was refused."""

    store_id: UUID
    dealer_id: str
    distance_m: int
    rejections: tuple[Rejection, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.rejections


class StepOutcome(str, Enum):
    CHOSEN = "CHOSEN"
    SKIPPED = "SKIPPED"


class StepReason(str, Enum):
    ELIGIBLE = "ELIGIBLE"
    NEAREST_ELIGIBLE = "NEAREST_ELIGIBLE"
    TIE_ROTATION = "TIE_ROTATION"
    NO_ENTRY_CONTEXT = "NO_ENTRY_CONTEXT"
    NO_BOUND_GUIDE = "NO_BOUND_GUIDE"
    NO_HOME_STORE = "NO_HOME_STORE"
    NOT_A_CANDIDATE = "NOT_A_CANDIDATE"
    INELIGIBLE = "INELIGIBLE"
    NO_ELIGIBLE_STORE = "NO_ELIGIBLE_STORE"
    GUIDE_LEFT = "GUIDE_LEFT"  # the share link's or the bound guide has left: they name no store, earn nothing
    NEAREST_IN_STOCK = "NEAREST_IN_STOCK"  # stock fallback: nearest store holding every line
    SPLIT_ACROSS_STORES = "SPLIT_ACROSS_STORES"  # stock fallback: the fewest stores holding the lines between them
    DROP_POOL = "DROP_POOL"  # a drop winner's order, pinned to the store of the drop's pool (domain.drop)


@dataclass(frozen=True, slots=True)
class ExplanationStep:
    """One line of "why this store": a source tried, the store it named, and the verdict."""

    source: AttributionSource
    outcome: StepOutcome
    reason: StepReason
    store_id: UUID | None = None
    rejections: tuple[Rejection, ...] = ()  # when INELIGIBLE
    tied_store_ids: tuple[UUID, ...] = ()  # when TIE_ROTATION, sorted


class UnallocatedReason(str, Enum):
    NO_CANDIDATES = "NO_CANDIDATES"  # no store near enough was even offered
    NO_ELIGIBLE_STORE = "NO_ELIGIBLE_STORE"  # all offered stores refused the order
    PRECEDENCE_EXHAUSTED = "PRECEDENCE_EXHAUSTED"  # eligible stores exist but the policy names none of them
    SPLIT = "SPLIT"  # no one store holds every line: the order goes out in ``RoutingDecision.split`` parts


@dataclass(frozen=True, slots=True)
class StockNeed:
    """Units of one stock-tracked SKU an order needs (its lines of that SKU added up)."""

    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class SplitPart:
    """One store's share of a split order: the SKUs it sends, routed and credited to its own dealer.

    Each part is an order of its own (``order_id``: the first part keeps the order's id, the others get
    ``part_order_id``), allocated to its store, paid, fulfilled and settled like any other.
    """

    store_id: UUID
    dealer_id: str
    distance_m: int
    needs: tuple[StockNeed, ...]
    order_id: UUID | None = None


def part_order_id(order_id: UUID, index: int) -> UUID:
    """The id of part ``index`` of a split order (part 0 is the order itself): deterministic, so a retry agrees."""
    return order_id if index == 0 else uuid5(order_id, f"split-part-{index}")


def has_every_line(available: Mapping[str, int] | None, needs: Iterable[StockNeed]) -> bool:
    available = available or {}
    return all(available.get(n.sku, 0) >= n.qty for n in needs)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What routing needs to know about an order (the member's bindings come from the application).

    ``departed_guides`` holds the guides named here (share link, bound guide) who
    have left: routing skips them (``GUIDE_LEFT``) and never credits them.
    """

    order_id: UUID
    mode: FulfilmentMode
    customer: Location
    entry: EntryContext = EntryContext()
    bound_guide: GuideRef | None = None
    home_store_id: UUID | None = None
    departed_guides: frozenset[UUID] = frozenset()
    needs: tuple[StockNeed, ...] = ()  # stock-tracked lines, one per SKU; empty: stock plays no part


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The router's verdict, kept on the order as evidence.

    ``store_id`` is the fulfilling store and the only one booking revenue
    (``revenue_store_id``), to ``dealer_id``. ``guide_credit`` is performance
    credit for the guide (and the guide's store) who drove the order; when that
    store differs from the revenue store the order is dual-credited (业绩双计).
    ``programme_version`` names the brand programme whose attribution policy
    decided, so the decision can be replayed with the rules of that day
    (decisions stored before the field existed decode as version 1).
    """

    order_id: UUID
    decided_at: datetime
    mode: FulfilmentMode
    store_id: UUID | None
    dealer_id: str | None
    distance_m: int | None
    attributed_by: AttributionSource | None
    guide_credit: GuideCredit | None
    candidates: tuple[CandidateReport, ...]
    explanation: tuple[ExplanationStep, ...]
    unallocated_reason: UnallocatedReason | None = None
    fallback_target: str | None = None
    programme_version: int = 1
    split: tuple[SplitPart, ...] = ()  # when ``unallocated_reason`` is SPLIT: the parts, nearest first
    needs: tuple[StockNeed, ...] = ()  # the stock-tracked lines it was decided for (what the store reserves)

    @property
    def allocated(self) -> bool:
        return self.store_id is not None

    @property
    def revenue_store_id(self) -> UUID | None:
        return self.store_id

    @property
    def dual_credit(self) -> bool:
        return self.guide_credit is not None and self.guide_credit.guide_store_id != self.store_id


def rejections_for(
    store: StoreSnapshot, mode: FulfilmentMode, distance_m: float, at: datetime, policy: AttributionPolicy
) -> tuple[Rejection, ...]:
    """Every reason this store cannot take this order now (empty = eligible).

    Distances are compared at millimetre resolution, so a customer exactly on
    the service radius is inside. Opening hours bind every mode (delivery too,
    unless the policy relaxes it); pickup is bound by the policy's pickup distance.
    """
    out: list[Rejection] = []
    if store.status is StoreStatus.SUSPENDED:
        out.append(Rejection.STORE_SUSPENDED)
    elif store.status is StoreStatus.CLOSED:
        out.append(Rejection.STORE_CLOSED)
    if not store.online_orders_enabled:
        out.append(Rejection.ONLINE_ORDERS_DISABLED)
    if mode not in store.modes:
        out.append(Rejection.MODE_NOT_SUPPORTED)
    hours_bind = mode is not FulfilmentMode.DELIVERY or not policy.delivery_ignores_opening_hours
    if hours_bind and not store.hours.is_open_at(at):
        out.append(Rejection.OUTSIDE_OPENING_HOURS)
    metres = round(distance_m, 3)
    if mode is FulfilmentMode.DELIVERY and metres > store.service_radius_m:
        out.append(Rejection.OUTSIDE_SERVICE_RADIUS)
    if mode is FulfilmentMode.PICKUP and policy.pickup_max_distance_m and metres > policy.pickup_max_distance_m:
        out.append(Rejection.BEYOND_PICKUP_DISTANCE)
    if policy.max_distance_m and metres > policy.max_distance_m:
        out.append(Rejection.BEYOND_MAX_DISTANCE)
    if store.daily_capacity and store.orders_today >= store.daily_capacity:
        out.append(Rejection.CAPACITY_REACHED)
    return tuple(out)


def rotation_index(order_id: UUID, n: int) -> int:
    """Deterministic per order, uniform across orders (a keyed hash, not Python's salted hash())."""
    digest = hashlib.blake2b(order_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


_NAMED_MISSING = {
    AttributionSource.ENTRY_CONTEXT: StepReason.NO_ENTRY_CONTEXT,
    AttributionSource.BOUND_GUIDE_STORE: StepReason.NO_BOUND_GUIDE,
    AttributionSource.HOME_STORE: StepReason.NO_HOME_STORE,
}


def _departed_guide(source: AttributionSource, facts: OrderFacts) -> bool:
    """The source names its store through a guide who has left."""
    if source is AttributionSource.ENTRY_CONTEXT:
        return facts.entry.kind is EntryKind.GUIDE_SHARE and facts.entry.guide_id in facts.departed_guides
    if source is AttributionSource.BOUND_GUIDE_STORE:
        return facts.bound_guide is not None and facts.bound_guide.guide_id in facts.departed_guides
    return False


def _named_store(source: AttributionSource, facts: OrderFacts) -> UUID | None:
    if source is AttributionSource.ENTRY_CONTEXT:
        return facts.entry.store_id if facts.entry.kind is not EntryKind.NONE else None
    if source is AttributionSource.BOUND_GUIDE_STORE:
        return facts.bound_guide.store_id if facts.bound_guide else None
    return facts.home_store_id


def decide(
    facts: OrderFacts,
    candidates: Iterable[StoreSnapshot],
    policy: AttributionPolicy,
    at: datetime,
    programme_version: int = 1,
    stock: Mapping[UUID, Mapping[str, int]] | None = None,
) -> RoutingDecision:
    """Choose the fulfilling (= revenue) store for an order, explaining every step.

    ``programme_version`` is the version of the brand programme ``policy`` comes
    from; the decision records it. ``stock`` gives, per candidate store, the units of
    each SKU an online order may reserve there; a store without every one of
    ``facts.needs`` is refused ``OUT_OF_STOCK``. When no store is eligible and some
    store was refused for stock, the policy's ``stock_fallback`` decides
    (``_stock_fallback``).
    """
    _check(facts, policy, at, programme_version)
    customer = to_wgs84(facts.customer)
    figures = stock or {}
    assessed = (assess(store, facts, customer, at, policy, figures.get(store.store_id)) for store in candidates)
    return _decide(facts, assessed, policy, at, programme_version, figures)


class Assessment(NamedTuple):
    """One candidate store as ``decide`` weighs it: its distance from the customer and every reason it is refused."""

    store: StoreSnapshot
    distance_m: float
    rejections: tuple[Rejection, ...]


def assess(
    store: StoreSnapshot,
    facts: OrderFacts,
    customer: Location,
    at: datetime,
    policy: AttributionPolicy,
    stock: Mapping[str, int] | None,
) -> Assessment:
    """``store`` weighed for this order: great-circle metres from ``customer`` (WGS-84) and its rejections,
    ``OUT_OF_STOCK`` when ``stock`` (its reservable units per SKU) lacks a line of ``facts.needs``."""
    d = haversine_m(customer.lat, customer.lng, store.lat, store.lng)
    rejections = rejections_for(store, facts.mode, d, at, policy)
    if facts.needs and not has_every_line(stock, facts.needs):
        rejections += (Rejection.OUT_OF_STOCK,)
    return Assessment(store, d, rejections)


def decide_assessed(
    facts: OrderFacts,
    assessed: Iterable[Assessment],
    policy: AttributionPolicy,
    at: datetime,
    programme_version: int = 1,
    stock: Mapping[UUID, Mapping[str, int]] | None = None,
) -> RoutingDecision:
    """``decide`` over candidates already weighed by :func:`assess` for these facts, policy and instant (a caller
    that had to weigh them to choose them need not weigh them twice)."""
    _check(facts, policy, at, programme_version)
    return _decide(facts, assessed, policy, at, programme_version, stock or {})


def _check(facts: OrderFacts, policy: AttributionPolicy, at: datetime, programme_version: int) -> None:
    require_utc(at)
    if not isinstance(facts, OrderFacts) or not isinstance(policy, AttributionPolicy):
        raise InvalidArgument("decide takes OrderFacts and an AttributionPolicy", reason="INVALID_ARGUMENT")
    require_int(programme_version, "programme_version", 1)
    require_uuid(facts.order_id, "order_id")
    if not isinstance(facts.mode, FulfilmentMode) or not isinstance(facts.customer, Location):
        raise InvalidArgument("facts need a FulfilmentMode and a Location", reason="INVALID_ARGUMENT")


def _decide(
    facts: OrderFacts,
    assessed: Iterable[Assessment],
    policy: AttributionPolicy,
    at: datetime,
    programme_version: int,
    stock: Mapping[UUID, Mapping[str, int]],
) -> RoutingDecision:
    stores: dict[UUID, Assessment] = {}
    for a in assessed:
        stores.setdefault(a.store.store_id, a)
    ordered = sorted(stores.values(), key=lambda t: (t[1], str(t[0].store_id)))
    reports = tuple(CandidateReport(s.store_id, s.dealer_id, round(d), rej) for s, d, rej in ordered)

    steps: list[ExplanationStep] = []
    chosen: tuple[StoreSnapshot, float, AttributionSource] | None = None
    for source in policy.precedence:
        if source is AttributionSource.NEAREST:
            eligible = [(s, d) for s, d, rej in ordered if not rej]
            if not eligible:
                steps.append(ExplanationStep(source, StepOutcome.SKIPPED, StepReason.NO_ELIGIBLE_STORE))
                continue
            limit = eligible[0][1] + policy.tie_tolerance_m
            tied = sorted((p for p in eligible if p[1] <= limit), key=lambda p: str(p[0].store_id))
            store, d = tied[rotation_index(facts.order_id, len(tied))]
            reason = StepReason.TIE_ROTATION if len(tied) > 1 else StepReason.NEAREST_ELIGIBLE
            tied_ids = tuple(s.store_id for s, _ in tied) if len(tied) > 1 else ()
            steps.append(ExplanationStep(source, StepOutcome.CHOSEN, reason, store.store_id, (), tied_ids))
            chosen = (store, d, source)
            break
        named = _named_store(source, facts)
        if _departed_guide(source, facts):
            steps.append(ExplanationStep(source, StepOutcome.SKIPPED, StepReason.GUIDE_LEFT, named))
        elif named is None:
            steps.append(ExplanationStep(source, StepOutcome.SKIPPED, _NAMED_MISSING[source]))
        elif named not in stores:
            steps.append(ExplanationStep(source, StepOutcome.SKIPPED, StepReason.NOT_A_CANDIDATE, named))
        elif stores[named][2]:
            steps.append(ExplanationStep(source, StepOutcome.SKIPPED, StepReason.INELIGIBLE, named, stores[named][2]))
        else:
            steps.append(ExplanationStep(source, StepOutcome.CHOSEN, StepReason.ELIGIBLE, named))
            chosen = (stores[named][0], stores[named][1], source)
            break

    credit = guide_credit_for(facts.entry, facts.bound_guide, policy, facts.departed_guides)
    if (
        chosen is None
        and facts.needs
        and policy.stock_fallback is not StockFallback.UNALLOCATED
        and not any(not rej for _, _, rej in ordered)
    ):
        fallback = _stock_fallback(facts.needs, ordered, policy, stock)
        if isinstance(fallback, tuple) and len(fallback) > 1:
            fallback = tuple(replace(p, order_id=part_order_id(facts.order_id, i)) for i, p in enumerate(fallback))
            steps.append(
                ExplanationStep(
                    AttributionSource.NEAREST,
                    StepOutcome.CHOSEN,
                    StepReason.SPLIT_ACROSS_STORES,
                    None,
                    (),
                    tuple(p.store_id for p in fallback),
                )
            )
            return RoutingDecision(
                facts.order_id,
                at,
                facts.mode,
                None,
                None,
                None,
                None,
                credit,
                reports,
                tuple(steps),
                UnallocatedReason.SPLIT,
                policy.fallback_target,
                programme_version=programme_version,
                split=fallback,
                needs=facts.needs,
            )
        if isinstance(fallback, tuple) and fallback:
            part = fallback[0]
            store, d, _ = stores[part.store_id]
            steps.append(
                ExplanationStep(
                    AttributionSource.NEAREST, StepOutcome.CHOSEN, StepReason.NEAREST_IN_STOCK, store.store_id
                )
            )
            chosen = (store, d, AttributionSource.NEAREST)
    if chosen is None:
        if not stores:
            why = UnallocatedReason.NO_CANDIDATES
        elif all(rej for _, _, rej in ordered):
            why = UnallocatedReason.NO_ELIGIBLE_STORE
        else:
            why = UnallocatedReason.PRECEDENCE_EXHAUSTED
        return RoutingDecision(
            facts.order_id,
            at,
            facts.mode,
            None,
            None,
            None,
            None,
            credit,
            reports,
            tuple(steps),
            why,
            policy.fallback_target,
            programme_version=programme_version,
            needs=facts.needs,
        )
    store, d, source = chosen
    return RoutingDecision(
        facts.order_id,
        at,
        facts.mode,
        store.store_id,
        store.dealer_id,
        round(d),
        source,
        credit,
        reports,
        tuple(steps),
        programme_version=programme_version,
        needs=facts.needs,
    )


def part_decision(decision: RoutingDecision, index: int) -> RoutingDecision:
    """Part ``index`` of a split decision as the allocated decision of its own order: its store, its dealer (who
    books its revenue), the same guide credit and evidence, every part listed (``split``) so siblings are known."""
    if decision.unallocated_reason is not UnallocatedReason.SPLIT or not 0 <= index < len(decision.split):
        raise InvalidArgument("not a part of a split decision", reason="INVALID_DECISION")
    part = decision.split[index]
    assert part.order_id is not None
    step = ExplanationStep(
        AttributionSource.NEAREST,
        StepOutcome.CHOSEN,
        StepReason.SPLIT_ACROSS_STORES,
        part.store_id,
        (),
        tuple(p.store_id for p in decision.split),
    )
    return replace(
        decision,
        order_id=part.order_id,
        store_id=part.store_id,
        dealer_id=part.dealer_id,
        distance_m=part.distance_m,
        attributed_by=AttributionSource.NEAREST,
        explanation=(*decision.explanation[:-1], step),
        unallocated_reason=None,
        fallback_target=None,
        needs=part.needs,
    )


def _within(d: float, policy: AttributionPolicy) -> bool:
    return not policy.stock_max_distance_m or round(d, 3) <= policy.stock_max_distance_m


def _stock_fallback(
    needs: tuple[StockNeed, ...],
    ordered: list[Assessment],
    policy: AttributionPolicy,
    stock: Mapping[UUID, Mapping[str, int]],
) -> tuple[SplitPart, ...] | None:
    """The brand's answer when no eligible store holds every line.

    Stores refused only for distance or stock (``_DISTANCE_ONLY``) and within
    ``stock_max_distance_m`` are considered. NEAREST_IN_STOCK: the nearest of them
    holding every line (one part). SPLIT: the fewest of them that hold every SKU
    between them (one store per SKU: a SKU's units are never divided), ties broken
    by the smaller sum of distances, then by store ids; each SKU goes to the nearest
    store of the set holding it. One store holding everything is a split of one.
    None: nothing serves the order.
    """
    usable = [(s, d) for s, d, rej in ordered if set(rej) <= _DISTANCE_ONLY and _within(d, policy)]
    whole = [(s, d) for s, d in usable if has_every_line(stock.get(s.store_id), needs)]
    if whole:
        s, d = whole[0]  # ``ordered`` is by distance, then id
        return (SplitPart(s.store_id, s.dealer_id, round(d), needs),)
    if policy.stock_fallback is not StockFallback.SPLIT:
        return None
    holding = [(s, d) for s, d in usable if any(stock.get(s.store_id, {}).get(n.sku, 0) >= n.qty for n in needs)][
        :MAX_SPLIT_CANDIDATES
    ]
    for k in range(2, len(needs) + 1):
        best = None
        for combo in combinations(holding, k):
            if not all(any(stock.get(s.store_id, {}).get(n.sku, 0) >= n.qty for s, _ in combo) for n in needs):
                continue
            key = (sum(d for _, d in combo), tuple(sorted(str(s.store_id) for s, _ in combo)))
            if best is None or key < best[0]:
                best = (key, combo)
        if best is not None:
            chosen = sorted(best[1], key=lambda p: (p[1], str(p[0].store_id)))
            parts: dict[UUID, list[StockNeed]] = {s.store_id: [] for s, _ in chosen}
            for n in needs:
                s, _ = next(p for p in chosen if stock.get(p[0].store_id, {}).get(n.sku, 0) >= n.qty)
                parts[s.store_id].append(n)
            return tuple(
                SplitPart(s.store_id, s.dealer_id, round(d), tuple(parts[s.store_id]))
                for s, d in chosen
                if parts[s.store_id]
            )
    return None


# Value types carried inside a RoutingDecision (for the transcoder), own and borrowed.
VALUE_TYPES = (
    FulfilmentMode,
    AttributionSource,
    GuideCreditSource,
    GuideCredit,
    Rejection,
    CandidateReport,
    StepOutcome,
    StepReason,
    ExplanationStep,
    UnallocatedReason,
    StockNeed,
    SplitPart,
    StockFallback,
    RoutingDecision,
)
