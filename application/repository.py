"""Loading and saving aggregates through the event store port.

Aggregates are rebuilt from the latest snapshot plus later events. An
in-process cache keeps recently used aggregates, bounded in entries and in
bytes (each aggregate's size estimated from its stored snapshot and events).

Writers (``get(..., for_update=True)``, under the unit of work's per-aggregate
lock) are served from the cache without a query: if another process wrote
meanwhile, the group commit's version check refuses the write, the aggregate
leaves the cache and the command runs again on fresh state. So are reads made
inside a command: their versions are checked at its commit the same way.
Other readers (queries) still ask the store for events after the cached
version (one indexed query), so a read sees another process's committed writes.

Between a command's end and its commit, the cached aggregate holds changes not
yet committed (the next command on a hot aggregate builds on them). Such an
aggregate is *pending*: readers load their own copy from the store instead, and
the next writer records that its command depends on the pending one, so it
fails with it if that commit fails.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar, cast, overload
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent

from application.ports import EventStore, StaleAggregate, Write

if TYPE_CHECKING:
    from application.group_commit import Ticket
    from application.unit_of_work import UnitOfWork
from domain.errors import NotFound

A = TypeVar("A", bound=Aggregate)
checked_reads: ContextVar[UnitOfWork | None] = ContextVar("checked_reads", default=None)
"""The unit of work of the command running in this task: reads inside it are served from memory and checked
at its commit (``UnitOfWork.expect``)."""
OVERHEAD_BYTES = 512  # per cached aggregate, beside its stored size
MEMORY_PER_STORED_BYTE = 1.6
"""What a cached aggregate's objects take in memory per byte of its stored (JSON) state, as tracemalloc measured
it for orders under the bench's steady load (about 8 KB of objects for 5 KB stored, the routing decision's
evidence most of it). The byte bound is on memory: the stored-size estimate is held to ``cache_bytes`` / this."""


class RecordedEvent(Protocol):
    """What this store's events are: aggregate events and snapshots, each with a time and a ``mutate``."""

    timestamp: datetime

    def mutate(self, aggregate: Aggregate | None) -> Aggregate | None: ...


