"""Repository and command runner against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper

from application.repository import Repository
from application.unit_of_work import CommandRunner, Conflict, Idempotency
from domain.errors import InvalidArgument, NotFound, RuleViolation
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import stock_mapper


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def increment(self, by: int) -> None:
        if by <= 0:
            raise RuleViolation("must increase", reason="NOT_POSITIVE")
        self._incremented(by)

    @event("Incremented")
    def _incremented(self, by: int) -> None:
        self.count += by


def mapper() -> Mapper:
    return stock_mapper()  # the stock built-in transcodings


@pytest.fixture
def repo(store: EventStore) -> Repository:
    return Repository(store, mapper(), snapshot_interval=5)


async def test_saved_aggregate_is_loaded_with_equal_state(repo: Repository):
    c = Counter("a")
    c.increment(2)
    await repo.save(c)
    repo.forget([c.id])
    loaded = await repo.get(c.id, Counter)
    assert (loaded.name, loaded.count, loaded.version) == ("a", 2, 2)


async def test_unknown_aggregate_is_not_found(repo: Repository):
    with pytest.raises(NotFound):
        await repo.get(uuid4(), Counter)


async def test_snapshots_are_taken_at_the_interval_and_used(repo: Repository, store: EventStore):
    c = Counter("a")
    for _ in range(11):
        c.increment(1)
    await repo.save(c)
    snap = await store.latest_snapshot(c.id)
    assert snap is not None and snap.originator_version == 12
    fresh = Repository(store, mapper(), snapshot_interval=5)
    loaded = await fresh.get(c.id, Counter)
    assert loaded.count == 11 and loaded.version == 12
    older = await fresh.get_as_of(c.id, version=4)
    assert isinstance(older, Counter) and older.count == 3


async def test_cache_stays_correct_when_another_process_writes(repo: Repository, store: EventStore):
    c = Counter("a")
    await repo.save(c)
    await repo.get(c.id, Counter)  # cached now
    other = Repository(store, mapper())
    theirs = await other.get(c.id, Counter, for_update=True)
    theirs.increment(5)
    await other.save(theirs)
    assert (await repo.get(c.id, Counter)).count == 5


async def test_as_of_a_time_replays_events_recorded_until_then(repo: Repository):
    c = Counter("a")
    await repo.save(c)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    mine = await repo.get(c.id, Counter, for_update=True)
    mine.increment(3)
    await repo.save(mine)
    before, after = await repo.get_as_of(c.id, at=cut), await repo.get_as_of(c.id, at=cut + timedelta(days=1))
    assert isinstance(before, Counter) and isinstance(after, Counter)
    assert before.count == 0 and after.count == 3


async def _increment(runner: CommandRunner, cid: UUID, by: int = 1) -> int:
    async def handler(uow):
        counter = await uow.get(cid, Counter)
        counter.increment(by)
        return counter.count

    return await runner.run(handler)


async def test_concurrent_commands_on_one_aggregate_all_apply(repo: Repository):
    c = Counter("hot")
    await repo.save(c)
    runner = CommandRunner(repo)
    await asyncio.gather(*(_increment(runner, c.id) for _ in range(40)))
    assert (await repo.get(c.id, Counter)).count == 40


async def test_writers_in_two_processes_retry_on_conflict_and_lose_nothing(store: EventStore):
    first, second = Repository(store, mapper()), Repository(store, mapper())
    c = Counter("hot")
    await first.save(c)
    runners = [CommandRunner(first, max_attempts=50), CommandRunner(second, max_attempts=50)]
    await asyncio.gather(*(_increment(runners[i % 2], c.id) for i in range(30)))
    assert (await first.get(c.id, Counter)).count == 30


async def test_conflicts_beyond_the_retry_bound_surface_as_conflict(store: EventStore):
    repo = Repository(store, mapper())
    c = Counter("a")
    await repo.save(c)

    async def always_stale(uow):
        counter = await uow.get(c.id, Counter)
        other = Repository(store, mapper())
        theirs = await other.get(c.id, Counter, for_update=True)
        theirs.increment(1)
        await other.save(theirs)  # someone else wins every time
        counter.increment(1)

    with pytest.raises(Conflict):
        await CommandRunner(repo, max_attempts=3).run(always_stale)


async def test_a_rejected_command_writes_nothing(repo: Repository, store: EventStore):
    c = Counter("a")
    await repo.save(c)
    before = await store.max_notification_id()
    with pytest.raises(RuleViolation):
        await _increment(CommandRunner(repo), c.id, by=0)
    assert await store.max_notification_id() == before


async def test_a_retried_request_returns_the_stored_response_and_writes_nothing(repo: Repository, store: EventStore):
    c = Counter("a")
    await repo.save(c)
    runner = CommandRunner(repo)

    async def handler(uow):
        counter = await uow.get(c.id, Counter)
        counter.increment(1)
        return counter.count

    idem = Idempotency("req-1", "Increment", b"hash-1")
    first = await runner.run_idempotent(handler, idem, lambda n: str(n).encode())
    position = await store.max_notification_id()
    again = await runner.run_idempotent(handler, idem, lambda n: str(n).encode())
    assert first == again == b"1"
    assert await store.max_notification_id() == position
    with pytest.raises(InvalidArgument) as e:
        await runner.run_idempotent(handler, Idempotency("req-1", "Increment", b"other"), lambda n: b"")
    assert e.value.reason == "REQUEST_ID_REUSED"


async def test_concurrent_duplicates_of_one_request_apply_once(repo: Repository):
    c = Counter("a")
    await repo.save(c)
    runners = [CommandRunner(repo), CommandRunner(Repository(repo.store, mapper()))]

    async def handler(uow):
        counter = await uow.get(c.id, Counter)
        counter.increment(1)
        return counter.count

    idem = Idempotency("dup", "Increment", b"h")
    results = await asyncio.gather(
        *(runners[i % 2].run_idempotent(handler, idem, lambda n: str(n).encode()) for i in range(6))
    )
    assert set(results) == {b"1"}
    assert (await repo.get(c.id, Counter)).count == 1


async def test_readers_never_see_a_writers_uncommitted_changes(repo: Repository):
    c = Counter("a")
    await repo.save(c)
    runner = CommandRunner(repo)
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_writer(uow):
        counter = await uow.get(c.id, Counter)
        counter.increment(5)
        inside.set()
        await go_on.wait()  # changed in place, not yet committed

    task = asyncio.create_task(runner.run(slow_writer))
    await inside.wait()
    assert (await repo.get(c.id, Counter)).count == 0
    go_on.set()
    await task
    assert (await repo.get(c.id, Counter)).count == 5


async def test_a_failed_command_leaves_no_trace_in_the_cache(repo: Repository):
    c = Counter("a")
    await repo.save(c)
    runner = CommandRunner(repo)

    async def fails_half_way(uow):
        counter = await uow.get(c.id, Counter)
        counter.increment(7)
        raise RuleViolation("changed my mind", reason="NOPE")

    with pytest.raises(RuleViolation):
        await runner.run(fails_half_way)
    assert (await repo.get(c.id, Counter)).count == 0
    assert await _increment(runner, c.id) == 1
