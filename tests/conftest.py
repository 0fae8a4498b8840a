"""Test fixtures: one embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from infrastructure.config import APPLICATION_NAME
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.migrations import Names

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


@pytest.fixture
async def store(fresh_dsn: str) -> AsyncIterator[EventStore]:
    es = await EventStore.open(fresh_dsn, NAMES)
    yield es
    await es.close()
