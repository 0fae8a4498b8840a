"""Group commit on a real PostgreSQL: commands ready together commit together, each with its own outcome."""

from __future__ import annotations

import asyncio
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper

from application.admission import Admission, Budget
from application.repository import Repository
from application.unit_of_work import CommandRunner, Idempotency
from domain.errors import RuleViolation
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import stock_mapper
from tests.infrastructure.test_repository import Counter


def mapper() -> Mapper:
    return stock_mapper()  # the stock built-in transcodings


class GatedStore:
    """The real store, whose first commit waits at a gate, so later commands queue up into one batch."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.gate = asyncio.Event()
        self.in_commit = asyncio.Event()
        self.batch_sizes: list[int] = []

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def commit(self, writes):
        self.batch_sizes.append(len(writes))
        if len(self.batch_sizes) == 1:
            self.in_commit.set()
            await self.gate.wait()
        return await self.store.commit(writes)


def runner_for(repo: Repository) -> CommandRunner:
    """A runner whose admission budget these tests do not reach: they fire hundreds of commands at once."""
    return CommandRunner(repo, admission=Admission(Budget(max_in_flight=100_000, max_queue_per_aggregate=100_000)))


def increment(cid, by: int = 1):
    async def handler(uow):
        counter = await uow.get(cid, Counter)
        counter.increment(by)
        return counter.count

    return handler


async def saved_counter(repo: Repository, name: str = "c") -> Counter:
    c = Counter(name)
    await repo.save(c)
    return c


async def count_rows(store: EventStore, table: str, where: str = "true") -> int:
    return await store.pool.fetchval(f"SELECT count(*) FROM {store.names.q(table)} WHERE {where}")


async def test_many_concurrent_commands_on_one_aggregate_commit_exactly_once_each_in_few_transactions(
    store: EventStore,
):
    repo = Repository(store, mapper())
    c = await saved_counter(repo)
    runner = runner_for(repo)
    n = 200
    replies = await asyncio.gather(
        *(
            runner.run_idempotent(increment(c.id), Idempotency(f"r-{i}", "Increment", b"h"), lambda v: str(v).encode())
            for i in range(n)
        )
    )
    assert sorted(int(r) for r in replies) == list(range(1, n + 1))  # each saw the one before it
    versions = await store.pool.fetch(
        f"SELECT originator_version FROM {store.events} WHERE originator_id = $1 ORDER BY 1", c.id
    )
    assert [r[0] for r in versions] == list(range(1, n + 2))
    assert await count_rows(store, "request_log") == n
    assert runner.committer.batches < n / 4  # grouped, not one transaction per command
    assert (await Repository(store, mapper()).get(c.id, Counter)).count == n


async def test_many_concurrent_commands_on_many_aggregates_commit_exactly_once_each(store: EventStore):
    repo = Repository(store, mapper())
    counters = [await saved_counter(repo, f"c{i}") for i in range(40)]
    runners = [runner_for(repo), runner_for(Repository(store, mapper()))]  # two processes' worth
    await asyncio.gather(
        *(
            runners[k % 2].run_idempotent(increment(c.id), Idempotency(f"r-{i}-{k}", "I", b"h"), lambda v: b"")
            for i, c in enumerate(counters)
            for k in range(5)
        )
    )
    fresh = Repository(store, mapper())
    assert [(await fresh.get(c.id, Counter)).count for c in counters] == [5] * 40
    assert await count_rows(store, "request_log") == 200


async def test_a_failing_command_does_not_fail_its_batch_mates(store: EventStore):
    other = Repository(store, mapper())
    hot, stale, first = [await saved_counter(other, n) for n in ("hot", "stale", "first")]
    gated = GatedStore(store)
    repo = Repository(gated, mapper())
    await repo.get(stale.id, Counter)  # cached here; now another process moves it on:
    theirs = await other.get(stale.id, Counter, for_update=True)
    theirs.increment(10)
    await other.save(theirs)
    done_elsewhere = Idempotency("done-elsewhere", "Increment", b"h")
    await runner_for(other).run_idempotent(increment(hot.id, 100), done_elsewhere, lambda v: f"stored {v}".encode())
    runner = runner_for(repo)

    blocker = asyncio.ensure_future(runner.run(increment(first.id)))
    await gated.in_commit.wait()  # the first batch is being written: everything below queues up behind it
    runs: list[int] = []

    def mate(i: int):
        async def handler(uow):
            runs.append(i)
            return await increment(hot.id)(uow)

        return handler

    def mates(numbers):
        return [
            asyncio.ensure_future(
                runner.run_idempotent(mate(i), Idempotency(f"ok-{i}", "Increment", b"h"), lambda v: str(v).encode())
            )
            for i in numbers
        ]

    before = mates(range(5))
    duplicate = asyncio.ensure_future(
        runner.run_idempotent(increment(hot.id), done_elsewhere, lambda v: str(v).encode())
    )
    after = mates(range(5, 10))  # these build on the duplicate's change, which will not be written
    rejected = asyncio.ensure_future(runner.run(increment(hot.id, by=0)))  # a rule violation
    retried = asyncio.ensure_future(runner.run(increment(stale.id)))  # stale in this process's cache
    await asyncio.sleep(0.05)
    gated.gate.set()
    await blocker
    assert sorted(int(r) for r in await asyncio.gather(*before, *after)) == list(range(101, 111))
    assert gated.batch_sizes[1] >= 12  # the mates, the stale one and the duplicate were written as one batch
    # Those before the duplicate ran once: committed in the next round, not run again. Those after it
    # had built on its change and ran again on the stored state (more than once if, while the committer
    # gathered, the state they ran on again was itself overtaken).
    assert sorted(i for i in runs if i < 5) == [0, 1, 2, 3, 4]
    assert all(runs.count(i) >= 2 for i in range(5, 10))
    with pytest.raises(RuleViolation):
        await rejected
    assert await retried == 11  # refused as stale, run again alone on fresh state
    assert await duplicate == b"stored 100"  # the other process's response, and no second increment
    fresh = Repository(store, mapper())
    assert (await fresh.get(hot.id, Counter)).count == 110
    versions = [
        r[0]
        for r in await store.pool.fetch(
            f"SELECT originator_version FROM {store.events} WHERE originator_id = $1 ORDER BY 1", hot.id
        )
    ]
    assert versions == list(range(1, 13))  # no gap where the duplicate's change would have been
    assert (await fresh.get(stale.id, Counter)).count == 11


async def test_a_reader_tailing_the_log_sees_every_notification_in_order_without_gaps(store: EventStore):
    repos = [Repository(store, mapper()), Repository(store, mapper())]
    counters = [await saved_counter(repos[0], f"c{i}") for i in range(5)]
    runners = [runner_for(r) for r in repos]
    start = await store.max_notification_id()
    seen: list[int] = []
    total = 300

    async def tail():
        async for n in store.subscribe(gt=start, poll_interval=0.05):
            seen.append(n.id)
            if len(seen) == total:
                return

    reader = asyncio.ensure_future(tail())
    await asyncio.gather(*(runners[i % 2].run(increment(counters[i % 5].id)) for i in range(total)))
    await asyncio.wait_for(reader, 30)
    ids = [
        r[0]
        for r in await store.pool.fetch(
            f"SELECT notification_id FROM {store.events} WHERE notification_id > $1 ORDER BY 1", start
        )
    ]
    assert seen == ids  # in order, none skipped
    assert ids == list(range(ids[0], ids[0] + total))


async def test_idempotent_retries_return_the_original_response_from_memory_and_after_a_restart(store: EventStore):
    repo = Repository(store, mapper())
    c = await saved_counter(repo)
    idem = Idempotency("once", "Increment", b"h")

    def once(cid):
        async def handler(uow):
            counter = await uow.get(cid, Counter)
            if counter.count:  # a retry after the first one succeeded would be refused
                raise RuleViolation("already counted", reason="ALREADY")
            counter.increment(1)
            return counter.count

        return handler

    first = await runner_for(repo).run_idempotent(once(c.id), idem, lambda v: f"count {v}".encode())
    head = await store.max_notification_id()
    again = await runner_for(repo).run_idempotent(once(c.id), idem, lambda v: b"new")
    restarted = await runner_for(Repository(store, mapper())).run_idempotent(
        increment(c.id), idem, lambda v: b"new"
    )  # would succeed again: the request log says it is done
    assert first == again == restarted == b"count 1"
    assert await store.max_notification_id() == head
    assert (await Repository(store, mapper()).get(c.id, Counter)).count == 1


class Named(Aggregate):
    """An aggregate whose id follows from its name, as a member's follows from its openid."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, name)

    @event("Named")
    def __init__(self, name: str) -> None:
        self.name = name


