"""What sealing personal data costs: registration and PlaceOrder+PayOrder with and without, in one run.

Two server subprocesses (bench_orders' machinery) on two databases of one embedded PostgreSQL, the
same stores and load: one as configured (personal fields sealed under per-member data keys,
request-log responses sealed), one with ``LOYALTY_SEAL_PERSONAL_DATA=0`` (the path without field
encryption; blind-index identities in both). The rounds alternate (sealed, plain, sealed, plain...)
so drift in the machine's load hits both. Each round: R registrations by 8 clients, then N orders
(PlaceOrder then PayOrder) by 8 clients.

Usage: .venv/bin/python bench/bench_privacy.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_orders as bo  # noqa: E402
import grpc  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from protos.loyalty.v1 import members_pb2, members_pb2_grpc, orders_pb2_grpc, stores_pb2_grpc  # noqa: E402

QUICK = "--quick" in sys.argv
ROUNDS = 2 if QUICK else 3
REGISTRATIONS = 200 if QUICK else 600
ORDERS = 200 if QUICK else 600
CLIENTS = 8


def mapper_costs() -> list[str]:
    """CPU (process time) to encode and decode a Member.Registered and an Order.Placed, sealed and plain."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from domain.geo import CoordSystem, Location
    from domain.member import Member
    from domain.order import Order, OrderLine
    from domain.store_values import FulfilmentMode
    from infrastructure.mapper import build_mapper
    from infrastructure.migrations import Names
    from infrastructure.privacy import Keyring, PersonalDataMapper

    at = datetime(2026, 11, 30, tzinfo=UTC)
    member = Member.register("acme", "oBenchOpenid", at, unionid="uBench", phone="13912345678")
    order = Order.place(
        id=uuid4(),
        member_id=member.id,
        brand="acme",
        mode=FulfilmentMode.DELIVERY,
        customer_location=Location(31.23, 121.47, CoordSystem.GCJ02),
        lines=(OrderLine("SKU-1", 1, 12_800),),
        at=at,
    )
    events = [member.collect_events()[0], order.collect_events()[0]]

    class Provider:
        current_id = "k"

        def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
            return "k", plaintext

        def unwrap(self, kek_id: str, wrapped: bytes, aad: bytes) -> bytes:
            return wrapped  # never called: this benchmark only seals

        def knows(self, kek_id: str) -> bool:
            return kek_id == "k"

    ring = Keyring(None, Names("public", "e", "s"), Provider())
    sealed, plain = PersonalDataMapper(build_mapper({}).transcoder, ring), build_mapper({})
    out = []
    for label, mapper in (("plain", plain), ("sealed", sealed)):
        n = 5_000
        t0 = time.process_time()
        for _ in range(n):
            stored = [mapper.to_stored_event(e) for e in events]
        t1 = time.process_time()
        for _ in range(n):
            for s_ in stored:
                mapper.to_domain_event(s_)
        t2 = time.process_time()
        out.append(
            f"mapper {label:6s}: encode {1e6 * (t1 - t0) / n:6.1f} us, decode {1e6 * (t2 - t1) / n:6.1f} us "
            f"(Member.Registered + Order.Placed), {sum(len(x.state) for x in stored)} bytes"
        )
    return out


async def register(members, rid, n: int, prefix: str) -> tuple[float, list[str], list[float]]:
    todo, names, latencies = list(range(n)), [], []

    async def client() -> None:
        while todo:
            i = todo.pop()
            t0 = time.perf_counter()
            m = await members.RegisterMember(
                members_pb2.RegisterMemberRequest(
                    request_id=rid(),
                    brand="acme",
                    member=members_pb2.Member(openid=f"o-{prefix}-{i}", unionid=f"u-{prefix}-{i}", phone=f"139{i:08d}"),
                ),
                metadata=bo.MP,
                timeout=30,
            )
            latencies.append(time.perf_counter() - t0)
            names.append(m.name)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return n / (time.perf_counter() - t0), names, latencies


async def main() -> None:
    for line in mapper_costs():
        print(line, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin = pg.start()
    servers = {}
    results: dict[str, list[tuple[float, float, float, float]]] = {"sealed": [], "plain": []}
    try:
        for mode in ("sealed", "plain"):
            await bo.sql(admin, f"CREATE DATABASE bench_{mode}")
            base, _, query = admin.partition("?")
            dsn = base.rsplit("/", 1)[0] + f"/bench_{mode}" + (f"?{query}" if query else "")
            port = bo.free_port()
            if mode == "plain":
                os.environ["LOYALTY_SEAL_PERSONAL_DATA"] = "0"
            proc = bo.start_server(dsn, tmp / f"data-{mode}", port, tmp / f"{mode}.log")
            os.environ.pop("LOYALTY_SEAL_PERSONAL_DATA", None)
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            await bo.wait_serving(channel, proc)
            rid, rng = bo.Ids(f"{mode}"), random.Random(bo.SEED)
            points, _, _ = await bo.open_stores(stores_pb2_grpc.StoreServiceStub(channel), rng, rid)
            members = members_pb2_grpc.MemberServiceStub(channel)
            orders = orders_pb2_grpc.OrderServiceStub(channel)
            _, names, _ = await register(members, rid, 50, "warm")
            await bo.wait_routable(
                orders,
                names[0],
                points[0],
                (
                    await orders.SimulateOrder(
                        bo.orders_pb2.SimulateOrderRequest(order=bo.draft(names[0], *points[0])), metadata=bo.MP
                    )
                ).store,
            )
            servers[mode] = (proc, channel, members, orders, rid, rng, points, dsn)
        for r in range(ROUNDS):
            for mode in ("sealed", "plain") if r % 2 == 0 else ("plain", "sealed"):
                proc, channel, members, orders, rid, rng, points, dsn = servers[mode]
                cpu0 = bo.cpu_seconds(proc.pid)
                reg_rate, names, reg_lat = await register(members, rid, REGISTRATIONS, f"r{r}")
                reg_cpu = (bo.cpu_seconds(proc.pid) - cpu0) * 1000 / REGISTRATIONS
                run = await bo.drive(orders, mode, names, points, ORDERS, CLIENTS, rng, rid, 0.01, proc.pid, dsn)
                place = statistics.median(run.calls.latencies["PlaceOrder"]) * 1000
                order_cpu = run.server_cpu * 1000 / max(1, run.calls.count("PayOrder"))
                results[mode].append((reg_rate, reg_cpu, run.rate, order_cpu))
                print(
                    f"round {r} {mode:6s}: register {reg_rate:6.0f}/s {reg_cpu:5.2f} ms server CPU each "
                    f"(p50 {statistics.median(reg_lat) * 1000:5.1f} ms); orders {run.rate:6.0f}/s "
                    f"{order_cpu:5.2f} ms server CPU each (PlaceOrder p50 {place:5.1f} ms); errors "
                    f"{run.calls.errors()}",
                    flush=True,
                )
    finally:
        for proc, channel, *_ in servers.values():
            await channel.close()
            bo.stop_server(proc)
        pg.stop()
    print(f"load average at the end: {os.getloadavg()}")
    for i, what in (
        (0, "registrations/s"),
        (1, "registration CPU ms"),
        (2, "orders/s (Place+Pay)"),
        (3, "order CPU ms"),
    ):
        sealed = statistics.median(x[i] for x in results["sealed"])
        plain = statistics.median(x[i] for x in results["plain"])
        print(f"{what:22s} sealed {sealed:8.2f}  plain {plain:8.2f}  sealed/plain {sealed / plain:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
