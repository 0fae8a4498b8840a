"""The projection runner: exactly once across failures, cancellation, restarts and rivals."""

from __future__ import annotations

import asyncio
import io
import random
from typing import TYPE_CHECKING, Any, ClassVar

import asyncpg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper, StoredEvent, Tracking
from eventsourcing.utils import get_topic

from application.ports import Write
from application.projection import NotificationProjection, Projection
from domain.aggregate import DecoratedEvent
from infrastructure.event_store import ConcurrencyConflict, EventStore, TrackingConflict
from infrastructure.projection_runner import ProjectionRunner, stock_mapper
from infrastructure.rebuild import rebuild
from tests.conftest import NAMES
from tests.infrastructure.test_event_store import Calls


class Thing(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below
        Bumped: ClassVar[DecoratedEvent]

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    @event("Bumped")
    def bump(self, by: int) -> None:
        self.total += by

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


BUMPED = get_topic(Thing.Bumped)


class Counts:
    """Events per (topic, originator), with the last version and position seen."""

    def __init__(self, store: EventStore, name: str = "counts", topics: tuple[str, ...] = ()) -> None:
        self.name = name
        self.topics = topics
        self.table = store.names.q(f"test_{name}")

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table} (
                topic text, originator_id uuid, events int NOT NULL, last_version bigint NOT NULL,
                last_position bigint NOT NULL, PRIMARY KEY (topic, originator_id))"""
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute(f"DROP TABLE IF EXISTS {self.table}")

    async def handle(self, conn: Any, domain_event: Any, notification_id: int) -> None:
        await conn.execute(
            f"""INSERT INTO {self.table} AS t VALUES ($1, $2, 1, $3, $4)
                ON CONFLICT (topic, originator_id) DO UPDATE SET events = t.events + 1,
                last_version = excluded.last_version, last_position = excluded.last_position""",
            get_topic(type(domain_event)),
            domain_event.originator_id,
            domain_event.originator_version,
            notification_id,
        )

    async def rows(self, store: EventStore) -> list[tuple]:
        return [tuple(r) for r in await store.pool.fetch(f"SELECT * FROM {self.table} ORDER BY 1, 2")]


class Boom(Exception):
    pass


class FailsAt(Counts):
    """Raises from ``handle`` on its k-th event."""

    def __init__(self, store: EventStore, k: int, **kw: Any) -> None:
        super().__init__(store, **kw)
        self.k, self.seen = k, 0

    async def handle(self, conn: Any, domain_event: Any, notification_id: int) -> None:
        await super().handle(conn, domain_event, notification_id)  # partial write, to be rolled back
        self.seen += 1
        if self.seen == self.k:
            raise Boom(f"failed at event {self.k}")


class HangsAt(Counts):
    """Blocks inside ``handle`` (mid-transaction) on its k-th event until cancelled."""

    def __init__(self, store: EventStore, k: int, **kw: Any) -> None:
        super().__init__(store, **kw)
        self.k, self.seen, self.reached = k, 0, asyncio.Event()

    async def handle(self, conn: Any, domain_event: Any, notification_id: int) -> None:
        await super().handle(conn, domain_event, notification_id)
        self.seen += 1
        if self.seen == self.k:
            self.reached.set()
            await asyncio.Event().wait()


async def recomputed(store: EventStore, topics: tuple[str, ...] = ()) -> list[tuple]:
    """The expected projection, from scratch: SQL over the events table."""
    where = "WHERE topic = ANY($1::text[])" if topics else "WHERE $1::text[] IS NOT NULL"
    rows = await store.pool.fetch(
        f"""SELECT topic, originator_id, count(*)::int, max(originator_version), max(notification_id)
            FROM {store.events} {where} GROUP BY 1, 2 ORDER BY 1, 2""",
        list(topics),
    )
    return [tuple(r) for r in rows]


async def workload(store: EventStore, mapper: Mapper, rnd: random.Random, commands: int) -> None:
    """Random commands on a few aggregates, sometimes several aggregates per transaction."""
    things: list[Thing] = []
    for _ in range(commands):
        touched: list[Thing] = []
        for _ in range(rnd.choice([1, 1, 2, 3])):
            if not things or rnd.random() < 0.2:
                thing = Thing(name=f"t{len(things)}")
                things.append(thing)
            else:
                thing = rnd.choice(things)
                thing.bump(rnd.randint(1, 9)) if rnd.random() < 0.7 else thing.rename(f"n{rnd.random()}")
            touched.append(thing)
        unique = {t.id: t for t in touched}.values()
        events = [e for t in unique for e in t.collect_events()]
        await store.insert_events([mapper.to_stored_event(e) for e in events])


@pytest.fixture
def mapper() -> Mapper:
    return stock_mapper()


def test_the_test_projections_satisfy_the_protocol(store: EventStore):
    assert isinstance(Counts(store), Projection)
    assert not isinstance(Counts(store), NotificationProjection)


async def test_projection_equals_a_recomputation_after_a_random_workload(store: EventStore, mapper: Mapper):
    rnd = random.Random(11)
    everything, bumps = Counts(store), Counts(store, name="bumps", topics=(BUMPED,))
    runner = ProjectionRunner(store, [everything, bumps], mapper, batch_size=7)
    await runner.setup()
    for _ in range(6):
        await workload(store, mapper, rnd, rnd.randint(0, 25))
        await runner.catch_up()
    assert await everything.rows(store) == await recomputed(store)
    assert await bumps.rows(store) == await recomputed(store, (BUMPED,))
    head = await store.max_notification_id()
    assert head is not None and head > 50
    assert await runner.position(everything) == head
    assert await runner.position(bumps) == head  # advanced over the events it skips


async def test_a_filtered_projection_advances_even_when_no_event_matches(store: EventStore, mapper: Mapper):
    bumps = Counts(store, name="bumps", topics=(BUMPED,))
    runner = ProjectionRunner(store, [bumps], mapper)
    await runner.setup()
    thing = Thing(name="quiet")
    await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
    assert await runner.catch_up() == 0
    assert await runner.position(bumps) == await store.max_notification_id()
    assert await runner.step(bumps) is None  # caught up: no further transaction


@pytest.mark.parametrize("k", [1, 5, 7, 8, 23])
async def test_a_failure_mid_batch_loses_and_repeats_nothing(store: EventStore, mapper: Mapper, k: int):
    await workload(store, mapper, random.Random(k), 20)
    failing = FailsAt(store, k)
    runner = ProjectionRunner(store, [failing], mapper, batch_size=7)
    await runner.setup()
    with pytest.raises(Boom):
        await runner.catch_up()
    committed = await runner.position(failing)
    assert committed == (None if k <= 7 else (k - 1) // 7 * 7)  # only whole batches before k
    assert "counts" in runner.errors
    restarted = ProjectionRunner(store, [Counts(store)], mapper, batch_size=7)
    await restarted.catch_up()
    assert await failing.rows(store) == await recomputed(store)


@pytest.mark.parametrize("k", [3, 12])
async def test_cancelling_the_runner_mid_transaction_loses_and_repeats_nothing(
    store: EventStore, mapper: Mapper, k: int
):
    await workload(store, mapper, random.Random(k), 20)
    hanging = HangsAt(store, k)
    runner = ProjectionRunner(store, [hanging], mapper, batch_size=5)
    runner.start()
    await asyncio.wait_for(hanging.reached.wait(), 20)
    await runner.stop(grace=0.1)  # cancels the task inside handle, inside the transaction
    assert await runner.position(hanging) == (None if k <= 5 else (k - 1) // 5 * 5)
    partial = sum(r[2] for r in await hanging.rows(store))
    assert partial == (k - 1) // 5 * 5  # the interrupted batch's writes were rolled back
    restarted = ProjectionRunner(store, [Counts(store)], mapper, batch_size=5)
    await restarted.catch_up()
    assert await hanging.rows(store) == await recomputed(store)


async def test_one_failing_projection_does_not_hold_back_the_others(store: EventStore, mapper: Mapper):
    await workload(store, mapper, random.Random(3), 10)
    healthy, failing = Counts(store), FailsAt(store, 1, name="failing")
    runner = ProjectionRunner(store, [failing, healthy], mapper)
    await runner.setup()
    with pytest.raises(Boom):
        await runner.catch_up()
    assert await healthy.rows(store) == await recomputed(store)
    assert set(runner.errors) == {"failing"}


async def test_the_running_runner_retries_a_failed_projection_after_a_backoff(store: EventStore, mapper: Mapper):
    await workload(store, mapper, random.Random(4), 10)
    flaky, healthy = FailsAt(store, 1, name="flaky"), Counts(store)
    runner = ProjectionRunner(store, [flaky, healthy], mapper, poll_interval=60)
    runner.start()
    try:
        await runner.run_until(await store.max_notification_id(), timeout=20)
    finally:
        await runner.stop()
    assert flaky.seen > 1 and runner.errors == {}
    assert await flaky.rows(store) == await healthy.rows(store) == await recomputed(store)


async def test_the_running_runner_wakes_on_notify_without_polling(store: EventStore, mapper: Mapper):
    counts = Counts(store)
    runner = ProjectionRunner(store, [counts], mapper, poll_interval=60)
    runner.start()
    try:
        await asyncio.sleep(0.2)  # set up, caught up (nothing), now waiting
        thing = Thing(name="late")
        thing.bump(2)
        await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
        head = await store.max_notification_id()

        async def projected() -> None:
            while await runner.position(counts) != head:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(projected(), 20)  # would take 60 s if it only polled
    finally:
        await runner.stop()
    assert await counts.rows(store) == await recomputed(store)


async def test_two_runners_of_one_projection_take_turns_and_never_double_count(
    store: EventStore, fresh_dsn: str, mapper: Mapper
):
    other_store = await EventStore.open(fresh_dsn, NAMES)  # as if a second process
    try:
        first = ProjectionRunner(store, [Counts(store)], mapper, batch_size=3)
        second = ProjectionRunner(other_store, [Counts(other_store)], mapper, batch_size=3)
        first.start()
        second.start()
        await workload(store, mapper, random.Random(5), 40)
        head = await store.max_notification_id()
        await asyncio.gather(first.run_until(head), second.run_until(head))
        await asyncio.gather(first.stop(), second.stop())
    finally:
        await other_store.close()
    assert await Counts(store).rows(store) == await recomputed(store)


async def test_rolled_back_inserts_leave_id_gaps_that_the_runner_passes(store: EventStore, mapper: Mapper):
    thing = Thing(name="gappy")
    await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
    with pytest.raises(ConcurrencyConflict):  # consumes a sequence value, commits nothing
        await store.insert_events([StoredEvent(thing.id, 1, "x", b"{}")])
    thing.bump(1)
    await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
    counts = Counts(store)
    runner = ProjectionRunner(store, [counts], mapper)
    await runner.run_until(await store.max_notification_id())
    assert await counts.rows(store) == await recomputed(store)


def test_a_runner_refuses_duplicate_names_and_missing_mapper(store: EventStore):
    with pytest.raises(ValueError, match="unique"):
        ProjectionRunner(store, [Counts(store), Counts(store)], stock_mapper())
    with pytest.raises(ValueError, match="mapper"):
        ProjectionRunner(store, [Counts(store)], None)


async def test_rebuilt_tables_equal_the_live_ones(store: EventStore, mapper: Mapper):
    live = Counts(store)
    runner = ProjectionRunner(store, [live], mapper, batch_size=10)
    runner.start()
    await workload(store, mapper, random.Random(8), 60)
    await runner.run_until(await store.max_notification_id())
    await runner.stop()
    before = await live.rows(store)
    await store.pool.execute(f"UPDATE {live.table} SET events = events + 100")  # drifted read model
    progress = io.StringIO()
    stats = await rebuild(store, Counts(store), mapper, batch_size=13, out=progress)
    assert await live.rows(store) == before == await recomputed(store)
    assert stats.events == await store.pool.fetchval(f"SELECT count(*) FROM {store.events}")
    assert stats.position == await store.max_notification_id()
    assert "\r" in progress.getvalue() and "events/s" in progress.getvalue()


async def test_several_projections_read_the_log_once_and_decode_each_event_once(store: EventStore, mapper: Mapper):
    """Per NOTIFY, the read models cost one read of the log and one decode per event, not one per projection."""
    await workload(store, mapper, random.Random(8), 10)
    projections = [Counts(store, name=f"counts-{i}") for i in range(4)]
    reads: list[int] = []
    decodes = 0
    select, decode = store.select_notifications, mapper.to_domain_event

    async def counted_select(*args: Any, **kwargs: Any) -> Any:
        batch = await select(*args, **kwargs)
        reads.append(len(batch))
        return batch

    def counted_decode(n: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return decode(n)

    store.select_notifications = counted_select  # type: ignore[method-assign]
    mapper.to_domain_event = counted_decode  # type: ignore[method-assign,assignment]
    runner = ProjectionRunner(store, projections, mapper)
    await runner.setup()
    await runner.catch_up()
    events = len(await select(None, 10_000))
    assert reads == [events] and decodes == events
    for p in projections:
        assert await p.rows(store) == await recomputed(store)
        assert await runner.position(p) == await store.max_notification_id()


async def test_a_joint_batch_costs_the_same_statements_for_two_read_models_as_for_eight(
    store: EventStore, mapper: Mapper, fresh_dsn: str
):
    """A batch's fixed cost is paid per NOTIFY (per commit under light load, per gather under heavy), and once per
    brand: its positions and the log head are one read, and every read model's new position one write."""
    await workload(store, mapper, random.Random(3), 5)
    statements = 0

    def logged(_query: Any) -> None:
        nonlocal statements
        statements += 1

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(logged)

    pool = await asyncpg.create_pool(fresh_dsn, min_size=1, max_size=1, init=init)
    try:
        counted = EventStore(pool, NAMES)
        costs = []
        for n in (1, 2, 8):  # the first one warms the connection up (asyncpg's type introspection)
            runner = ProjectionRunner(
                counted, [Counts(counted, name=f"quiet-{n}-{i}", topics=("t:Never",)) for i in range(n)], mapper
            )
            await runner.setup()
            statements = 0
            assert await runner.step_together(runner.projections) == 0  # nothing of theirs: positions move on
            costs.append(statements)
            head = await store.max_notification_id()
            assert head is not None
            assert [await runner.position(p) for p in runner.projections] == [head] * n
        assert costs[1] == costs[2] and head is not None
        with pytest.raises(TrackingConflict, match="quiet-2-0"):  # one moved meanwhile: the batch writes nothing
            async with counted.transaction() as tx:
                await tx.insert_trackings([Tracking("quiet-2-1", head + 1), Tracking("quiet-2-0", head)])
        assert await counted.tracking_positions(["quiet-2-0", "quiet-2-1"]) == {"quiet-2-0": head, "quiet-2-1": head}
    finally:
        await pool.close()