class Repository:
    def __init__(
        self,
        store: EventStore,
        mapper: Mapper[UUID],
        *,
        snapshot_interval: int = 50,
        cache_size: int = 10_000,
        cache_bytes: int = 64 * 2**20,
    ) -> None:
        self.store = store
        self.mapper = mapper
        self.snapshot_interval = snapshot_interval
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._sizes: dict[UUID, int] = {}
        self._cached_bytes = 0
        self._checked_out: set[UUID] = set()
        self.pending: dict[UUID, Ticket] = {}  # aggregate id -> the last uncommitted command (ticket) that loaded it
        self._cache_size = cache_size
        self._cache_bytes = int(cache_bytes / MEMORY_PER_STORED_BYTE)  # sizes below are stored bytes

    # --- reading --------------------------------------------------------------------

    @overload
    async def get(self, aggregate_id: UUID, kind: type[A], *, for_update: bool = False) -> A: ...
    @overload
    async def get(self, aggregate_id: UUID, kind: None = None, *, for_update: bool = False) -> Aggregate: ...
    async def get(self, aggregate_id: UUID, kind: type[A] | None = None, *, for_update: bool = False) -> Aggregate:
        """The current aggregate.

        ``for_update`` (only under the unit of work's per-aggregate lock) checks the
        cached object out to its one writer, to change in place: no copy, which
        matters for hot aggregates with long histories. Until the writer's changes
        are committed or dropped, readers load their own copy instead of seeing them.
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
        return aggregate

    async def exists(self, aggregate_id: UUID) -> bool:
        return await self._for_reader(aggregate_id) is not None

    async def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate if there is one of that kind (one read, where ``exists`` + ``get`` took two)."""
        aggregate = await self._for_reader(aggregate_id)
        return aggregate if isinstance(aggregate, kind) else None

    def _busy(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._checked_out or self.pending_ticket(aggregate_id) is not None

    def pending_ticket(self, aggregate_id: UUID) -> Ticket | None:
        """The last command not yet committed that loaded this aggregate, if any."""
        ticket = self.pending.get(aggregate_id)
        if ticket is not None and ticket.done:
            del self.pending[aggregate_id]
            return None
        return ticket

    async def _for_writer(self, aggregate_id: UUID) -> Aggregate | None:
        cached = self._cache.get(aggregate_id)
        if cached is not None:  # another process's write is caught by the version check at commit
            self._cache.move_to_end(aggregate_id)
            return cached
        if (ticket := self.pending_ticket(aggregate_id)) is not None:
            await ticket.wait()  # its changes left the cache (a failed writer): the store will have them, or not
        size, aggregate = await self._load(aggregate_id, lte=None)
        if aggregate is not None:
            self._remember(aggregate, size)
        return aggregate

    async def _for_reader(self, aggregate_id: UUID) -> Aggregate | None:
        cached = self._cache.get(aggregate_id)
        if cached is not None and not self._busy(aggregate_id):
            if (command := checked_reads.get()) is not None:  # no query: the commit checks the version
                command.expect(aggregate_id, cached.version)
                self._cache.move_to_end(aggregate_id)
                return cached
            version = cached.version
            newer = await self.store.select_events(aggregate_id, gt=version, limit=1)
            if not newer and not self._busy(aggregate_id) and cached.version == version:
                return cached
        size, aggregate = await self._load(aggregate_id, lte=None)
        if aggregate is not None and not self._busy(aggregate_id):
            current = self._cache.get(aggregate_id)
            if current is None or current.version <= aggregate.version:
                self._remember(aggregate, size)
        return aggregate

    async def _load(self, aggregate_id: UUID, lte: int | None) -> tuple[int, Aggregate | None]:
        aggregate = None
        gt = None
        size = OVERHEAD_BYTES
        snapshot = await self.store.latest_snapshot(aggregate_id, lte=lte)
        if snapshot is not None:
            aggregate = self.decode(snapshot).mutate(None)
            gt = snapshot.originator_version
            size += len(snapshot.state)
        events = await self.store.select_events(aggregate_id, gt=gt, lte=lte)
        size += sum(len(e.state) for e in events)
        return size, self._apply(aggregate, events)

    def _apply(self, aggregate: Aggregate | None, stored: Sequence[StoredEvent]) -> Aggregate | None:
        for s in stored:
            aggregate = self.decode(s).mutate(aggregate)
        return aggregate

    def decode(self, stored: StoredEvent) -> RecordedEvent:
        # The mapper is typed to return DomainEventProtocol, which declares neither ``mutate`` nor
        # ``timestamp``; every event this repository stores is an Aggregate event or a Snapshot, which have both.
        return cast(RecordedEvent, self.mapper.to_domain_event(stored))

    async def events(self, aggregate_id: UUID) -> list[RecordedEvent]:
        """Every event of the aggregate, decoded, oldest first (a data export; not for hot paths)."""
        return [self.decode(s) for s in await self.store.select_events(aggregate_id)]

    async def get_as_of(
        self, aggregate_id: UUID, *, version: int | None = None, at: datetime | None = None
    ) -> Aggregate:
        """State as of a version, or as of the last event recorded at or before ``at``."""
        if at is not None:
            aggregate = None
            for s in await self.store.select_events(aggregate_id, lte=version):
                event = self.decode(s)
                if event.timestamp > at:
                    break
                aggregate = event.mutate(aggregate)
        else:
            _, aggregate = await self._load(aggregate_id, lte=version)
        if aggregate is None:
            raise NotFound(f"aggregate {aggregate_id} has no state at that point", reason="AGGREGATE_NOT_FOUND")
        return aggregate

    # --- the cache: bounded in entries and in (estimated) bytes ----------------------

    def _remember(self, aggregate: Aggregate, size: int) -> None:
        key = aggregate.id
        self._cached_bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        self._cache[key] = aggregate
        self._cache.move_to_end(key)
        passes = len(self._cache)
        while passes and (len(self._cache) > self._cache_size or self._cached_bytes > self._cache_bytes):
            passes -= 1
            old, value = self._cache.popitem(last=False)
            if self._busy(old):  # a writer has it, or changes not yet committed: keep it, evict the next
                self._cache[old] = value
                continue
            self._cached_bytes -= self._sizes.pop(old, 0)

    def _grow(self, aggregate: Aggregate, events: Sequence[StoredEvent], snapshot: StoredEvent | None) -> None:
        """Committed changes: the cached aggregate's size estimate follows its stored size."""
        key = aggregate.id
        if self._cache.get(key) is not aggregate:
            return  # dropped meanwhile (evicted, or forgotten after a failure): the store has the truth
        added = sum(len(e.state) for e in events)
        size = OVERHEAD_BYTES + len(snapshot.state) + added if snapshot is not None else self._sizes[key] + added
        self._remember(aggregate, size)

    @property
    def cache_usage(self) -> tuple[int, int]:
        """Entries and estimated bytes of memory in the cache."""
        return len(self._cache), int(self._cached_bytes * MEMORY_PER_STORED_BYTE)

    def forget(self, aggregate_ids: Sequence[UUID]) -> None:
        """Drop from the cache (a writer failed: its in-place changes are not committed).

        A command not yet committed that changed one of them keeps its claim
        (``pending``): the next writer waits for it before loading from the store.
        """
        for i in aggregate_ids:
            if self._cache.pop(i, None) is not None:
                self._cached_bytes -= self._sizes.pop(i, 0)
            self._checked_out.discard(i)

    def forget_idle(self) -> None:
        """Drop every cached aggregate no command holds (after a member's data key was destroyed, what the cache
        decoded with it must not be served again)."""
        self.forget([i for i in self._cache if not self._busy(i)])

    def check_in(self, aggregate_ids: Sequence[UUID]) -> None:
        """The writer is done with these (committed, or never changed)."""
        for i in aggregate_ids:
            self._checked_out.discard(i)

    # --- commands between their end and their commit (see application.group_commit) --

    def known(self, aggregate_id: UUID) -> bool:
        """Cached, or created or changed by a command not yet committed."""
        return aggregate_id in self._cache or self.pending_ticket(aggregate_id) is not None

    def hand_over(self, ticket: Ticket, new: Sequence[Aggregate]) -> None:
        """A command is done with its aggregates; their changes wait for ``ticket`` to commit."""
        for aggregate in new:
            self._remember(aggregate, OVERHEAD_BYTES)
        for i in ticket.touched:
            self.pending[i] = ticket
            self._checked_out.discard(i)

    def settle(self, ticket: Ticket) -> None:
        """``ticket`` committed."""
        for i in ticket.touched:
            if self.pending.get(i) is ticket:
                del self.pending[i]

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The cached aggregate if no writer has it and no change to it waits for its commit (no query)."""
        aggregate = self._cache.get(aggregate_id)
        return None if aggregate is None or self._busy(aggregate_id) else aggregate

    def drop(self, ticket: Ticket) -> None:
        """``ticket`` failed: the aggregates it loaded may hold its uncommitted changes, its reads be stale."""
        for i in ticket.reads:
            if self._cache.pop(i, None) is not None:
                self._cached_bytes -= self._sizes.pop(i, 0)
        for i in ticket.touched:
            if self._cache.pop(i, None) is not None:
                self._cached_bytes -= self._sizes.pop(i, 0)
            if self.pending.get(i) is ticket:
                del self.pending[i]

    # --- writing --------------------------------------------------------------------

    def collect(self, aggregate: Aggregate) -> tuple[list[StoredEvent], StoredEvent | None]:
        """Stored events of the aggregate's pending events (now collected), and a snapshot when one is due."""
        if not aggregate.pending_events:
            return [], None
        before = aggregate.version - len(aggregate.pending_events)
        stored = [self.mapper.to_stored_event(e) for e in aggregate.collect_events()]
        n = self.snapshot_interval
        if n and aggregate.version // n > before // n:
            return stored, self.mapper.to_stored_event(Snapshot.take(aggregate))
        return stored, None

    def committed(self, aggregate: Aggregate, events: Sequence[StoredEvent], snapshot: StoredEvent | None) -> None:
        """These changes are stored: the cache's size estimate follows."""
        self._grow(aggregate, events, snapshot)

    async def save(self, *aggregates: Aggregate) -> None:
        """Write the aggregates' pending events now, outside any command (fixtures, tools)."""
        write = Write(expected={a.id: a.version - len(a.pending_events) for a in aggregates})
        collected = []
        for aggregate in aggregates:
            events, snapshot = self.collect(aggregate)
            write.events.extend(events)
            write.snapshots.extend([snapshot] if snapshot else [])
            collected.append((aggregate, events, snapshot))
        outcome = await self.store.commit([write])
        if not outcome.committed:
            raise StaleAggregate(f"newer events exist for {sorted(map(str, outcome.stale))}")
        for aggregate, events, snapshot in collected:
            if self._cache.get(aggregate.id) is aggregate:
                self._grow(aggregate, events, snapshot)
            else:
                self._remember(aggregate, OVERHEAD_BYTES + sum(len(e.state) for e in events))
            self._checked_out.discard(aggregate.id)
