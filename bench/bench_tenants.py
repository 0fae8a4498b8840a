"""Two brands flash-selling at once vs one brand alone, one server process, one PostgreSQL.

Each brand is a tenant with its own schema, log and events-table lock. Both brands have one hot
store (every customer next to it); clients loop PlaceOrder -> PayOrder for a fixed time. Runs,
interleaved A-B-B-A so host drift hits both alike:

- alone:    acme only, C clients
- together: acme and beta at once, C/2 clients each (the same total concurrency)
- together, C each (twice the clients)

and, for contrast, the same "together" load with both brands in ONE shared schema (the layout
before tenants: ``onboard --schema public`` for both), i.e. one log lock for both.

``--store`` measures below the server instead: W writers appending one event per transaction through the
event store's commit path (the events-table lock of each transaction) to one brand's schema, vs W/2
writers to each of two brands' schemas, interleaved A-B-B-A-A-B: the log lock's share of it.

Usage: .venv/bin/python bench/bench_tenants.py [--quick] [--store]   (about 3 minutes; --quick about 1)
Prints the figures; writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from bench_orders import (  # noqa: E402
    SUZHOU,
    cpu_seconds,
    draft,
    free_port,
    spec,
    sql,
    stop_server,
    wait_serving,
)

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from infrastructure.tenants import onboard  # noqa: E402
from protos.loyalty.v1 import members_pb2, members_pb2_grpc, orders_pb2, orders_pb2_grpc, stores_pb2, stores_pb2_grpc  # noqa: E402  # noqa: E402

QUICK = "--quick" in sys.argv
SECONDS = 6 if QUICK else 15
MEMBERS = 100 if QUICK else 300
C = 32
BRANDS = ("acme", "beta")
TOKENS = {f"{role}@{b}": f"bench-{role}-{b}-0123456789" for b in BRANDS for role in ("miniprogram", "operator")}


def md(role: str, brand: str):
    return (("authorization", f"Bearer {TOKENS[f'{role}@{brand}']}"),)


def start_server(dsn: str, data_dir: Path, port: int, log_path: Path, env: dict[str, str] | None = None):
    import subprocess

    full = {
        **os.environ,
        "DATABASE_URL": dsn,
        "GRPC_ADDRESS": f"127.0.0.1:{port}",
        "LOYALTY_DATA_DIR": str(data_dir),
        "LOYALTY_API_TOKENS": ",".join(f"{t}={r}" for r, t in TOKENS.items()),
        "LOG_LEVEL": "warning",
        **(env or {}),
    }
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT
    )


async def setup_brand(channel, brand: str, rid) -> list[str]:
    stores = stores_pb2_grpc.StoreServiceStub(channel)
    members = members_pb2_grpc.MemberServiceStub(channel)
    orders = orders_pb2_grpc.OrderServiceStub(channel)
    hot = await stores.OpenCloudStore(
        stores_pb2.OpenCloudStoreRequest(
            request_id=rid(), cloud_store=stores_pb2.CloudStore(spec=spec(f"HOT-{brand}", *SUZHOU, "DHOT"))
        ),
        metadata=md("operator", brand),
    )
    names = []
    for i in range(MEMBERS):
        names.append(
            (
                await members.RegisterMember(
                    members_pb2.RegisterMemberRequest(
                        request_id=rid(), member=members_pb2.Member(openid=f"o-{brand}-{i}")
                    ),
                    metadata=md("miniprogram", brand),
                )
            ).name
        )
    async with asyncio.timeout(30):
        while True:
            d = await orders.SimulateOrder(
                orders_pb2.SimulateOrderRequest(order=draft(names[0], *SUZHOU)), metadata=md("miniprogram", brand)
            )
            if d.allocated and d.store == hot.name:
                return names
            await asyncio.sleep(0.2)


async def load(channel, brand: str, members: list[str], clients: int, until: float, rid, counts: dict) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(channel)
    rng = random.Random(hash(brand))
    meta = md("miniprogram", brand)

    async def client() -> None:
        while time.monotonic() < until:
            at = (SUZHOU[0] + rng.gauss(0, 0.001), SUZHOU[1] + rng.gauss(0, 0.001))
            try:
                order = await orders.PlaceOrder(
                    orders_pb2.PlaceOrderRequest(request_id=rid(), order=draft(rng.choice(members), *at)),
                    metadata=meta,
                    timeout=30,
                )
                if order.state != orders_pb2.ORDER_STATE_ALLOCATED:
                    counts["unallocated"] = counts.get("unallocated", 0) + 1
                    continue
                await orders.PayOrder(
                    orders_pb2.PayOrderRequest(request_id=rid(), name=order.name, paid_fen=order.total_fen),
                    metadata=meta,
                    timeout=30,
                )
                counts[brand] = counts.get(brand, 0) + 1
            except grpc.aio.AioRpcError as e:
                counts[e.code().name] = counts.get(e.code().name, 0) + 1

    await asyncio.gather(*(client() for _ in range(clients)))


async def scenario(channel, members: dict[str, list[str]], plan: dict[str, int], rid, pid: int) -> dict:
    counts: dict = {}
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    until = t0 + SECONDS
    await asyncio.gather(*(load(channel, b, members[b], c, until, rid, counts) for b, c in plan.items()))
    seconds = time.monotonic() - t0
    paid = sum(counts.get(b, 0) for b in BRANDS)
    return {
        "rate": paid / seconds,
        "per_brand": {b: counts.get(b, 0) / seconds for b in plan},
        "errors": {k: v for k, v in counts.items() if k not in BRANDS},
        "server_cpu_ms": (cpu_seconds(pid) - cpu0) * 1000 / max(paid, 1),
    }


async def measure(dsn: str, tmp: Path, label: str) -> list[tuple[str, dict]]:
    port = free_port()
    proc = start_server(
        dsn, tmp / f"data-{label}", port, tmp / f"server-{label}.log", {"LOYALTY_ONBOARD_TOKEN_BRANDS": "0"}
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        await wait_serving(channel, proc)
        n = iter(range(10**9))
        prefix = uuid4().hex[:8]

        def rid() -> str:
            return f"{prefix}-{next(n)}"

        members = {b: await setup_brand(channel, b, rid) for b in BRANDS}
        await scenario(channel, members, {"acme": 8, "beta": 8}, rid, proc.pid)  # warm-up
        runs = []
        alone, together = {"acme": C}, {"acme": C // 2, "beta": C // 2}
        for name, plan in (
            ("alone", alone),
            ("together", together),
            ("together", together),
            ("alone", alone),
            ("together, C each", {"acme": C, "beta": C}),
        ):
            runs.append((name, await scenario(channel, members, plan, rid, proc.pid)))
            print(
                f"  [{label}] {name}: {runs[-1][1]['rate']:.1f} orders/s {runs[-1][1]['per_brand']} "
                f"errors {runs[-1][1]['errors']}",
                flush=True,
            )
        return runs
    finally:
        await channel.close()
        stop_server(proc)


def mean(runs, name: str) -> float:
    rates = [r["rate"] for n, r in runs if n == name]
    return sum(rates) / len(rates)


async def appends(stores: list, writers: int, seconds: float) -> float:
    """Transactions per second: ``writers`` spread over ``stores``, each appending one new aggregate's event."""
    from eventsourcing.persistence import StoredEvent

    done = 0
    until = time.monotonic() + seconds

    async def writer(store) -> None:
        nonlocal done
        while time.monotonic() < until:
            await store.insert_events([StoredEvent(uuid4(), 1, "bench:Appended", b"{}")])
            done += 1

    t0 = time.monotonic()
    await asyncio.gather(*(writer(stores[i % len(stores)]) for i in range(writers)))
    return done / (time.monotonic() - t0)


