"""Loading and saving aggregates through the async event store.

Aggregates are rebuilt from the latest snapshot plus later events. An
in-process cache keeps recently used aggregates; every read still asks the
store for events after the cached version (one indexed query), so the cache
stays correct when another process writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent

from domain.errors import NotFound
from infrastructure.event_store import EventStore, Transaction

A = TypeVar("A", bound=Aggregate)


class Repository:
    def __init__(
        self,
        store: EventStore,
        mapper: Mapper,
        *,
        snapshot_interval: int = 50,
        cache_size: int = 10_000,
    ) -> None:
        self.store = store
        self.mapper = mapper
        self.snapshot_interval = snapshot_interval
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._checked_out: set[UUID] = set()
        self._cache_size = cache_size

    # --- reading --------------------------------------------------------------------

    async def get(self, aggregate_id: UUID, kind: type[A] | None = None, *, for_update: bool = False) -> A:
        """The current aggregate.

        ``for_update`` (only under the unit of work's per-aggregate lock) checks the
        cached object out to its one writer, to change in place: no copy, which
        matters for hot aggregates with long histories. Until the writer commits or
        releases it, readers load their own copy instead of seeing its uncommitted
        changes.
        """
        if for_update:
            aggregate = await self._for_writer(aggregate_id)
        else:
            aggregate = await self._for_reader(aggregate_id)
        if aggregate is None or (kind is not None and not isinstance(aggregate, kind)):
            what = kind.__name__ if kind else "aggregate"
            raise NotFound(f"{what} {aggregate_id} not found", reason=f"{what.upper()}_NOT_FOUND", id=aggregate_id)
        if for_update:
            self._checked_out.add(aggregate_id)
        return aggregate  # type: ignore[return-value]

    async def exists(self, aggregate_id: UUID) -> bool:
        return await self._for_reader(aggregate_id) is not None

    async def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate if there is one of that kind (one read, where ``exists`` + ``get`` took two)."""
        aggregate = await self._for_reader(aggregate_id)
        return aggregate if isinstance(aggregate, kind) else None

    async def _for_writer(self, aggregate_id: UUID) -> Aggregate | None:
        cached = self._cache.get(aggregate_id)
        if cached is None:
            aggregate = await self._load(aggregate_id, lte=None)
        else:  # catch up with other processes' writes, in place: this writer holds the lock
            aggregate = self._apply(cached, await self.store.select_events(aggregate_id, gt=cached.version))
        if aggregate is not None:
            self._remember(aggregate)
        return aggregate

    async def _for_reader(self, aggregate_id: UUID) -> Aggregate | None:
        cached = self._cache.get(aggregate_id)
        if cached is not None and aggregate_id not in self._checked_out:
            version = cached.version
            newer = await self.store.select_events(aggregate_id, gt=version, limit=1)
            if not newer and aggregate_id not in self._checked_out and cached.version == version:
                return cached
        aggregate = await self._load(aggregate_id, lte=None)
        if aggregate is not None and aggregate_id not in self._checked_out:
            current = self._cache.get(aggregate_id)
            if current is None or current.version <= aggregate.version:
                self._remember(aggregate)
        return aggregate

    async def _load(self, aggregate_id: UUID, lte: int | None) -> Aggregate | None:
        aggregate = None
        gt = None
        snapshot = await self.store.latest_snapshot(aggregate_id, lte=lte)
        if snapshot is not None:
            aggregate = self.mapper.to_domain_event(snapshot).mutate(None)
            gt = snapshot.originator_version
        events = await self.store.select_events(aggregate_id, gt=gt, lte=lte)
        return self._apply(aggregate, events)

    def _apply(self, aggregate: Aggregate | None, stored: Sequence[StoredEvent]) -> Aggregate | None:
        for s in stored:
            aggregate = self.mapper.to_domain_event(s).mutate(aggregate)
        return aggregate

    async def get_as_of(
        self, aggregate_id: UUID, *, version: int | None = None, at: datetime | None = None
    ) -> Aggregate:
        """State as of a version, or as of the last event recorded at or before ``at``."""
        if at is not None:
            aggregate = None
            for s in await self.store.select_events(aggregate_id, lte=version):
                event = self.mapper.to_domain_event(s)
                if event.timestamp > at:
                    break
                aggregate = event.mutate(aggregate)
        else:
            aggregate = await self._load(aggregate_id, lte=version)
        if aggregate is None:
            raise NotFound(f"aggregate {aggregate_id} has no state at that point", reason="AGGREGATE_NOT_FOUND")
        return aggregate

    def _remember(self, aggregate: Aggregate) -> None:
        self._cache[aggregate.id] = aggregate
        self._cache.move_to_end(aggregate.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, aggregate_ids: Sequence[UUID]) -> None:
        """Drop from the cache (a writer failed: its in-place changes are not committed)."""
        for i in aggregate_ids:
            self._cache.pop(i, None)
            self._checked_out.discard(i)

    def check_in(self, aggregate_ids: Sequence[UUID]) -> None:
        """The writer is done with these (committed, or never changed)."""
        for i in aggregate_ids:
            self._checked_out.discard(i)

    # --- writing --------------------------------------------------------------------

    def encode_pending(self, aggregates: Sequence[Aggregate]) -> tuple[list[StoredEvent], list[StoredEvent], list[Any]]:
        """Stored events, due snapshots and the domain events, collecting the pending ones."""
        stored: list[StoredEvent] = []
        snapshots: list[StoredEvent] = []
        domain_events: list[Any] = []
        for aggregate in aggregates:
            before = aggregate.version - len(aggregate.pending_events)
            events = aggregate.collect_events()
            domain_events.extend(events)
            stored.extend(self.mapper.to_stored_event(e) for e in events)
            n = self.snapshot_interval
            if n and events and aggregate.version // n > before // n:
                snapshots.append(self.mapper.to_stored_event(Snapshot.take(aggregate)))
        return stored, snapshots, domain_events

    async def write(self, tx: Transaction, aggregates: Sequence[Aggregate]) -> list[Any]:
        """Write the aggregates' pending events in ``tx``; the table lock is taken last."""
        stored, snapshots, domain_events = self.encode_pending(aggregates)
        for s in snapshots:
            await tx.insert_snapshot(s)
        await tx.insert_events(stored)
        return domain_events

    def committed(self, aggregates: Sequence[Aggregate]) -> None:
        for aggregate in aggregates:
            self._remember(aggregate)
            self._checked_out.discard(aggregate.id)

    async def save(self, *aggregates: Aggregate) -> list[Any]:
        async with self.store.transaction() as tx:
            events = await self.write(tx, aggregates)
        self.committed(aggregates)
        return events
