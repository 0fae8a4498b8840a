"""The live view of store stock that routing reads, in every server process.

Like the store directory: a read-only copy of every ``StoreStock``'s figures applied from the
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
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from application.background import stop_task
from application.ports import Notifications
from domain.stock import Protection, StoreStock

log = logging.getLogger(__name__)

STOCK_TOPICS = tuple(
    get_topic(v) for v in vars(StoreStock).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)
)


ROW_BYTES = 800
"""What one stock's row (its figures and its keys in the indexes) takes in memory, at most: tracemalloc measured
about 520 bytes with four SKUs a store, 700 with one SKU a store (each its own figures dict);
tests/application/test_stock_directory.py checks the estimate stays above what it measures."""

COUNTED_BYTES = 200
"""What one (store, SKU) takes in the never-dropped index of the stores counting each SKU (a set entry and its
store id): tracemalloc measured about 160 bytes with hundreds of stores a SKU."""

SKU_BYTES = 1000
"""What one (brand, SKU) takes in that index besides its stores (its key, its set's table): with ``COUNTED_BYTES``
an estimate above what tracemalloc measured from 1 to 2,000 SKUs over 2,000 stocks (at most 300 bytes a stock in
all, with a few stores a SKU); tests/application/test_stock_directory.py checks it."""


class StockDirectory:
    """Compact rows, not aggregates: per (store, SKU) its brand, on-hand, reserved units, walk-in protection and
    version, each kept current from the events' own fields (a reservation adds its quantity, a release takes it
    off...), so memory per stock is constant however many orders hold units there.

    Bounded in bytes (``max_bytes``; ``ROW_BYTES`` per row): past the bound the least recently used rows are
    dropped. A dropped row is *unknown*, not zero: routing asks ``unknown`` and reads such stores' stock afresh
    (``OrderService``), and a fresh read brings the row back (``observe``). Which stores count which SKUs is kept
    apart and never dropped (``COUNTED_BYTES`` per stock, ``SKU_BYTES`` per SKU, counted in the bound before any
    row): forgetting a SKU would let an order skip its reservation, and forgetting a store that counts it would
    hide a holder from the stock fallback (``stores_holding`` names a store whose figure was dropped as a
    possible holder, which routing reads afresh when it matters). So the bound costs reads, never a decision.
    """

    def __init__(self, store: Notifications, mapper: Mapper[UUID], *, max_bytes: int = 64 * 2**20) -> None:
        self._store = store
        self._mapper = mapper
        self.max_bytes = max_bytes
        # stock id -> [brand, store id, sku, on_hand, reserved, floor_units, share_bp, version], least recent first
        self._rows: OrderedDict[UUID, list[Any]] = OrderedDict()
        self.dropped = 0  # rows dropped for the bound so far: once any is, a stock without a row is unknown
        self.available: dict[UUID, dict[str, int]] = {}  # store id -> SKU -> units an online order may reserve
        # (brand, SKU) -> the stores counting it (a StoreStock was opened), whether or not their rows are held: never
        # dropped; its keys are the SKUs the brand tracks
        self._counting: dict[tuple[str, str], set[UUID]] = {}
        self._counted = 0  # (store, SKU) pairs in _counting
        self.position: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def usage(self) -> tuple[int, int]:
        """Rows held, and the estimated bytes of the rows and of the index of stores counting each SKU."""
        return len(self._rows), len(self._rows) * ROW_BYTES + self._fixed_bytes

    @property
    def _fixed_bytes(self) -> int:
        """What the never-dropped index takes: the bound leaves the rows the rest."""
        return self._counted * COUNTED_BYTES + len(self._counting) * SKU_BYTES

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
            if self.position is not None and n.id <= self.position:
                continue  # applied already (the follower and a catch-up both read it)
            self.position = n.id
            event = self._mapper.to_domain_event(n)
            sid = event.originator_id
            if isinstance(event, StoreStock.Opened):
                self._count(event.brand, event.sku, event.store_id)
                self._set([event.brand, event.store_id, event.sku, 0, 0, 0, 0, n.originator_version], sid)
                continue
            row = self._rows.get(sid)
            if row is None or row[7] >= n.originator_version:
                continue  # dropped for the bound (a fresh read brings it back), or applied already
            if isinstance(event, StoreStock.Adjusted):
                row[3] += event.delta
            elif isinstance(event, StoreStock.Reserved):
                row[4] += event.qty
            elif isinstance(event, StoreStock.Released):
                row[4] -= event.qty
            elif isinstance(event, StoreStock.Consumed):
                row[3] -= event.qty
                row[4] -= event.qty
            elif isinstance(event, StoreStock.SoldInStore):
                row[3] -= event.qty
            elif isinstance(event, StoreStock.ProtectionSet):
                row[5], row[6] = event.protection.floor_units, event.protection.share_bp
            row[7] = n.originator_version
            self._set(row, sid)

    def observe(self, stock: StoreStock) -> None:
        """Take a fresher figure (an aggregate a command just read): also brings a dropped row back."""
        row = self._rows.get(stock.id)
        if row is not None and row[7] > stock.version:
            return
        p = stock.protection
        self._count(stock.brand, stock.sku, stock.store_id)
        self._set(
            [
                stock.brand,
                stock.store_id,
                stock.sku,
                stock.on_hand,
                stock.reserved,
                p.floor_units,
                p.share_bp,
                stock.version,
            ],
            stock.id,
        )

    def _count(self, brand: str, sku: str, store_id: UUID) -> None:
        stores = self._counting.setdefault((brand, sku), set())
        if store_id not in stores:
            stores.add(store_id)
            self._counted += 1

    def _set(self, row: list[Any], sid: UUID) -> None:
        _, store_id, sku, on_hand, reserved, floor_units, share_bp = row[:7]
        kept = Protection(floor_units, share_bp).kept(on_hand)
        self.available.setdefault(store_id, {})[sku] = max(0, on_hand - reserved - kept)
        self._rows[sid] = row
        self._rows.move_to_end(sid)
        room = self.max_bytes - self._fixed_bytes
        while len(self._rows) * ROW_BYTES > room and self._rows:
            _, (_, st, k, *_) = self._rows.popitem(last=False)
            self.dropped += 1
            figures = self.available.get(st, {})
            figures.pop(k, None)
            if not figures:
                self.available.pop(st, None)

    # --- what routing asks --------------------------------------------------------------

    def tracked(self, brand: str, sku: str) -> bool:
        return (brand, sku) in self._counting

    def unknown(self, store_id: UUID, skus: Iterable[str], brand: str) -> bool:
        """Whether the store counts a needed SKU whose figure was dropped for the bound (read it afresh, then
        ``observe``). A stock the store does not count is known: it has nothing."""
        if not self.dropped:  # every stock counted has its row
            return False
        figures = self.available.get(store_id, {})
        return any(sku not in figures and store_id in self._counting.get((brand, sku), ()) for sku in skus)

    def tracked_skus(self, brand: str) -> list[str]:
        return sorted(sku for b, sku in self._counting if b == brand)

    def stores_holding(
        self, brand: str, skus: Iterable[str], fresh: Mapping[UUID, Mapping[str, int]] | None = None
    ) -> set[UUID]:
        """Stores of ``brand`` with at least one unit of any of ``skus`` an online order could reserve, and those
        that may have one: a store whose figure of a SKU was dropped for the bound is named unless ``fresh`` (its
        figures read afresh, ``unknown``) says it has none. A store held in the directory is judged on its row."""
        fresh = fresh or {}
        out: set[UUID] = set()
        for sku in skus:
            for s in self._counting.get((brand, sku), ()):
                units = self.available.get(s, {}).get(sku)
                if units is None:  # dropped for the bound: a holder unless read afresh and found without any
                    read = fresh.get(s)
                    units = 1 if read is None else read.get(sku, 0)
                if units > 0:
                    out.add(s)
        return out

    def figures(self, store_ids: Iterable[UUID], skus: Iterable[str]) -> dict[UUID, dict[str, int]]:
        skus = tuple(skus)
        return {s: {k: self.available.get(s, {}).get(k, 0) for k in skus} for s in store_ids}

    def skus_at(self, store_id: UUID, brand: str) -> list[str]:
        """The SKUs the store counts, whether or not their rows are held."""
        return sorted(sku for (b, sku), stores in self._counting.items() if b == brand and store_id in stores)
