"""The asyncpg event store against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import random
from uuid import uuid4

import asyncpg
import pytest
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking

from application.ports import Write
from infrastructure.event_store import ConcurrencyConflict, EventStore, OwnCommits, TrackingConflict
from infrastructure.migrations import MIGRATIONS, migrate
from tests.conftest import NAMES


def ev(originator_id, version, topic="t:E", state=b"{}"):
    return StoredEvent(originator_id, version, topic, state)


async def test_inserted_events_are_selected_in_version_order(store: EventStore):
    a = uuid4()
    await store.insert_events([ev(a, 1, state=b"1"), ev(a, 2, state=b"2")])
    await store.insert_events([ev(a, 3, state=b"3")])
    got = await store.select_events(a)
    assert [(e.originator_version, e.state) for e in got] == [(1, b"1"), (2, b"2"), (3, b"3")]
    assert [e.originator_version for e in await store.select_events(a, gt=1, lte=2)] == [2]
    assert [e.originator_version for e in await store.select_events(a, desc=True, limit=1)] == [3]


async def test_notification_ids_are_contiguous_and_ascending(store: EventStore):
    a, b = uuid4(), uuid4()
    ids1 = await store.insert_events([ev(a, 1), ev(b, 1)])
    ids2 = await store.insert_events([ev(a, 2)])
    assert ids1 + ids2 == list(range(ids1[0], ids1[0] + 3))
    notes = await store.select_notifications(start=None, limit=10)
    assert [n.id for n in notes] == ids1 + ids2
    assert await store.max_notification_id() == ids2[-1]


async def test_events_of_several_aggregates_commit_or_fail_together(store: EventStore):
    a, b = uuid4(), uuid4()
    await store.insert_events([ev(b, 1)])
    with pytest.raises(ConcurrencyConflict):
        await store.insert_events([ev(a, 1), ev(b, 1)])
    assert await store.select_events(a) == []
    assert len(await store.select_events(b)) == 1


async def test_two_writers_racing_on_one_version_exactly_one_wins(store: EventStore):
    """The loser's whole transaction (its other aggregate and its tracking) is rolled back."""
    contested = uuid4()
    others = [uuid4(), uuid4()]
    start = asyncio.Event()

    async def writer(i: int):
        await start.wait()
        async with store.transaction() as tx:
            await tx.insert_tracking(Tracking(f"writer-{i}", 7))
            await tx.insert_events([ev(others[i], 1), ev(contested, 1, state=str(i).encode())])

    tasks = [asyncio.create_task(writer(i)) for i in range(2)]
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError)
    winner = results.index(None)
    loser = 1 - winner
    assert (await store.select_events(contested))[0].state == str(winner).encode()
    assert len(await store.select_events(others[winner])) == 1
    assert await store.select_events(others[loser]) == []
    assert await store.max_tracking_id(f"writer-{winner}") == 7
    assert await store.max_tracking_id(f"writer-{loser}") is None


async def test_tracking_position_only_moves_forward(store: EventStore):
    await store.insert_tracking(Tracking("proj", 5))
    with pytest.raises(TrackingConflict):
        await store.insert_tracking(Tracking("proj", 5))
    with pytest.raises(IntegrityError):
        await store.insert_tracking(Tracking("proj", 3))
    await store.insert_tracking(Tracking("proj", 9))
    assert await store.max_tracking_id("proj") == 9
    assert await store.has_tracking_id("proj", 9)
    assert not await store.has_tracking_id("proj", 10)


async def test_a_tailing_reader_never_skips_an_event_that_commits_late(store: EventStore):
    """Writers hold their transactions open for random times after inserting; a
    reader polling the log concurrently must still see every id exactly once."""
    rnd = random.Random(7)
    done = asyncio.Event()

    async def writer():
        for _ in range(15):
            async with store.transaction() as tx:
                await tx.insert_events([ev(uuid4(), 1)])
                await asyncio.sleep(rnd.random() * 0.01)

    seen: list[int] = []

    async def reader():
        position = None
        while True:
            finished = done.is_set()
            batch = await store.select_notifications(position, 100, inclusive_of_start=False)
            for n in batch:
                seen.append(n.id)
                position = n.id
            if finished and not batch:
                return
            await asyncio.sleep(0)

    r = asyncio.create_task(reader())
    await asyncio.gather(*(writer() for _ in range(6)))
    done.set()
    await r
    everything = [n.id for n in await store.select_notifications(None, 1000)]
    assert len(everything) == 90
    assert seen == everything


