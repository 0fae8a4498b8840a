"""The live directory of cloud stores that routing reads, in every server process.

It keeps a read-only replica of every CloudStore (applied from the event log,
so stores opened, moved, suspended, transferred or filling up in another
process show here within a NOTIFY round trip) and one spatial index of
positions per brand: an order is only ever routed among its own brand's
stores (and a store named by its entry or by the member counts only if it is
the brand's), at O(log n) in that brand's stores. Routing asks for the nearest stores, builds each one's snapshot
*at the order's time* from its replica (owner then, orders on that local day),
and lets the pure router decide.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from application.background import stop_task
from application.ports import Notifications
from application.store_index import StoreIndex
from domain.attribution import AttributionPolicy, StockFallback
from domain.cloud_store import CloudStore
from domain.geo import haversine_m, to_wgs84
from domain.routing import (
    MAX_SPLIT_CANDIDATES,
    Assessment,
    OrderFacts,
    Rejection,
    RoutingDecision,
    StoreSnapshot,
    assess,
    decide_assessed,
)
from domain.store_values import FulfilmentMode, StoreStatus

log = logging.getLogger(__name__)

STORE_TOPICS = tuple(
    get_topic(v) for v in vars(CloudStore).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)
)

ELIGIBLE_WANTED = 8  # eligible stores to hand the router (ties and fallbacks need a few)
REJECTED_KEPT = 8  # the nearest refused stores, kept as evidence on the decision
MAX_SCANNED = 400  # stop walking outwards after this many stores


class StoreDirectory:
    def __init__(self, store: Notifications, mapper: Mapper[UUID]) -> None:
        self._store = store
        self._mapper = mapper
        self.replicas: dict[UUID, CloudStore] = {}
        self.indexes: dict[str, StoreIndex] = {}  # per brand
        self.position: int | None = None
        self.widest_radius_m = 0  # an upper bound: the widest service radius any store ever had
        self._task: asyncio.Task[None] | None = None

    # --- keeping current --------------------------------------------------------------

    async def load(self) -> None:
        """Replay every store event up to now (at start-up)."""
        while True:
            batch = await self._store.select_notifications(
                self.position, 5000, topics=STORE_TOPICS, inclusive_of_start=False
            )
            if not batch:
                break
            self._apply(batch)
        by_brand: dict[str, list[StoreSnapshot]] = {}
        for s in self.replicas.values():
            if s.status is not StoreStatus.CLOSED:
                by_brand.setdefault(s.brand, []).append(self._index_entry(s))
        for brand, entries in by_brand.items():
            self._index(brand).rebuild(entries)

    def _index(self, brand: str) -> StoreIndex:
        index = self.indexes.get(brand)
        if index is None:
            index = self.indexes[brand] = StoreIndex()
        return index

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="store-directory")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _follow(self) -> None:
        while True:
            try:
                async for n in self._store.subscribe(gt=self.position, topics=STORE_TOPICS, progress=self._scanned):
                    self._apply([n], reindex=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("store directory follower failed; resuming in 1 s")
                await asyncio.sleep(1)

    def _scanned(self, position: int) -> None:
        """The log was read up to ``position`` and nothing more of ours is in it: resume after it."""
        self.position = max(self.position or 0, position)

    def _apply(self, notifications: Iterable[Notification], *, reindex: bool = False) -> None:
        for n in notifications:
            self.position = n.id
            # STORE_TOPICS only: CloudStore events (the mapper is typed to return the bare event protocol)
            event = cast(CanMutateAggregate[UUID], self._mapper.to_domain_event(n))
            current = self.replicas.get(event.originator_id)
            if current is not None and current.version >= n.originator_version:
                continue  # already applied
            replica = event.mutate(current)
            if replica is None:  # no CloudStore event discards its aggregate
                continue
            self.replicas[replica.id] = replica
            self.widest_radius_m = max(self.widest_radius_m, replica.service_radius_m)
            if reindex:
                if replica.status is StoreStatus.CLOSED:
                    self._index(replica.brand).remove(replica.id)
                else:
                    self._index(replica.brand).upsert(self._index_entry(replica))

    async def catch_up(self) -> None:
        """Apply whatever is committed now (tests, and before answering what-ifs)."""
        while True:
            batch = await self._store.select_notifications(
                self.position, 5000, topics=STORE_TOPICS, inclusive_of_start=False
            )
            if not batch:
                return
            self._apply(batch, reindex=True)

    @staticmethod
    def _index_entry(store: CloudStore) -> StoreSnapshot:
        return store.snapshot(store.opened_at)  # only the position and id matter to the index

    # --- routing --------------------------------------------------------------------

    def candidates(
        self,
        facts: OrderFacts,
        policy: AttributionPolicy,
        at: datetime,
        overrides: dict[UUID, StoreSnapshot] | None = None,
        *,
        brand: str,
        stock: Callable[[UUID], Mapping[str, int]] | None = None,
        holders: Iterable[UUID] = (),
    ) -> list[StoreSnapshot]:
        """The brand's nearest eligible stores, the nearest few refused on the way (as evidence), and named
        stores of the brand.

        Delivery never looks beyond the widest service radius; the decision keeps a
        bounded list of candidates, so order events stay small in dense cities.
        """
        found = self._assessed(facts, policy, at, overrides, brand=brand, stock=stock, holders=holders)
        return [a.store for a in found.values()]

    def _assessed(
        self,
        facts: OrderFacts,
        policy: AttributionPolicy,
        at: datetime,
        overrides: dict[UUID, StoreSnapshot] | None,
        *,
        brand: str,
        stock: Callable[[UUID], Mapping[str, int]] | None,
        holders: Iterable[UUID],
    ) -> dict[UUID, Assessment]:
        """``candidates``, each as ``decide`` weighs it (``assess``): weighed once, to choose and to decide."""
        overrides = overrides or {}
        customer = to_wgs84(facts.customer)
        found: dict[UUID, Assessment] = {}

        def weigh(store_id: UUID) -> Assessment:
            snapshot = self._snapshot(store_id, at, overrides)
            units = stock(store_id) if facts.needs and stock is not None else None
            return assess(snapshot, facts, customer, at, policy, units)

        eligible = rejected = 0
        reach = policy.max_distance_m or None
        if facts.mode is FulfilmentMode.DELIVERY:  # nobody delivers beyond the widest service radius
            reach = min(reach, self.widest_radius_m) if reach else self.widest_radius_m
        index = self.indexes.get(brand) or StoreIndex()
        for scanned, neighbour in enumerate(index.iter_nearest(customer.lat, customer.lng, reach)):
            if scanned >= MAX_SCANNED or eligible >= ELIGIBLE_WANTED:
                break
            assessed = weigh(neighbour.store.store_id)
            if not assessed.rejections:
                eligible += 1
            elif rejected < REJECTED_KEPT:
                rejected += 1
            else:
                continue
            found[assessed.store.store_id] = assessed
            if Rejection.BEYOND_PICKUP_DISTANCE in assessed.rejections:
                break  # every store after this one is farther still: one is kept as evidence
        named = [facts.entry.store_id, facts.home_store_id, facts.bound_guide.store_id if facts.bound_guide else None]
        for store_id in named:
            if store_id is None:
                continue
            replica = self.replicas.get(store_id)
            if replica is not None and replica.brand == brand and store_id not in found:
                found[store_id] = weigh(store_id)
        if facts.needs and policy.stock_fallback is not StockFallback.UNALLOCATED:
            # the stock fallback may look past distance: the nearest stores holding a needed SKU, within its reach
            near: list[tuple[float, UUID]] = []
            for store_id in holders:
                replica = self.replicas.get(store_id)
                if replica is None or replica.brand != brand or store_id in found:
                    continue
                d = haversine_m(customer.lat, customer.lng, replica.location.lat, replica.location.lng)
                if not policy.stock_max_distance_m or d <= policy.stock_max_distance_m:
                    near.append((d, store_id))
            for _, store_id in sorted(near)[:MAX_SPLIT_CANDIDATES]:
                found[store_id] = weigh(store_id)
        return found

    def _snapshot(self, store_id: UUID, at: datetime, overrides: dict[UUID, StoreSnapshot]) -> StoreSnapshot:
        return overrides.get(store_id) or self.replicas[store_id].snapshot(at)

    def route(
        self,
        facts: OrderFacts,
        policy: AttributionPolicy,
        at: datetime,
        overrides: dict[UUID, StoreSnapshot] | None = None,
        *,
        programme_version: int = 1,
        brand: str,
        stock: Callable[[UUID], Mapping[str, int]] | None = None,
        holders: Iterable[UUID] = (),
    ) -> RoutingDecision:
        """The decision among ``brand``'s stores, stamped with the version of the programme ``policy`` comes from.

        ``stock`` gives a store's reservable units per SKU (for ``facts.needs``); ``holders`` are stores holding a
        needed SKU, offered to the brand's stock fallback."""
        assessed = self._assessed(facts, policy, at, overrides, brand=brand, stock=stock, holders=holders)
        figures = {i: stock(i) for i in assessed} if stock is not None and facts.needs else None
        return decide_assessed(facts, assessed.values(), policy, at, programme_version, stock=figures)
