"""Projection leadership: one process at a time runs a brand's projection; a standby takes over from a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from eventsourcing.persistence import Notification, StoredEvent

from infrastructure.event_store import EventStore
from infrastructure.projection_runner import leader_pids
from infrastructure.tenants import onboard

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 400
BATCH = 10


class SlowApplied:
    """Records every notification it applies with the applying process; a slow batch, to be killed in."""

    name = "applied"
    topics: Sequence[str] = ()

    async def setup(self, conn: Any) -> None:
        await conn.execute("CREATE TABLE IF NOT EXISTS applied (notification_id bigint PRIMARY KEY, pid int NOT NULL)")

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS applied")

    async def handle_notifications(self, conn: Any, notifications: Sequence[Notification]) -> None:
        # a plain INSERT: applying one notification twice would fail the batch (primary key)
        await conn.execute(
            "INSERT INTO applied SELECT unnest($1::bigint[]), $2", [n.id for n in notifications], os.getpid()
        )
        await asyncio.sleep(0.05)  # inside the batch's transaction: a kill lands mid-batch


def slow_projections(store: EventStore) -> list[Any]:
    return [SlowApplied()]


def worker(dsn: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infrastructure.projection_runner",
            "tests.tenancy.test_leadership:slow_projections",
            "--brand",
            "acme",
            "--batch-size",
            str(BATCH),
            "--lease-retry",
            "0.2",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": dsn},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def until(probe, what: str, timeout: float = 60.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := await probe()):
            await asyncio.sleep(0.05)
    assert value, what
    return value


async def test_a_standby_takes_over_a_killed_leader_and_nothing_is_lost_or_applied_twice(fresh_dsn):
    tenant = await onboard(fresh_dsn, "acme")
    store = await EventStore.open(fresh_dsn, tenant.names)
    try:
        await store.insert_events([StoredEvent(uuid.uuid4(), 1, "x.y:Z", b"{}") for _ in range(EVENTS)])
        async with store.pool.acquire() as conn:
            await SlowApplied().setup(conn)
    finally:
        await store.close()
    procs = [worker(fresh_dsn), worker(fresh_dsn)]
    conn = await asyncpg.connect(fresh_dsn, server_settings={"search_path": tenant.schema})
    try:

        async def leader() -> int | None:
            names = await leader_pids(conn, tenant.schema, "applied")
            assert len(names) <= 1, names  # never two leaders
            return int(names[0].rpartition("pid=")[2]) if names else None

        first = await until(leader, "a leader")
        assert first in {p.pid for p in procs}
        await until(lambda: conn.fetchval("SELECT count(*) >= $1 FROM applied", 3 * BATCH), "progress")
        applied_by = {r[0] for r in await conn.fetch("SELECT DISTINCT pid FROM applied")}
        assert applied_by == {first}  # the standby applied nothing while the leader lived
        os.kill(first, signal.SIGKILL)
        killed, killed_at = time.monotonic(), await conn.fetchval("SELECT count(*) FROM applied")
        assert killed_at < EVENTS
        standby = next(p.pid for p in procs if p.pid != first)
        assert await until(lambda: leader_is(conn, tenant.schema, standby), "the standby leads", timeout=30)
        print(
            f"standby {standby} leads {time.monotonic() - killed:.2f} s after the kill -9 of {first}, "
            f"{killed_at} of {EVENTS} applied"
        )
        await until(lambda: conn.fetchval("SELECT count(*) = $1 FROM applied", EVENTS), "every event applied")
        rows = await conn.fetch("SELECT pid, count(*) FROM applied GROUP BY pid")
        assert {r[0] for r in rows} <= {first, standby} and sum(r[1] for r in rows) == EVENTS
        assert await conn.fetchval("SELECT count(DISTINCT notification_id) FROM applied") == EVENTS
        assert (
            await conn.fetchval("SELECT notification_id FROM projection_tracking WHERE application_name = 'applied'")
            == EVENTS
        )
    finally:
        await conn.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def leader_is(conn: asyncpg.Connection, schema: str, pid: int) -> bool:
    return [f"loyalty-projections pid={pid}"] == await leader_pids(conn, schema, "applied")
