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

from infrastructure.event_store import EventStore
from infrastructure.projections import all_projections
from infrastructure.shared_listener import SharedListener
from infrastructure.tenants import onboard
from tests.api.conftest import KEYS, serving
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
        conn = await asyncpg.connect(fresh_dsn)
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                shared.application_name,
            )
        finally:
            await conn.close()
        assert killed == 1
        await until(lambda: shared.connections == 2 and len(shared.listening) == 2 and not shared._new)
        written = {b: await append(stores[b]) for b in stores}
        async with asyncio.timeout(10):
            await asyncio.gather(*followers)
        assert seen == {b: [written[b]] for b in stores}
    finally:
        await shared.close()
        for store in stores.values():
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