async def test_a_new_aggregate_created_by_concurrent_commands_is_created_once(store: EventStore):
    runner = runner_for(Repository(store, mapper()))
    name = f"n-{uuid4()}"

    async def create(uow):
        if await uow.exists(Named.create_id(name)):
            return "exists"
        await uow.add(Named(name))
        return "created"

    results = await asyncio.gather(*(runner.run(create) for _ in range(5)))
    assert sorted(results) == ["created"] + ["exists"] * 4
    assert await count_rows(store, "loyaltyengine_events", f"originator_id = '{Named.create_id(name)}'") == 1


async def test_a_command_reading_the_programme_from_memory_runs_again_when_another_process_published(store: EventStore):
    from dataclasses import replace

    from application.clock import ManualClock
    from application.programmes import ProgrammeCatalog
    from domain.programme import LoyaltyProgramme
    from infrastructure.mapper import build_mapper
    from tests.application.conftest import START

    clock = ManualClock(START)
    here = runner_for(Repository(store, build_mapper({})))
    there = runner_for(Repository(store, build_mapper({})))
    catalog_here, catalog_there = ProgrammeCatalog(here, clock), ProgrammeCatalog(there, clock)
    c = await saved_counter(here.repository)
    assert (await catalog_here.current("acme")).version == 1  # now known here as never published
    await catalog_there.publish(replace(LoyaltyProgramme.default("acme"), version=2))

    seen = []

    async def count_under_the_rules_in_force(uow):
        seen.append((await catalog_here.current("acme")).version)
        (await uow.get(c.id, Counter)).increment(1)

    await here.run(count_under_the_rules_in_force)
    assert seen == [1, 2]  # read from memory, refused at commit, run again on the published rules


