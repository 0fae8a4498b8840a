"""Stock and drops: PlaceOrder with a stock reservation against PlaceOrder without (same run), and a drop draw.

1. orders  The server runs as a subprocess (``python server.py``) on embedded PostgreSQL; this process
           drives PlaceOrder over gRPC with C concurrent clients. 50 stores around Shanghai each count
           SKU-STOCK (a million units); SKU-PLAIN is counted nowhere, so it is not stock-tracked. Rounds
           alternate plain, stock, stock, plain (A-B-B-A) so both see the same host load; the ratio is
           stock orders/s over plain orders/s.
2. drop    In-process server on another database: a drop of 1,000 online units, 20,000 entries saved
           straight through the repository (registration is not what is timed), then DrawDrop over gRPC
           (reads the entries from the log, draws, commits) and the pure domain draw alone; repeated on
           ``--repeats`` new drops (default 3), with this process's and PostgreSQL's CPU per draw.
           ``--profile TAG`` samples the last draw with py-spy (--idle, 200 Hz) into
           bench/results/profiles/drop-draw-TAG.txt (top frames) and .raw.gz (stacks). The read models
           have applied the entries before each draw, as in a server 30 s after registration closed;
           ``--unsettled`` draws while they still work through them (how the first figures were taken).

``--orders-only`` skips part 2; ``--cycles N`` repeats the A-B-B-A rounds N times (default 1).
``--profile-orders TAG`` adds, after the counted rounds, one plain and one stock round sampled by py-spy (the
server process) into bench/results/profiles/stock-orders-{plain,stock}-TAG.txt and .raw.gz, to see what the
reservation adds per order.

Usage: .venv/bin/python bench/bench_stock.py [--quick] [--drop-only | --orders-only] [--repeats N] [--profile TAG]
       [--profile-orders TAG] [--cycles N] [--unsettled]
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_orders as bo  # noqa: E402
import grpc  # noqa: E402
import suite  # noqa: E402

from application.clock import ManualClock  # noqa: E402
from domain.drop import DropEntry, draw_order  # noqa: E402
from domain.tiers import Tier  # noqa: E402
from infrastructure.api.convert import timestamp  # noqa: E402
from infrastructure.config import load_settings  # noqa: E402
from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from protos.loyalty.v1 import (  # noqa: E402
    common_pb2,
    drops_pb2,
    drops_pb2_grpc,
    members_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    stock_pb2,
    stock_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
)

QUICK = "--quick" in sys.argv
DROP_ONLY = "--drop-only" in sys.argv
ORDERS_ONLY = "--orders-only" in sys.argv
CYCLES = int(sys.argv[sys.argv.index("--cycles") + 1]) if "--cycles" in sys.argv else 1  # A-B-B-A repeated
PROFILE_ORDERS = sys.argv[sys.argv.index("--profile-orders") + 1] if "--profile-orders" in sys.argv else None
REPEATS = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
UNSETTLED = "--unsettled" in sys.argv  # draw while the read models still apply the entries (the first runs did)
PROFILE_TAG = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
STORES = 50
MEMBERS = 200 if QUICK else 500
ORDERS = 150 if QUICK else 600  # per round
CLIENTS = 16
DROP_UNITS, DROP_ENTRIES = 1_000, (2_000 if QUICK else 20_000)


def draft(member: str, lat: float, lng: float, sku: str) -> orders_pb2.OrderDraft:
    return orders_pb2.OrderDraft(
        member=member,
        lines=[orders_pb2.OrderLine(sku=sku, quantity=1, unit_price_fen=bo.FEN)],
        fulfilment=common_pb2.FULFILMENT_MODE_DELIVERY,
        customer_location=bo.gcj(lat, lng),
    )


async def place_round(orders, members, points, sku: str, rng: random.Random, rid) -> tuple[float, int, list[float]]:
    done, failed, latencies = 0, 0, []
    started = 0

    async def client() -> None:
        nonlocal started, done, failed
        while started < ORDERS:
            started += 1
            base = rng.choice(points)
            at = (base[0] + rng.gauss(0, 0.003), base[1] + rng.gauss(0, 0.003))
            t0 = time.perf_counter()
            try:
                order = await orders.PlaceOrder(
                    orders_pb2.PlaceOrderRequest(request_id=rid(), order=draft(rng.choice(members), *at, sku)),
                    metadata=bo.MP,
                    timeout=30,
                )
            except grpc.aio.AioRpcError:
                failed += 1
                continue
            latencies.append(time.perf_counter() - t0)
            done += order.state == orders_pb2.ORDER_STATE_ALLOCATED

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - t0, done, latencies


async def orders_bench(dsn: str, tmp: Path, say) -> None:
    rng = random.Random(bo.SEED)
    port = bo.free_port()
    proc = bo.start_server(dsn, tmp / "data", port, tmp / "server.log")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        await bo.wait_serving(channel, proc)
        stores = stores_pb2_grpc.StoreServiceStub(channel)
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        stock = stock_pb2_grpc.StockServiceStub(channel)
        rid = bo.Ids(f"stock-{uuid4().hex[:8]}")
        specs = [
            bo.spec(
                f"SH-{i:03d}", bo.SHANGHAI[0] + rng.gauss(0, 0.05), bo.SHANGHAI[1] + rng.gauss(0, 0.05), f"D{i % 10}"
            )
            for i in range(STORES)
        ]
        opened = await stores.ImportCloudStores(
            stores_pb2.ImportCloudStoresRequest(
                request_id=rid(), brand="acme", cloud_stores=[stores_pb2.CloudStore(spec=sp) for sp in specs]
            ),
            metadata=bo.OP,
            timeout=60,
        )
        await stock.ImportStock(
            stock_pb2.ImportStockRequest(
                request_id=rid(),
                batch_id="opening",
                lines=[
                    stock_pb2.StockLine(store=s.name, sku="SKU-STOCK", count=1_000_000) for s in opened.cloud_stores
                ],
            ),
            metadata=bo.OP,
            timeout=60,
        )
        bo.MEMBERS = MEMBERS
        members = await bo.register_members(members_pb2_grpc.MemberServiceStub(channel), rid)
        points = [(sp.location.latitude, sp.location.longitude) for sp in specs]
        await bo.wait_routable(orders, members[0], points[0], opened.cloud_stores[0].name)
        await asyncio.sleep(1.0)  # the stock directory follows the log too
        await place_round(orders, members, points, "SKU-PLAIN", rng, rid)  # warm-up, not counted
        rates: dict[str, list[float]] = {"SKU-PLAIN": [], "SKU-STOCK": []}
        lat: dict[str, list[float]] = {"SKU-PLAIN": [], "SKU-STOCK": []}
        cpu: dict[str, float] = {"SKU-PLAIN": 0.0, "SKU-STOCK": 0.0}
        for sku in ("SKU-PLAIN", "SKU-STOCK", "SKU-STOCK", "SKU-PLAIN") * CYCLES:
            c0 = bo.cpu_seconds(proc.pid)
            seconds, done, latencies = await place_round(orders, members, points, sku, rng, rid)
            cpu[sku] += bo.cpu_seconds(proc.pid) - c0
            rates[sku].append(done / seconds)
            lat[sku].extend(latencies)
            say(
                f"  round {sku:9s}: {done}/{ORDERS} allocated in {seconds:5.2f} s = {done / seconds:6.1f} orders/s, "
                f"p50 {bo.pct(latencies, 0.5):5.1f} ms p99 {bo.pct(latencies, 0.99):6.1f} ms"
            )
        plain, stocked = (sum(rates[k]) / (2 * CYCLES) for k in ("SKU-PLAIN", "SKU-STOCK"))
        for k in rates:
            say(
                f"  {k}: mean {sum(rates[k]) / (2 * CYCLES):6.1f} orders/s, server CPU "
                f"{cpu[k] * 1000 / (2 * CYCLES * ORDERS):5.2f} ms "
                f"per order, p99 {bo.pct(lat[k], 0.99):6.1f} ms"
            )
        say(f"PlaceOrder with reservation / without: {stocked / plain:.3f}x  (target >= 0.85x)")
        if PROFILE_ORDERS is not None:
            import bench_overload as bov

            for sku in ("SKU-PLAIN", "SKU-STOCK"):
                kind = "plain" if sku == "SKU-PLAIN" else "stock"
                raw = tmp / f"orders-{kind}.raw"
                spy = bov.start_spy(proc.pid, raw)
                await asyncio.sleep(1.0)  # py-spy attached
                seconds, done, _ = await place_round(orders, members, points, sku, rng, rid)
                if spy is not None:
                    bov.stop_spy(
                        spy,
                        raw,
                        bov.PROFILES / f"stock-orders-{kind}-{PROFILE_ORDERS}.txt",
                        f"PlaceOrder {sku}, {ORDERS} orders at C={CLIENTS} ({done / seconds:.1f} orders/s while "
                        f"sampled), server process ({PROFILE_ORDERS}); load average "
                        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
                    )
        level = await stock.ListStockLevels(
            stock_pb2.ListStockLevelsRequest(parent=opened.cloud_stores[0].name), metadata=bo.OP
        )
        say(f"  (check) first store's SKU-STOCK reserved units: {level.levels[0].reserved_units}")
    finally:
        await channel.close()
        bo.stop_server(proc)


async def drop_bench(dsn: str, tmp: Path, say, pg_pid: int | None = None) -> None:
    import server
    from application.repository import Repository
    from domain.drop import Drop
    from infrastructure.mapper import build_mapper

    start = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    clock = ManualClock(start)
    settings = load_settings(
        {
            "DATABASE_URL": dsn,
            "GRPC_ADDRESS": "127.0.0.1:0",
            "LOYALTY_DATA_DIR": str(tmp / "drop-data"),
            "SCHEDULER_INTERVAL": "0",
        }
    )
    running = await server.start(settings, clock=clock, tokens=bo.TOKEN_SPEC, env={})
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    walls, cpus, pg_cpus = [], [], []
    try:
        drops = drops_pb2_grpc.DropServiceStub(channel)
        repository = Repository(running.store, build_mapper({}))
        assert running.default_brand is not None
        drop_entries = running.brand(running.default_brand).drop_entries
        assert drop_entries is not None
        rng = random.Random(3)
        for round_ in range(REPEATS):
            opens = clock.now()
            drop = await drops.CreateDrop(
                drops_pb2.CreateDropRequest(
                    request_id=f"drop-{round_}",
                    drop=drops_pb2.Drop(
                        display_name="Flash",
                        sku="SNK",
                        pools=[drops_pb2.DropPool(units=DROP_UNITS)],
                        registration_open_time=timestamp(opens),
                        registration_close_time=timestamp(opens + timedelta(hours=1)),
                        purchase_window_minutes=30,
                        per_member_limit=1,
                        price_fen=59_900,
                    ),
                ),
                metadata=bo.OP,
            )
            aggregate = await repository.get(UUID(drop.name.split("/")[1]), Drop)
            t0 = time.perf_counter()
            entries = [
                DropEntry.register(
                    drop=aggregate,
                    member_id=UUID(int=rng.getrandbits(128)),
                    tier=Tier.NEW,
                    at=opens + timedelta(minutes=1),
                )
                for _ in range(DROP_ENTRIES)
            ]
            for i in range(0, len(entries), 2000):
                await repository.save(*entries[i : i + 2000])
            say(f"  {DROP_ENTRIES} entries saved in {time.perf_counter() - t0:.1f} s (setup, not timed)")
            t0 = time.perf_counter()
            await drop_entries.catch_up()  # what the server's follower does during registration
            say(
                f"  the entry index read them from the log in {time.perf_counter() - t0:.1f} s "
                "(during registration in a server; not part of the draw)"
            )
            t0 = time.perf_counter()
            while (
                not UNSETTLED
            ):  # the read models (the hash chain first) have applied the entries: idle before the draw,
                try:  # as they are in a server 30 s after registration closed
                    await running.settled()
                    break
                except TimeoutError:
                    continue
            say(f"  the read models applied them in {time.perf_counter() - t0:.1f} s (not part of the draw)")
            clock.advance(hours=1, minutes=1)
            profiling = PROFILE_TAG is not None and round_ == REPEATS - 1
            if profiling:
                import bench_overload as bov

                raw = tmp / "draw.raw"
                spy = bov.start_spy(os.getpid(), raw)
                await asyncio.sleep(1.0)  # py-spy attached
            pg0 = suite.tree_cpu(pg_pid) if pg_pid else 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            drawn = await drops.DrawDrop(
                drops_pb2.DrawDropRequest(request_id=f"draw-{round_}", name=drop.name), metadata=bo.OP, timeout=120
            )
            api_seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            pg_cpu = (suite.tree_cpu(pg_pid) - pg0) if pg_pid else 0.0
            if profiling and spy is not None:
                await asyncio.sleep(0.5)  # the read models' work after the answer shows too
                bov.stop_spy(
                    spy,
                    raw,
                    bov.PROFILES / f"drop-draw-{PROFILE_TAG}.txt",
                    f"DrawDrop, {DROP_UNITS} units over {DROP_ENTRIES} entries, in-process server ({PROFILE_TAG}); "
                    f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                )
            walls.append(api_seconds)
            cpus.append(cpu)
            pg_cpus.append(pg_cpu)
            say(
                f"DrawDrop over gRPC, {DROP_UNITS} units, {drawn.entry_count} entries: {api_seconds:.3f} s wall, "
                f"{cpu:.3f} s CPU of this process (server and client), {pg_cpu:.3f} s PostgreSQL CPU "
                f"({drawn.offer_count} offers)  (target < 1 s)"
            )
            drawn_entries = [e.as_drawn() for e in entries]
            t0 = time.perf_counter()
            draw_order(bytes.fromhex(drawn.seed), drawn_entries)
            say(f"  the pure draw order alone: {time.perf_counter() - t0:.3f} s")
        walls.sort()
        say(
            f"DrawDrop over {REPEATS} drops: wall median {walls[len(walls) // 2]:.3f} s, min {walls[0]:.3f} s, "
            f"max {walls[-1]:.3f} s; CPU median {sorted(cpus)[len(cpus) // 2]:.3f} s; "
            f"PostgreSQL CPU median {sorted(pg_cpus)[len(pg_cpus) // 2]:.3f} s"
        )
    finally:
        await channel.close()
        await running.stop(grace=1)


async def bench(admin_dsn: str, tmp: Path, say, pg_pid: int | None = None) -> None:
    base, _, query = admin_dsn.partition("?")
    dsns = {}
    for name in ("bench_stock_orders", "bench_stock_drop"):
        await bo.sql(admin_dsn, f'CREATE DATABASE "{name}"')
        dsns[name] = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    say(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    say(
        f"orders: {STORES} stores, {MEMBERS} members, C={CLIENTS}, {ORDERS} PlaceOrders per round, A-B-B-A"
        + (" [--quick]" if QUICK else "")
    )
    if not DROP_ONLY:
        await orders_bench(dsns["bench_stock_orders"], tmp, say)
    say(f"load average between: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not ORDERS_ONLY:
        await drop_bench(dsns["bench_stock_drop"], tmp, say, pg_pid)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-stock-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin_dsn = pg.start()
    try:
        asyncio.run(bench(admin_dsn, tmp, lambda line: print(line, flush=True), suite.postmaster_pid(pg)))
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
