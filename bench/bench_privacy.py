"""What sealing personal data costs: registration and PlaceOrder+PayOrder with and without, in one run.

Issue 17's target: with field encryption, registration and PlaceOrder+PayOrder within 10 % of the path
without it, measured in the same run. Two modes, the same load:

- ``sealed``: as configured (personal fields sealed under per-member data keys, request-log responses
  sealed);
- ``plain``: ``LOYALTY_SEAL_PERSONAL_DATA=0`` (the path without field encryption; blind-index identities
  in both).

On a shared machine one round of a mode can be 40 % faster than the next round of the same mode, so a single
comparison settles nothing. The run is built to be robust to that:

- rounds interleave the modes (sealed, plain, plain, sealed, sealed, plain, ...: each pair has both, the first
  of each pair alternating, so a steady drift in machine load cancels);
- every round of every mode runs on a fresh database and a fresh server process (same stores, same warm-up:
  no round inherits a bigger table, a warmer cache or a fuller request log from the one before);
- each round measures R registrations by C clients, then N orders (PlaceOrder then PayOrder) by C clients:
  throughput (registrations/s, paid orders/s) and the server process's CPU time per operation (user + system,
  from /proc, all its threads), which a busy machine disturbs far less than throughput;
- the summary gives each mode's median over its rounds, the ratio sealed/plain of the medians, and the median
  of the per-pair ratios (a pair ran back to back, so its ratio is the least disturbed comparison).

Also measured, outside any server: the mapper's encode and decode of a Member.Registered plus an Order.Placed,
sealed and plain (median of 7 batches: steady enough to compare optimisations of the sealing path).

Usage (the lead, on a quiet machine; about 10 minutes):
    .venv/bin/python bench/bench_privacy.py
writes bench/results/privacy.txt (``--out``) and, with ``--json PATH``, the figures as JSON (bench/suite.py).
Smoke test: ``.venv/bin/python bench/bench_privacy.py --quick`` (tiny sizes, writes nothing unless ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_orders as bo  # noqa: E402
import grpc  # noqa: E402
from bench_overload import start_spy  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from protos.loyalty.v1 import members_pb2, members_pb2_grpc, orders_pb2_grpc, stores_pb2_grpc  # noqa: E402

MODES = ("sealed", "plain")
FIGURES = ("registrations_per_s", "registration_cpu_ms", "orders_per_s", "order_cpu_ms")
LABELS = {
    "registrations_per_s": "registrations/s",
    "registration_cpu_ms": "server CPU ms per registration",
    "orders_per_s": "paid orders/s (PlaceOrder+PayOrder)",
    "order_cpu_ms": "server CPU ms per paid order",
}
HIGHER_IS_BETTER = {
    "registrations_per_s": True,
    "registration_cpu_ms": False,
    "orders_per_s": True,
    "order_cpu_ms": False,
}
TARGET = 0.10  # sealed within 10 % of plain


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per mode (default 6; quick 2)")
    parser.add_argument("--registrations", type=int, default=None, help="per round (default 600; quick 40)")
    parser.add_argument("--orders", type=int, default=None, help="paid orders per round (default 600; quick 40)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="text results (default bench/results/privacy.txt)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the server's registrations into DIR/<mode>-<round>.raw"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (2 if quick else 6)
    args.registrations = args.registrations or (40 if quick else 600)
    args.orders = args.orders or (40 if quick else 600)
    if args.out is None and not quick:
        args.out = ROOT / "bench" / "results" / "privacy.txt"
    return args


# --- the mapper alone -------------------------------------------------------------------------------


def mapper_costs(batches: int = 7, n: int = 2_000) -> dict[str, dict[str, float]]:
    """Per (Member.Registered + Order.Placed): encode and decode in microseconds (process time, median of
    ``batches`` batches of ``n``), and the stored bytes; sealed and plain."""
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
            return wrapped  # never called: the keys stay cached

        def knows(self, kek_id: str) -> bool:
            return kek_id == "k"

    ring = Keyring(None, Names("public", "e", "s"), Provider())
    mappers = {"plain": build_mapper({}), "sealed": PersonalDataMapper(build_mapper({}).transcoder, ring)}
    out: dict[str, dict[str, float]] = {}
    for label, mapper in mappers.items():
        stored = [mapper.to_stored_event(e) for e in events]
        encode, decode = [], []
        for _ in range(batches):
            t0 = time.process_time()
            for _ in range(n):
                for e in events:
                    mapper.to_stored_event(e)
            t1 = time.process_time()
            for _ in range(n):
                for s in stored:
                    mapper.to_domain_event(s)
            t2 = time.process_time()
            encode.append(1e6 * (t1 - t0) / n)
            decode.append(1e6 * (t2 - t1) / n)
        out[label] = {
            "encode_us": round(statistics.median(encode), 1),
            "decode_us": round(statistics.median(decode), 1),
            "bytes": sum(len(s.state) for s in stored),
        }
    return out


# --- one round against a fresh server ---------------------------------------------------------------


@dataclass
class Round:
    index: int
    mode: str
    registrations_per_s: float
    registration_cpu_ms: float
    registration_p50_ms: float
    orders_per_s: float
    order_cpu_ms: float
    place_p50_ms: float
    errors: str


async def register(members, rid, n: int, prefix: str, clients: int) -> tuple[float, list[str], list[float]]:
    todo, names, latencies = list(range(n)), [], []

    async def client() -> None:
        while todo:
            i = todo.pop()
            request = members_pb2.RegisterMemberRequest(
                request_id=rid(),
                brand="acme",
                member=members_pb2.Member(openid=f"o-{prefix}-{i}", unionid=f"u-{prefix}-{i}", phone=f"139{i:08d}"),
            )
            t0 = time.perf_counter()
            while True:
                try:
                    m = await members.RegisterMember(request, metadata=bo.MP, timeout=30)
                    break
                except grpc.aio.AioRpcError as e:  # refused by admission control: retry the same request
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    await asyncio.sleep(0.05)
            latencies.append(time.perf_counter() - t0)
            names.append(m.name)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return n / (time.perf_counter() - t0), names, latencies


async def one_round(admin: str, tmp: Path, index: int, mode: str, args: argparse.Namespace) -> Round:
    database = f"bench_{mode}_{index}"
    await bo.sql(admin, f"CREATE DATABASE {database}")
    base, _, query = admin.partition("?")
    dsn = base.rsplit("/", 1)[0] + f"/{database}" + (f"?{query}" if query else "")
    port = bo.free_port()
    env_before = os.environ.get("LOYALTY_SEAL_PERSONAL_DATA")
    os.environ["LOYALTY_SEAL_PERSONAL_DATA"] = "1" if mode == "sealed" else "0"
    os.environ["SCHEDULER_INTERVAL"] = "0"  # nothing but the measured calls runs in the server
    try:
        proc = bo.start_server(dsn, tmp / f"data-{database}", port, tmp / f"{database}.log")
    finally:
        if env_before is None:
            os.environ.pop("LOYALTY_SEAL_PERSONAL_DATA", None)
        else:
            os.environ["LOYALTY_SEAL_PERSONAL_DATA"] = env_before
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        await bo.wait_serving(channel, proc)
        rid, rng = bo.Ids(f"{mode}{index}"), random.Random(bo.SEED)
        points, _, _ = await bo.open_stores(stores_pb2_grpc.StoreServiceStub(channel), rng, rid)
        members = members_pb2_grpc.MemberServiceStub(channel)
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        _, warm, _ = await register(members, rid, 50, "warm", args.clients)  # warm-up, not measured
        simulated = await orders.SimulateOrder(
            bo.orders_pb2.SimulateOrderRequest(order=bo.draft(warm[0], *points[0])), metadata=bo.MP
        )
        await bo.wait_routable(orders, warm[0], points[0], simulated.store)
        await bo.drive(orders, "warm", warm, points, 20, args.clients, rng, rid, 0.01, proc.pid, dsn)

        spy = None
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            spy = start_spy(proc.pid, args.profile / f"{mode}-{index}.raw")
        cpu0 = bo.cpu_seconds(proc.pid)
        reg_rate, names, reg_lat = await register(members, rid, args.registrations, "m", args.clients)
        reg_cpu = (bo.cpu_seconds(proc.pid) - cpu0) * 1000 / args.registrations
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        run = await bo.drive(orders, mode, names, points, args.orders, args.clients, rng, rid, 0.01, proc.pid, dsn)
        return Round(
            index,
            mode,
            round(reg_rate, 1),
            round(reg_cpu, 3),
            round(statistics.median(reg_lat) * 1000, 1),
            round(run.rate, 1),
            round(run.server_cpu * 1000 / max(1, run.calls.count("PayOrder")), 3),
            round(statistics.median(run.calls.latencies["PlaceOrder"] or [0.0]) * 1000, 1),
            run.calls.errors(),
        )
    finally:
        await channel.close()
        bo.stop_server(proc)
        await bo.sql(admin, f"DROP DATABASE IF EXISTS {database}")


# --- the summary ------------------------------------------------------------------------------------


def summarise(rounds: list[Round]) -> dict:
    by_mode = {m: [r for r in rounds if r.mode == m] for m in MODES}
    medians = {m: {f: statistics.median(getattr(r, f) for r in by_mode[m]) for f in FIGURES} for m in MODES}
    ratio_of_medians = {f: medians["sealed"][f] / medians["plain"][f] for f in FIGURES if medians["plain"][f]}
    pairs: dict[int, dict[str, Round]] = {}
    for r in rounds:
        pairs.setdefault(r.index, {})[r.mode] = r
    pair_ratios = {
        f: statistics.median(
            getattr(p["sealed"], f) / getattr(p["plain"], f) for p in pairs.values() if getattr(p["plain"], f)
        )
        for f in FIGURES
    }
    met = {
        f: (ratio_of_medians[f] >= 1 - TARGET) if HIGHER_IS_BETTER[f] else (ratio_of_medians[f] <= 1 + TARGET)
        for f in ratio_of_medians
    }
    return {
        "sealed": medians["sealed"],
        "plain": medians["plain"],
        "ratios": {f: round(v, 3) for f, v in ratio_of_medians.items()},
        "pair_ratios": {f: round(v, 3) for f, v in pair_ratios.items()},
        "within_10_percent": met,
    }


def report(args: argparse.Namespace, mapper: dict, rounds: list[Round], summary: dict, started: str) -> list[str]:
    lines = [
        f"bench/bench_privacy.py, {started} - {datetime.now(UTC):%H:%M} UTC; {os.cpu_count()} CPUs; load average "
        f"at the end {tuple(round(x, 1) for x in os.getloadavg())}",
        f"{args.rounds} rounds per mode, interleaved (pairs alternate which mode goes first), each on a fresh "
        f"database and server; per round {args.registrations} registrations, then {args.orders} PlaceOrder+PayOrder, "
        f"{args.clients} clients",
        "",
    ]
    for label in ("plain", "sealed"):
        m = mapper[label]
        lines.append(
            f"mapper {label:6s}: encode {m['encode_us']:6.1f} us, decode {m['decode_us']:6.1f} us "
            f"(Member.Registered + Order.Placed, median of 7 batches), {m['bytes']} bytes"
        )
    lines.append("")
    for r in rounds:
        lines.append(
            f"round {r.index} {r.mode:6s}: register {r.registrations_per_s:6.1f}/s {r.registration_cpu_ms:6.2f} ms "
            f"CPU each (p50 {r.registration_p50_ms:5.1f} ms); orders {r.orders_per_s:6.1f}/s {r.order_cpu_ms:6.2f} ms "
            f"CPU each (PlaceOrder p50 {r.place_p50_ms:5.1f} ms); errors {r.errors}"
        )
    lines += [
        "",
        f"{'median of rounds':38s} {'sealed':>9s} {'plain':>9s} {'sealed/plain':>13s} {'pairs':>7s}  within 10 %",
    ]
    for f in FIGURES:
        lines.append(
            f"{LABELS[f]:38s} {summary['sealed'][f]:9.2f} {summary['plain'][f]:9.2f} {summary['ratios'][f]:13.3f} "
            f"{summary['pair_ratios'][f]:7.3f}  {'yes' if summary['within_10_percent'][f] else 'NO'}"
        )
    lines.append(
        "(pairs: the median of each back-to-back pair's sealed/plain ratio; throughput wants >= 0.90, CPU <= 1.10)"
    )
    return lines


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    mapper = mapper_costs(batches=3 if args.quick else 7, n=300 if args.quick else 2_000)
    for label, m in mapper.items():
        print(f"mapper {label}: {m}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin = pg.start()
    rounds: list[Round] = []
    try:
        for index in range(args.rounds):
            for mode in MODES if index % 2 == 0 else tuple(reversed(MODES)):
                r = await one_round(admin, tmp, index, mode, args)
                rounds.append(r)
                print(asdict(r), flush=True)
    finally:
        pg.stop()
    summary = summarise(rounds)
    lines = report(args, mapper, rounds, summary, started)
    print("\n".join(lines))
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {**summary, "mapper": mapper, "rounds": [asdict(r) for r in rounds], "quick": args.quick}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