async def test_a_read_inside_a_command_comes_from_memory_and_is_checked_at_its_commit(store: EventStore):
    here = Repository(store, mapper())
    runner = runner_for(here)
    a, b = await saved_counter(here, "a"), await saved_counter(here, "b")
    other = Repository(store, mapper())
    theirs = await other.get(b.id, Counter, for_update=True)
    theirs.increment(5)
    await other.save(theirs)  # this process's cached copy of b is now behind
    seen = []

    async def copy_b_onto_a(uow):
        seen.append((await here.get(b.id, Counter)).count)
        (await uow.get(a.id, Counter)).increment(1)

    await runner.run(copy_b_onto_a)
    assert seen == [0, 5]  # the stale read was refused at commit and the command ran again


async def test_two_processes_batching_on_one_hot_aggregate_lose_nothing_and_abort_nothing(store: EventStore):
    repos = [Repository(store, mapper()), Repository(store, mapper())]
    c = await saved_counter(repos[0])
    runners = [runner_for(r) for r in repos]  # the default retry bound

    async def client(k: int) -> None:
        for j in range(20):
            await runners[k % 2].run_idempotent(increment(c.id), Idempotency(f"{k}-{j}", "I", b"h"), lambda v: b"")

    await asyncio.gather(*(client(k) for k in range(32)))
    assert (await Repository(store, mapper()).get(c.id, Counter)).count == 640
    assert await count_rows(store, "request_log") == 640
