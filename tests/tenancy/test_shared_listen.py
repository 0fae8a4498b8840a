"""Brands on one database share one LISTEN session per process; each brand's followers still see only their log.

PostgreSQL (up to 18) signals every listening session of a database on each NOTIFY, whatever its channels:
a session per follower and brand made each commit wake them all (infrastructure/shared_listener.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable

import asyncpg
from eventsourcing.persistence import StoredEvent

from application.background import stop_task
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import ProjectionRunner, stock_mapper
from infrastructure.projections import all_projections
from infrastructure.shared_listener import SharedListener
from infrastructure.tenants import onboard
from tests.api.conftest import KEYS, serving
from tests.conftest import NAMES
from tests.infrastructure.test_connection_loss import FRESH_WITHIN_S, insert_things
from tests.infrastructure.test_projection_runner import Counts, recomputed
from tests.tenancy.test_tenants import ROOT


async def listening_sessions(dsn: str) -> int:
    """Sessions of this database whose last statement was a LISTEN (asyncpg's add_listener runs one)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %'"
        )
    finally:
        await conn.close()


async def end_sessions(dsn: str, application_name: str) -> int:
    """pg_terminate_backend the sessions of this application name (what a database restart does to them)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            application_name,
        )
    finally:
        await conn.close()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def append(store: EventStore) -> uuid.UUID:
    aggregate = uuid.uuid4()
    await store.insert_events([StoredEvent(aggregate, 1, "test:Appended", b"{}")])
    return aggregate


async def two_brands(dsn: str, shared: SharedListener) -> dict[str, EventStore]:
    stores = {}
    for brand in ("acme", "beta"):
        stores[brand] = await EventStore.open(dsn, (await onboard(dsn, brand)).names)
        stores[brand].shared_listener = shared
    return stores


async def follow(store: EventStore, seen: list[uuid.UUID], wanted: int) -> None:
    # No polling to speak of: past the first read only a NOTIFY dispatched to this follower moves it on.
    async for n in store.subscribe(gt=0, poll_interval=600):
        seen.append(uuid.UUID(str(n.originator_id)))
        if len(seen) == wanted:
            return


async def test_two_brands_followers_listen_on_one_session_and_each_sees_its_own_log(fresh_dsn):
    shared = SharedListener(fresh_dsn)
    stores = await two_brands(fresh_dsn, shared)
    try:
        seen: dict[str, list[list[uuid.UUID]]] = {"acme": [[], [], []], "beta": [[], [], []]}
        followers = [asyncio.ensure_future(follow(stores[b], mine, 2)) for b in stores for mine in seen[b]]
        await until(lambda: shared.listening == {s.channel for s in stores.values()} and not shared._new)
        assert await listening_sessions(fresh_dsn) == 1  # six followers of two brands: one session
        written = {b: [await append(stores[b]), await append(stores[b])] for b in ("acme", "beta")}
        async with asyncio.timeout(10):
            await asyncio.gather(*followers)
        assert seen == {b: [written[b]] * 3 for b in stores}  # every follower saw its brand's two events, in order
    finally:
        await shared.close()
        for store in stores.values():
            await store.close()


async def test_the_shared_session_comes_back_after_it_is_dropped_and_its_followers_catch_up(fresh_dsn):
    shared = SharedListener(fresh_dsn)
    stores = await two_brands(fresh_dsn, shared)
    try:
        seen: dict[str, list[uuid.UUID]] = {"acme": [], "beta": []}
        followers = [asyncio.ensure_future(follow(stores[b], seen[b], 1)) for b in stores]
        await until(lambda: len(shared.listening) == 2 and not shared._new)
        assert await end_sessions(fresh_dsn, shared.application_name) == 1
        await until(lambda: shared.connections == 2 and len(shared.listening) == 2 and not shared._new)
        written = {b: await append(stores[b]) for b in stores}
        async with asyncio.timeout(10):
            await asyncio.gather(*followers)
        assert seen == {b: [written[b]] for b in stores}
    finally:
        await shared.close()
        for store in stores.values():
            await store.close()


async def test_a_plain_stores_subscription_and_projection_runner_share_one_session_that_comes_back(fresh_dsn):
    """A store with no session of the process (a tool, a test, the sync adapter) gets one of its own, the same
    reconnecting session: its subscriptions and projection runner hold one LISTEN connection between them, all
    catch up by NOTIFY after the database ends it, and the last follower to leave closes it."""
    store = await EventStore.open(fresh_dsn, NAMES)
    mapper = stock_mapper()
    counts = Counts(store)
    runner = ProjectionRunner(store, [counts], mapper, poll_interval=60)
    seen: list[int] = []

    async def subscriber() -> None:
        async for n in store.subscribe(poll_interval=30):
            seen.append(n.id)

    session = store.listen_session()
    runner.start()
    task = asyncio.create_task(subscriber())
    try:
        try:
            await until(lambda: session.listening == {store.channel} and len(session._followers[store.channel]) == 2)
            await until(lambda: not session._new)  # both were told they listen
            assert await listening_sessions(fresh_dsn) == 1  # not one each
            assert await end_sessions(fresh_dsn, session.application_name) == 1
            await until(lambda: session.connections == 2 and session.listening == {store.channel} and not session._new)
            head = await insert_things(store, mapper)

            async def caught_up() -> None:  # only a NOTIFY is this fast: they poll every 30 and 60 s
                while not seen or seen[-1] != head or await runner.position(counts) != head:
                    await asyncio.sleep(0.02)

            async with asyncio.timeout(FRESH_WITHIN_S):
                await caught_up()
            assert await counts.rows(store) == await recomputed(store)
            async with asyncio.timeout(10):  # the ended backend leaves pg_stat_activity as it exits
                while await listening_sessions(fresh_dsn) != 1:
                    await asyncio.sleep(0.02)
        finally:
            await runner.stop()
            await stop_task(task)
        running = [t for t in asyncio.all_tasks() if t.get_name() == "shared-listener"]
        assert not running and not session.connected  # the last follower to leave closed the session
    finally:
        await store.close()


async def test_a_server_serving_two_brands_on_one_database_holds_one_listening_session(fresh_dsn, tmp_path):
    async with serving(fresh_dsn, tmp_path) as (running, _):  # acme and beta, each with its five followers
        assert {"acme", "beta"} <= set(running.brands.stacks)
        (shared,) = running.brands.listeners.values()
        channels = {stack.store.channel for stack in running.brands.stacks.values()}
        await until(lambda: channels <= shared.listening and not shared._new)
        assert await listening_sessions(fresh_dsn) == 1


async def test_a_projection_worker_of_two_brands_holds_one_listening_session(fresh_dsn):
    stores = await two_brands(fresh_dsn, SharedListener(fresh_dsn))  # (not started: only the schemas are used)
    for store in stores.values():
        await append(store)  # something for each brand's read models
    for store in stores.values():
        await store.close()
    worker = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped in finally
        [sys.executable, "-m", "infrastructure.projection_runner", "--brand", "acme", "--brand", "beta"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": fresh_dsn, **KEYS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    conn = await asyncpg.connect(fresh_dsn)
    try:
        async with asyncio.timeout(60):  # each runner listens before its first batch
            while await conn.fetchval(
                "SELECT count(*) FROM (SELECT application_name FROM brand_acme.projection_tracking UNION ALL "
                "SELECT application_name FROM brand_beta.projection_tracking) t"
            ) < 2 * len(all_projections(stores["acme"])):
                assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
                await asyncio.sleep(0.05)
        assert await listening_sessions(fresh_dsn) == 1
    finally:
        await conn.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
