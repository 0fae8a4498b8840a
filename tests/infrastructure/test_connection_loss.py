"""Losing the database connection: LISTEN comes back by itself, and transactions say what happened.

The session's PostgreSQL stays up; the test ends this database's server-side
connections with ``pg_terminate_backend`` (what a restart does to them).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from eventsourcing.persistence import Mapper

from application.availability import CommitOutcomeUnknown, Unavailable
from application.background import stop_task
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import ProjectionRunner, stock_mapper
from tests.infrastructure.test_projection_runner import Counts, Thing, recomputed

FRESH_WITHIN_S = 5.0  # the runner polls every 60 s here and the subscription every 30 s: only NOTIFY is this fast


async def terminate_connections(dsn: str, keep: int | None = None) -> int:
    """End every other connection to this database, as a restarting server would."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid IS DISTINCT FROM $1",
            keep,
        )
    finally:
        await conn.close()


async def insert_things(store: EventStore, mapper: Mapper, n: int = 3) -> int:
    for i in range(n):
        thing = Thing(name=f"after-{i}")
        thing.bump(i + 1)
        await store.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
    head = await store.max_notification_id()
    assert head is not None
    return head


async def test_the_projection_runner_listens_again_after_its_connection_is_dropped(store: EventStore, fresh_dsn: str):
    mapper = stock_mapper()
    counts = Counts(store)
    runner = ProjectionRunner(store, [counts], mapper, poll_interval=60)
    runner.start()
    try:
        await asyncio.sleep(0.3)  # set up and listening
        assert await terminate_connections(fresh_dsn) >= 1
        await asyncio.sleep(0.1)
        head = await insert_things(store, mapper)

        async def projected() -> None:
            while await runner.position(counts) != head:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(projected(), FRESH_WITHIN_S)
    finally:
        await runner.stop()
    assert await counts.rows(store) == await recomputed(store)


async def test_a_subscription_listens_again_after_its_connection_is_dropped(store: EventStore, fresh_dsn: str):
    mapper = stock_mapper()
    seen: list[int] = []

    async def follow() -> None:
        async for n in store.subscribe(poll_interval=30):
            seen.append(n.id)

    task = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.3)
        assert await terminate_connections(fresh_dsn) >= 1
        await asyncio.sleep(0.1)
        head = await insert_things(store, mapper)

        async def delivered() -> None:
            while not seen or seen[-1] != head:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(delivered(), FRESH_WITHIN_S)
    finally:
        task.cancel()  # once: the subscription must stop on a single cancellation, NOTIFY or not
        stopped, _ = await asyncio.wait([task], timeout=5)
        await stop_task(task)  # never hang the suite
    assert stopped


async def test_a_link_lost_inside_a_transaction_is_unavailable_and_nothing_is_stored(store: EventStore, fresh_dsn: str):
    mapper = stock_mapper()
    thing = Thing(name="lost")
    with pytest.raises(Unavailable) as raised:
        async with store.transaction() as tx:
            await terminate_connections(fresh_dsn)
            await asyncio.sleep(0.1)
            await tx.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
    assert not isinstance(raised.value, CommitOutcomeUnknown)
    assert await store.select_events(thing.id) == []


async def test_a_link_lost_at_commit_is_an_unknown_outcome(store: EventStore, fresh_dsn: str):
    mapper = stock_mapper()
    thing = Thing(name="maybe")
    with pytest.raises(CommitOutcomeUnknown):
        async with store.transaction() as tx:
            await tx.insert_events([mapper.to_stored_event(e) for e in thing.collect_events()])
            await terminate_connections(fresh_dsn)  # the next thing this connection does is COMMIT
            await asyncio.sleep(0.1)