async def test_with_a_gather_the_commits_that_land_together_are_projected_in_one_batch(
    store: EventStore, mapper: Mapper
):
    """Under load the read models should cost per batch, not per commit: after a NOTIFY the running runner
    waits ``gather`` seconds before reading, and takes every commit that landed meanwhile in one read."""
    counts = Counts(store)
    runner = ProjectionRunner(store, [counts], mapper, poll_interval=60, gather=2.0)
    reads: list[int] = []
    select = store.select_notifications

    async def counted(*args: Any, **kwargs: Any) -> Any:
        batch = await select(*args, **kwargs)
        if batch:
            reads.append(len(batch))
        return batch

    store.select_notifications = counted  # type: ignore[method-assign]

    async def insert(name: str) -> None:
        thing = Thing(name=name)
        await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])

    runner.start()
    try:
        await asyncio.sleep(2.5)  # set up, caught up (nothing), past the gather of the connection's wake-up
        await insert("first")
        await asyncio.sleep(0.3)  # a runner without a gather reads the first commit meanwhile
        await insert("second")
        await insert("third")
        head = await store.max_notification_id()
        async with asyncio.timeout(20):
            while await runner.position(counts) != head:
                await asyncio.sleep(0.02)
    finally:
        await runner.stop()
    assert reads == [3]
    assert await counts.rows(store) == await recomputed(store)


