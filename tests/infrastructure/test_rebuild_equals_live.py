"""A rebuild from the whole history writes exactly the tables the live projections wrote.

The live runner follows a random workload in small batches, interleaved with
it; then each projection is dropped and replayed (in-process, and through the
command-line tool in a separate process) and its tables compared row for row.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infrastructure.event_store import EventStore
from infrastructure.hash_chain import CHAIN_TABLE
from infrastructure.mapper import build_mapper
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.projections import all_projections
from infrastructure.projections.member_points import TABLES as MEMBER_TABLES
from infrastructure.rebuild import rebuild
from tests.infrastructure.workload import World

ROOT = Path(__file__).resolve().parents[2]


EMPTY_OK = {
    "settlement_closes",  # the workload closes no settlement period
    "stock_levels",
    "stock_holds",
    "drop_offers",
}  # nor counts stock or draws a drop: tests/infrastructure/test_stock_read_models.py
BULK = {"event_chain", "dealer_ledger", "due_settlements"}  # rebuilt from raw rows in bulk
SEALED = {
    "CIPHER_KEY": "0123456789abcdef0123456789abcdef",
    "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
}


def tables_of(store: EventStore) -> dict[str, tuple[str, ...]]:
    return {
        "event_chain": (store.names.q(CHAIN_TABLE),),
        "dealer_ledger": ("dealer_ledger",),
        "member_points": MEMBER_TABLES,
        "guide_performance": ("guide_performance", "guide_customers"),
        "settlement_lines": ("settlement_lines", "settlement_closes"),
        "due_settlements": ("due_settlements",),
        "due_payments": ("due_payments",),
        "member_orders": ("member_orders",),
        "stock_levels": ("stock_levels", "stock_holds"),
        "drop_results": ("drop_offers",),
    }


async def contents(store: EventStore, name: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted((tuple(r) for r in await store.pool.fetch(f"SELECT * FROM {table}")), key=repr)
        for table in tables_of(store)[name]
    }


async def live_after_workload(store: EventStore) -> dict[str, Any]:
    world = await World.build(store, seed=7)
    runner = ProjectionRunner(store, all_projections(store), build_mapper({}), batch_size=23)
    for _ in range(4):
        await world.run(steps=80, checkpoints=0)
        await runner.catch_up()
    return {p.name: (await contents(store, p.name), await runner.position(p)) for p in runner.projections}


async def test_every_projection_rebuilt_from_history_equals_the_live_tables(store: EventStore) -> None:
    live = await live_after_workload(store)
    assert set(live) == set(tables_of(store)), "a projection without a table listed here is not checked"
    assert all(rows for tables, _ in live.values() for table, rows in tables.items() if table not in EMPTY_OK)
    for projection in all_projections(store):
        stats = await rebuild(store, projection, build_mapper({}), batch_size=101, out=None)
        assert (await contents(store, projection.name), stats.position) == live[projection.name], projection.name
        assert bool(stats.bulk) == (projection.name in BULK), projection.name


async def test_a_bulk_rebuild_over_encrypted_and_compressed_events_equals_the_live_tables(store: EventStore) -> None:
    mapper = build_mapper(SEALED)
    world = await World.build(store, seed=11, mapper=mapper)
    runner = ProjectionRunner(store, [p for p in all_projections(store) if p.name in BULK], mapper, batch_size=17)
    await world.run(steps=120, checkpoints=0)
    await runner.catch_up()
    for projection in runner.projections:
        live = (await contents(store, projection.name), await runner.position(projection))
        stats = await rebuild(store, projection, mapper, batch_size=50, out=None)
        assert stats.bulk and (await contents(store, projection.name), stats.position) == live, projection.name


async def test_the_rebuild_command_line_replays_all_projections_to_the_same_tables(
    store: EventStore, fresh_dsn: str
) -> None:
    live = await live_after_workload(store)
    await store.pool.execute("DELETE FROM points_history")  # damage a read model: the rebuild must repair it
    env = {**os.environ, "DATABASE_URL": fresh_dsn, "LOG_FORMAT": "text"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "infrastructure.rebuild", "infrastructure.projections:all_projections"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "member_points:" in done.stderr and "events/s" in done.stderr
    for name, (tables, _) in live.items():
        assert await contents(store, name) == tables, name


async def test_a_chain_rebuilt_with_copy_equals_the_live_chain_and_verifies(store: EventStore, monkeypatch) -> None:
    from infrastructure import hash_chain

    live = await live_after_workload(store)
    monkeypatch.setattr(hash_chain, "COPY_FROM", 1)  # every batch through COPY, as a rebuild's large ones go
    stats = await rebuild(store, hash_chain.HashChainer(store), build_mapper({}), batch_size=97, out=None)
    assert (await contents(store, "event_chain"), stats.position) == live["event_chain"]
    assert (await hash_chain.verify(store)).ok


async def test_bulk_rebuilds_equal_the_live_tables_whatever_the_batch_boundaries(store: EventStore) -> None:
    """Batches of 1 put every payment in a later batch than its order (the UPDATE path of due
    settlements), one batch for the whole log puts them all with their orders (the INSERT that
    carries the payment); the sizes between split stores, orders and bookings anywhere."""
    live = await live_after_workload(store)
    for projection in all_projections(store):
        if projection.name not in BULK:
            continue
        sizes = (100_000,) if projection.name == "event_chain" else (1, 7, 100_000)  # the chain: 97 and 101 above
        for batch_size in sizes:
            stats = await rebuild(store, projection, build_mapper({}), batch_size=batch_size, out=None)
            assert stats.bulk == stats.events, (projection.name, batch_size)
            assert (await contents(store, projection.name), stats.position) == live[projection.name], (
                projection.name,
                batch_size,
            )