async def test_subscription_wakes_on_new_events_without_polling(store: EventStore):
    a = uuid4()
    await store.insert_events([ev(a, 1)])
    got: list[int] = []

    async def consume():
        async for n in store.subscribe(gt=None, poll_interval=60):
            got.append(n.originator_version)
            if len(got) == 3:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    await store.insert_events([ev(a, 2)])
    await store.insert_events([ev(a, 3)])
    await asyncio.wait_for(task, timeout=20)  # would take 60 s if only polling
    assert got == [1, 2, 3]


async def test_snapshots_are_kept_apart_and_the_latest_up_to_a_version_is_found(store: EventStore):
    a = uuid4()
    await store.insert_snapshot(ev(a, 10, topic="t:Snapshot", state=b"s10"))
    await store.insert_snapshot(ev(a, 20, topic="t:Snapshot", state=b"s20"))
    latest, earlier = await store.latest_snapshot(a), await store.latest_snapshot(a, lte=15)
    assert latest is not None and latest.state == b"s20"
    assert earlier is not None and earlier.state == b"s10"
    assert await store.select_events(a) == []


async def test_migrations_run_once(fresh_dsn: str):
    conn = await asyncpg.connect(fresh_dsn)
    try:
        versions = [version for version, _, _ in MIGRATIONS]
        assert versions == list(range(1, len(versions) + 1))  # consecutive, none reused
        assert await migrate(conn, NAMES) == versions
        assert await migrate(conn, NAMES) == []
    finally:
        await conn.close()


async def test_a_subscription_to_rare_topics_moves_past_the_events_it_skips(store: EventStore):
    """A follower of rare topics must not rescan every event since its last match on each NOTIFY: once a read
    comes back short, its position moves to the head read before it, and ``progress`` says so."""
    a, b = uuid4(), uuid4()
    await store.insert_events([ev(a, 1, topic="t:Rare")])
    scanned: list[int] = []
    got: list[int] = []

    async def consume():
        async for n in store.subscribe(gt=None, topics=["t:Rare"], poll_interval=60, progress=scanned.append):
            got.append(n.id)
            if len(got) == 2:
                return

    task = asyncio.create_task(consume())
    common = [await store.insert_events([ev(b, v)]) for v in range(1, 6)]
    head = common[-1][-1]
    async with asyncio.timeout(20):
        while not scanned or scanned[-1] < head:
            await asyncio.sleep(0.01)
    (rare,) = await store.insert_events([ev(a, 2, topic="t:Rare")])
    await asyncio.wait_for(task, timeout=20)
    assert got[1] == rare
    assert scanned == sorted(scanned) and head in scanned and all(s not in got for s in scanned)


class Calls:
    """Counts the calls of one of an object's coroutine methods (replaced on the instance)."""

    def __init__(self, obj: object, method: str) -> None:
        self.count = 0
        inner = getattr(obj, method)

        async def counted(*args, **kwargs):
            self.count += 1
            return await inner(*args, **kwargs)

        setattr(obj, method, counted)


