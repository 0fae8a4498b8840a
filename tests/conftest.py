"""Test fixtures: one embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from infrastructure.config import APPLICATION_NAME
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.migrations import Names

HANG_SECONDS = 240  # far above any test here; CI must fail fast and say where, not hang for 90 minutes


def _dump_and_exit(test: str, config: pytest.Config) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)  # write to the real stderr, not pytest's buffer
    print(
        f"\n*** {test} still running after {HANG_SECONDS} s: asyncio tasks and threads follow ***",
        file=sys.stderr,
        flush=True,
    )
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Task) and not obj.done():
            obj.print_stack(file=sys.stderr)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(3)


@pytest.fixture(autouse=True)
def hang_watchdog(request: pytest.FixtureRequest) -> Iterator[None]:
    timer = threading.Timer(HANG_SECONDS, _dump_and_exit, args=(request.node.nodeid, request.config))
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


NAMES = Names(
    schema="public",
    events=f"{APPLICATION_NAME.lower()}_events",
    snapshots=f"{APPLICATION_NAME.lower()}_snapshots",
)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """``TEST_DATABASE_URL`` if given, else a private server started for this session."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="loyalty-test-")), delete_on_stop=True)
    yield pg.start()
    pg.stop()


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return f"{base}?{query}" if query else base


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def fresh_dsn(pg_dsn: str) -> Iterator[str]:
    """DSN of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(pg_dsn, f'CREATE DATABASE "{name}"'))
    yield _with_database(pg_dsn, name)
    asyncio.run(_admin(pg_dsn, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def module_dsn(pg_dsn: str) -> Iterator[str]:
    """DSN of a new, empty database shared by one test module, dropped after it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(pg_dsn, f'CREATE DATABASE "{name}"'))
    yield _with_database(pg_dsn, name)
    asyncio.run(_admin(pg_dsn, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
async def store(fresh_dsn: str) -> AsyncIterator[EventStore]:
    es = await EventStore.open(fresh_dsn, NAMES)
    yield es
    await es.close()
