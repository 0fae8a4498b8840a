"""The live view of store stock that routing reads, in every server process.

Like the store directory: a read-only replica of every ``StoreStock`` applied from the
event log (``subscribe`` follows new events), so routing knows which stores hold
which SKUs without a query. It may lag a reservation made a moment ago; that only
costs a retry, never an oversell: the order's unit of work reserves on the locked
aggregate, and a store found short is routed around with its fresh figures
(``OrderService.place``).

Per brand it knows the *tracked* SKUs: a line of a SKU no store of the brand counts
is not stock-tracked and routes as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from application.background import stop_task
from application.ports import Notifications
from domain.stock import StoreStock

log = logging.getLogger(__name__)

STOCK_TOPICS = tuple(
    get_topic(v) for v in vars(StoreStock).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)
)


class StockDirectory:
    def __init__(self, store: Notifications, mapper: Mapper[UUID]) -> None:
        self._store = store
        self._mapper = mapper
        self.replicas: dict[UUID, StoreStock] = {}
        self.available: dict[UUID, dict[str, int]] = {}  # store id -> SKU -> units an online order may reserve
        self.holders: dict[tuple[str, str], set[UUID]] = {}  # (brand, SKU) -> stores counting it
        self.position: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def load(self) -> None:
        await self.catch_up()

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="stock-directory")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _follow(self) -> None:
        while True:
            try:
                async for n in self._store.subscribe(gt=self.position, topics=STOCK_TOPICS, progress=self._scanned):
                    self._apply([n])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stock directory follower failed; resuming in 1 s")
                await asyncio.sleep(1)

    async def catch_up(self) -> None:
        while True:
            batch = await self._store.select_notifications(
                self.position, 5000, topics=STOCK_TOPICS, inclusive_of_start=False
            )
            if not batch:
                return
            self._apply(batch)

    def _scanned(self, position: int) -> None:
        """The log was read up to ``position`` and nothing more of ours is in it: resume after it."""
        self.position = max(self.position or 0, position)

    def _apply(self, notifications: Iterable[Notification]) -> None:
        for n in notifications:
            self.position = n.id
            # STOCK_TOPICS only: StoreStock events (the mapper is typed to return the bare event protocol)
            event = cast(CanMutateAggregate[UUID], self._mapper.to_domain_event(n))
            current = self.replicas.get(event.originator_id)
            if current is not None and current.version >= n.originator_version:
                continue
            replica = event.mutate(current)
            if replica is None:  # no StoreStock event discards its aggregate
                continue
            self.replicas[replica.id] = replica
            self.observe(replica)

    def observe(self, stock: StoreStock) -> None:
        """Take a fresher figure (the replica, or an aggregate a command just read)."""
        self.available.setdefault(stock.store_id, {})[stock.sku] = stock.available_online
        self.holders.setdefault((stock.brand, stock.sku), set()).add(stock.store_id)

    # --- what routing asks --------------------------------------------------------------

    def tracked(self, brand: str, sku: str) -> bool:
        return (brand, sku) in self.holders

    def stores_holding(self, brand: str, skus: Iterable[str]) -> set[UUID]:
        """Stores of ``brand`` with at least one unit of any of ``skus`` an online order could reserve."""
        out: set[UUID] = set()
        for sku in skus:
            out.update(s for s in self.holders.get((brand, sku), ()) if self.available.get(s, {}).get(sku, 0) > 0)
        return out

    def figures(self, store_ids: Iterable[UUID], skus: Iterable[str]) -> dict[UUID, dict[str, int]]:
        skus = tuple(skus)
        return {s: {k: self.available.get(s, {}).get(k, 0) for k in skus} for s in store_ids}