class CountingPool:
    """The store's pool, counting the statements run through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.statements = pool, 0

    def __getattr__(self, name: str):
        attr = getattr(self.pool, name)
        if name in ("fetch", "fetchrow", "fetchval", "execute"):

            async def counted(*args, **kwargs):
                self.statements += 1
                return await attr(*args, **kwargs)

            return counted
        return attr


async def test_a_follower_of_some_topics_reads_the_head_and_its_events_in_one_statement(store: EventStore):
    """Per NOTIFY a follower (store directory, ...) needs the log head and its events up to it: one round trip, in
    one snapshot, so every id up to that head is committed and the position can move to it."""
    a, b = uuid4(), uuid4()
    assert await store.select_notifications_to_head(None, 10, ["t:Rare"]) == (None, [])
    (first,) = await store.insert_events([ev(a, 1, topic="t:Rare")])
    common = await store.insert_events([ev(b, 1), ev(b, 2)])
    head, rows = await store.select_notifications_to_head(None, 10, ["t:Rare"])
    assert (head, [n.id for n in rows]) == (common[-1], [first])
    assert await store.select_notifications_to_head(first, 10, ["t:Rare"]) == (common[-1], [])
    (second,) = await store.insert_events([ev(a, 2, topic="t:Rare", state=b'{"x":1}')])
    head, rows = await store.select_notifications_to_head(first - 1, 1, ["t:Rare"])  # the limit holds
    assert (head, [n.id for n in rows]) == (second, [first])
    head, rows = await store.select_notifications_to_head(first, 10, ["t:Rare", "t:E"])
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in rows] == [
        (common[0], b, 1, "t:E", b"{}"),
        (common[1], b, 2, "t:E", b"{}"),
        (second, a, 2, "t:Rare", b'{"x":1}'),
    ]

    counting = CountingPool(store.pool)
    store.pool = counting  # type: ignore[assignment]
    scanned: list[int] = []
    async for n in store.subscribe(gt=second - 1, topics=["t:Rare"], poll_interval=60, progress=scanned.append):
        assert n.id == second
        break
    assert counting.statements == 1


async def test_a_waiting_subscription_moves_past_group_commits_of_other_topics_without_a_query(store: EventStore):
    """A group commit's NOTIFY names the ids and topics it wrote: a follower of other topics that has read up to
    just before it moves on with no query; a commit of its own topic is read and yielded as usual."""
    a, b = uuid4(), uuid4()
    await store.commit([Write(events=[ev(a, 1, topic="t:Rare")])])
    scanned, got = list[int](), list[int]()
    reads = Calls(store, "select_notifications_to_head")

    async def consume():
        async for n in store.subscribe(gt=None, topics=["t:Rare"], poll_interval=60, progress=scanned.append):
            got.append(n.id)
            if len(got) == 2:
                return

    task = asyncio.create_task(consume())
    async with asyncio.timeout(20):
        while not got or reads.count < 1:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the first read is done and the subscription waits
    reads_before = reads.count
    for version in range(1, 21):
        await store.commit([Write(events=[ev(b, version, topic="t:Common")])])
    head = await store.max_notification_id()
    assert head is not None
    async with asyncio.timeout(20):
        while not scanned or scanned[-1] < head:
            await asyncio.sleep(0.01)
    assert reads.count == reads_before  # twenty commits of another topic: not one query
    other = await EventStore.open(store.connect_dsn(), NAMES)  # another process: its commit is read from the log
    try:
        await other.commit([Write(events=[ev(a, 2, topic="t:Rare")])])
    finally:
        await other.close()
    await asyncio.wait_for(task, timeout=20)
    assert got[1] == await store.max_notification_id() and reads.count == reads_before + 1


def _rows(notifications):
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]


async def test_a_group_commit_keeps_what_it_wrote_under_the_ids_it_was_given(store: EventStore):
    """The commit function answers with the first and last id it gave (migration 6): what the store keeps of
    its own commit is exactly what the log holds under those ids, in order; a commit that wrote nothing keeps
    nothing."""
    a, b = uuid4(), uuid4()
    await store.commit([Write(events=[ev(a, 1)])])
    before = await store.max_notification_id()
    writes = [
        Write(events=[ev(a, 2, "t:A", b'{"n":1}'), ev(b, 1, "t:B", b'{"n":2}')]),
        Write(events=[ev(b, 2, "t:B", b'{"n":3}')], snapshots=[ev(b, 2, "t:S")]),
    ]
    assert (await store.commit(writes)).committed
    kept = store.own_commits.after(before)
    assert _rows(kept) == _rows(await store.select_notifications(before, 10, inclusive_of_start=False))
    assert [n.state for n in kept] == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    head = await store.max_notification_id()
    stale = await store.commit([Write(events=[ev(a, 3)], expected={a: 1})])
    assert not stale.committed and stale.stale == {a}
    assert store.own_commits.after(head) == [] and await store.max_notification_id() == head


def test_own_commits_are_bounded_in_bytes_and_only_an_unbroken_run_is_kept():
    own = OwnCommits(budget_bytes=3_000)
    a = uuid4()
    own.add(1, 2, [ev(a, 1, state=b"x" * 500), ev(a, 2, state=b"x" * 500)])
    own.add(3, 3, [ev(a, 3, state=b"x" * 500)])
    assert [n.id for n in own.after(0)] == [1, 2, 3] and [n.id for n in own.after(2)] == [3]
    assert [(n.id, n.originator_version) for n in own.after(1)] == [(2, 2), (3, 3)]  # from inside a commit
    assert own.after(3) == [] and own.after(None) == []
    own.add(10, 12, [ev(a, 4)])  # three ids for one event: not ours to vouch for
    assert own.after(9) == []
    own.add(6, 6, [ev(a, 6)])  # answers of concurrent commits can come back out of order
    assert [n.id for n in own.after(2)] == [3] and own.after(5)[0].originator_version == 6
    own.add(4, 5, [ev(a, 4, state=b"x" * 400), ev(a, 5, state=b"x" * 400)])
    assert [n.id for n in own.after(2)] == [3, 4, 5, 6]
    assert own.after(0) == [] and own.bytes <= own.budget_bytes  # the oldest went first


class _LateAnswers:
    """The store's pool, whose connections hand a statement's answer over 20 ms after it came: a group commit's
    NOTIFY then reaches the followers before its answer reaches the committer (PostgreSQL signals the listeners
    as it commits, before it answers)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def __getattr__(self, name: str):
        return getattr(self.pool, name)

    async def acquire(self):
        return _LateConnection(await self.pool.acquire())

    async def release(self, conn) -> None:
        await self.pool.release(conn.conn)