async def test_a_runner_takes_its_own_process_commits_from_memory_and_reads_the_others(
    store: EventStore, mapper: Mapper
):
    """The projections of a server read the log only for what another process committed: a batch wholly of this
    process's own group commits comes from the store's memory of them (EventStore.own_commits), also when a batch
    ends inside a commit. Either way the read models equal a recomputation from the log."""
    other = await EventStore.open(store.connect_dsn(), NAMES)
    reads = Calls(store, "select_notifications")
    everything, bumps = Counts(store), Counts(store, name="bumps", topics=(BUMPED,))
    runner = ProjectionRunner(store, [everything, bumps], mapper, batch_size=7)
    await runner.setup()
    rnd = random.Random(5)
    things = [Thing(name=f"t{i}") for i in range(3)]
    await store.commit([Write(events=[mapper.to_stored_event(e) for t in things for e in t.collect_events()])])
    await runner.catch_up()
    reads_before, theirs, batches = reads.count, 0, 0
    try:
        for _ in range(12):
            writer = rnd.choice([store, store, other])
            written = 0
            for _ in range(rnd.randint(1, 4)):  # several commits per round, up to 12 events each
                touched = rnd.sample(things, rnd.randint(1, 3))
                for t in touched:
                    for _ in range(rnd.randint(1, 4)):
                        t.bump(1) if rnd.random() < 0.7 else t.rename(f"n{rnd.random()}")
                events = [mapper.to_stored_event(e) for t in touched for e in t.collect_events()]
                assert (await writer.commit([Write(events=events)])).committed
                written += len(events)
            batches += -(-written // 7)
            theirs += -(-written // 7) if writer is other else 0
            await runner.catch_up()
    finally:
        await other.close()
    assert await everything.rows(store) == await recomputed(store)
    assert await bumps.rows(store) == await recomputed(store, (BUMPED,))
    assert reads.count - reads_before <= theirs < batches  # reads for the other process's commits only


class Gated(Counts):
    """Waits in ``handle`` until ``gate`` opens, and says when it got there."""

    def __init__(self, store: EventStore, **kw: Any) -> None:
        super().__init__(store, **kw)
        self.gate, self.inside = asyncio.Event(), asyncio.Event()

    async def handle(self, conn: Any, domain_event: Any, notification_id: int) -> None:
        self.inside.set()
        await self.gate.wait()
        await super().handle(conn, domain_event, notification_id)


async def test_a_busy_runner_waits_for_gather_events_and_an_idle_one_does_not(store: EventStore, mapper: Mapper):
    """Under load (a commit landed while a batch was being written) the running runner takes its next batch once
    ``gather_events`` events are waiting or ``busy_gather`` has passed, not at once: a batch's fixed cost is then
    paid per that many events. A commit after a quiet batch is taken at once, as before."""
    gated = Gated(store)
    runner = ProjectionRunner(store, [gated], mapper, poll_interval=60, busy_gather=30.0, gather_events=10)

    async def commit(n: int) -> int:
        things = [Thing(name=f"t{i}") for i in range(n)]
        events = [mapper.to_stored_event(e) for t in things for e in t.collect_events()]
        assert (await store.commit([Write(events=events)])).committed
        head = await store.max_notification_id()
        assert head is not None
        return head

    runner.start()
    try:
        first = await commit(1)
        async with asyncio.timeout(10):
            await gated.inside.wait()  # the first batch is being written
        second = await commit(1)  # lands meanwhile: the runner is busy
        await asyncio.sleep(0.2)  # its NOTIFY reaches the runner's listener
        gated.gate.set()
        await runner.run_until(first)
        await asyncio.sleep(0.5)
        assert await runner.position(gated) == first  # one event waiting, fewer than gather_events: not taken
        await runner.run_until(await commit(9), timeout=5)  # ten waiting: taken well before the busy gather ends
        assert second < await runner.position(gated)  # type: ignore[operator]
        await asyncio.sleep(0.3)  # nothing landed during that batch: the runner is idle
        await runner.run_until(await commit(1), timeout=5)  # one event, taken at once
    finally:
        await runner.stop()
    assert await gated.rows(store) == await recomputed(store)