async def store_main() -> None:
    from infrastructure.event_store import EventStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    dsn = pg.start()
    writers, seconds = 16, (4 if QUICK else 10)
    try:
        stores = {}
        for b in BRANDS:
            tenant = await onboard(dsn, b)
            stores[b] = await EventStore.open(dsn, tenant.names, min_size=writers, max_size=writers)
        print(
            f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores; {writers} writers, {seconds} s per "
            "run, one event per transaction",
            flush=True,
        )
        await appends([stores["acme"]], writers, 2)
        runs: dict[str, list[float]] = {"one brand": [], "two brands": []}
        for name in ("one brand", "two brands", "two brands", "one brand", "one brand", "two brands"):
            rate = await appends([stores["acme"]] if name == "one brand" else list(stores.values()), writers, seconds)
            runs[name].append(rate)
            print(f"  {name}: {rate:,.0f} txn/s", flush=True)
        one, two = (sum(v) / len(v) for v in runs.values())
        print(f"load average at end: {os.getloadavg()}")
        print(f"one brand's log: {one:,.0f} txn/s; two brands' logs at once: {two:,.0f} txn/s = {two / one:.2f}x")
        for store in stores.values():
            await store.close()
    finally:
        pg.stop()


async def main() -> None:
    if "--store" in sys.argv:
        await store_main()
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin = pg.start()
    try:
        base, _, query = admin.partition("?")
        dsns = {}
        for db in ("own_schemas", "shared_schema"):
            await sql(admin, f'CREATE DATABASE "{db}"')
            dsns[db] = f"{base.rsplit('/', 1)[0]}/{db}" + (f"?{query}" if query else "")
        for b in BRANDS:
            await onboard(dsns["own_schemas"], b)
            await onboard(dsns["shared_schema"], b, schema="public")  # the layout before tenants: one log
        print(
            f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores; {SECONDS} s per run, "
            f"C={C} clients alone",
            flush=True,
        )
        own = await measure(dsns["own_schemas"], tmp, "schema per brand")
        shared = await measure(dsns["shared_schema"], tmp, "one shared schema")
        print(f"load average at end: {os.getloadavg()}")
        for label, runs in (("schema per brand", own), ("one shared schema", shared)):
            a, t = mean(runs, "alone"), mean(runs, "together")
            each = mean(runs, "together, C each")
            cpu = {n: round(r["server_cpu_ms"], 2) for n, r in runs}
            print(
                f"{label}: alone {a:.1f} orders/s; two brands at once (C/2 each) {t:.1f} orders/s = {t / a:.2f}x; "
                f"two brands, C each {each:.1f} orders/s = {each / a:.2f}x; server CPU ms/order {cpu}"
            )
    finally:
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