class _LateConnection:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __getattr__(self, name: str):
        return getattr(self.conn, name)

    async def fetch(self, *args, **kwargs):
        rows = await self.conn.fetch(*args, **kwargs)
        await asyncio.sleep(0.02)
        return rows


@pytest.mark.parametrize("late_answers", [False, True], ids=["answer-first", "notify-first"])
async def test_a_follower_takes_its_own_process_commits_from_memory_and_reads_the_others(
    store: EventStore, late_answers: bool
):
    """A follower of the store (the store directory) takes the commits its own process made from memory, also
    when their NOTIFY comes before the commit's answer; a commit of another process (another store on the
    database) it hears of by NOTIFY and reads. Whatever the interleaving, it yields exactly the log's events of
    its topics, in order, once each."""
    if late_answers:
        store.pool = _LateAnswers(store.pool)  # type: ignore[assignment]
    reads = Calls(store, "select_notifications_to_head")
    other = await EventStore.open(store.connect_dsn(), NAMES)
    got: list[Notification] = []
    scanned: list[int] = []

    async def follow():
        async for n in store.subscribe(gt=0, topics=["t:X"], poll_interval=60, progress=scanned.append):
            got.append(n)

    task = asyncio.create_task(follow())
    rng = random.Random(7)
    aggregates = {uuid4(): 0 for _ in range(4)}
    theirs = 0
    try:
        for i in range(40):
            writer = rng.choice([store, store, other])
            theirs += writer is other
            events = []
            for aggregate in rng.sample(list(aggregates), rng.randint(1, 3)):
                aggregates[aggregate] += 1
                events.append(ev(aggregate, aggregates[aggregate], rng.choice(["t:X", "t:Y"]), b'{"i":%d}' % i))
            assert (await writer.commit([Write(events=events)])).committed
            head = await store.max_notification_id()
            assert head is not None
            async with asyncio.timeout(20):  # caught up: yielded its last event of t:X, or moved past the rest
                while max([n.id for n in got] + scanned + [0]) < head:
                    await asyncio.sleep(0.005)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await other.close()
    assert _rows(got) == _rows(await store.select_notifications(None, 1_000, topics=["t:X"]))
    assert reads.count <= 1 + theirs < 40  # the first read, then one per commit of the other process at most
