"""Brands as tenants under a flash sale: two brands at once vs one alone, and 1 vs 2 server processes.

Both figures go through the real server (``python server.py`` subprocess, gRPC over loopback, one
embedded PostgreSQL with a schema per brand). Each client loops PlaceOrder -> PayOrder; every brand's
orders are concentrated on a few hot stores (``--stores`` per brand, customers within ~100 m of one).

  brands   A = one brand alone (acme, C clients) vs B = two brands at once (acme and beta, C/2 each):
           the same total client concurrency, one server process. Target: B/A >= 1.0 (no cross-brand
           lock contention: each brand's log has its own events-table lock).
  each     A = one brand alone (C clients) vs B = two brands each selling as hard as the one alone (C
           clients each), one server process: the second brand's sale arriving on top of the first's. On a
           saturated process the total cannot rise, so B/A >= 1.0 says the second sale costs the first
           nothing beyond sharing the CPU (no lock waits between brands, no cost per order that grows).
  workers  A = 1 server process vs B = 2 (GRPC_WORKERS=2, SO_REUSEPORT), two brands, C/2 each, the
           client on 8 connections so the kernel spreads them over the processes.

Robust to a noisy shared machine: rounds interleave A B B A A B ... (each mode equally often first, so
drift cancels); every round starts a fresh database (same log size for every run: nothing carries
over) and a fresh server, sets the brands up through the API, warms up, then measures ``--duration``
s (the read models caught up before it starts). Per run: paid orders/s (total and per brand), errors,
p50/p99 of both RPCs, the read models' backlog when the load stops and the seconds they take to work it off
("settled" orders/s = paid / (load + catch-up): the projections of a starved runner are not free, they
are paid after the window; with one brand one runner task competes with every call for the event loop,
with two brands two do), and CPU per paid order
from /proc of the server's process tree (parent and workers) and of PostgreSQL's (postmaster, its
backends, and the CPU of backends that exited, via cutime/cstime). Reported: medians per mode, the
ratio of medians and the median of the per-round ratios (each B beside the A of its own round).

Usage:
  .venv/bin/python bench/bench_tenants.py [--rounds 5] [--duration 20] [--only brands|each|workers] [--json PATH]
  .venv/bin/python bench/bench_tenants.py --quick      # smoke test: 1 round, 3 s (numbers meaningless)
  .venv/bin/python bench/bench_tenants.py --store      # below the server: the events-table lock alone
  ... --only brands --rounds 1 --duration 10 --profile DIR [--statements]   # where the cost per order goes:
      py-spy (raw, --idle) of the server per measured run, PostgreSQL's transactions per paid order, and with
      --statements its statement log of the run summed by statement, group commits and statements per order
Time: about (2 modes x rounds x (duration + ~20 s setup)) per part: the default (5 rounds, 20 s, all
three parts) takes about 21 minutes. Writes bench/results/tenants.txt (not with --quick or --store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import asyncpg  # noqa: E402
import grpc  # noqa: E402
from bench_orders import SUZHOU, caught_up, draft, free_port, pct, spec, sql, stop_server, wait_serving  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from infrastructure.tenants import onboard  # noqa: E402
from protos.loyalty.v1 import (  # noqa: E402
    members_pb2,
    members_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
)

BRANDS = ("acme", "beta")
TOKENS = {f"{role}@{b}": f"bench-{role}-{b}-0123456789" for b in BRANDS for role in ("miniprogram", "operator")}
RESULTS = ROOT / "bench" / "results"
CALL_TIMEOUT_S = 10.0
TICK = os.sysconf("SC_CLK_TCK")


def md(role: str, brand: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {TOKENS[f'{role}@{brand}']}"),)


# --- /proc: CPU of process trees -------------------------------------------------------------


def _stats() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, own utime+stime + reaped children's cutime+cstime, in s)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry)] = (int(f[1]), (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TICK)
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and every descendant alive, plus what exited ones left in their parents."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children.get(pid, ()))
    return total


# --- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    part: str
    mode: str
    round: int
    seconds: float = 0.0
    paid: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    load_average: float = 0.0
    backlog: int = 0
    """Events not yet applied by every read model when the load stopped."""
    catch_up_s: float = 0.0
    server_cpu_settled_s: float = 0.0
    pg_cpu_settled_s: float = 0.0
    """CPU from the start of the measured run until the read models caught up."""
    counts: dict[str, float] = field(default_factory=dict)
    """Per paid order (with --profile or --statements): transactions committed, group commits, statements."""

    @property
    def total_paid(self) -> int:
        return sum(self.paid.values())

    @property
    def rate(self) -> float:
        return self.total_paid / self.seconds if self.seconds else 0.0

    @property
    def settled_rate(self) -> float:
        """Paid orders per second of the load and of the read models' catching up after it."""
        return self.total_paid / (self.seconds + self.catch_up_s) if self.seconds else 0.0

    def per_order_ms(self, cpu_s: float) -> float:
        return 1000 * cpu_s / max(1, self.total_paid)

    def summary(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "mode": self.mode,
            "round": self.round,
            "orders_per_s": round(self.rate, 1),
            "per_brand_orders_per_s": {b: round(n / self.seconds, 1) for b, n in self.paid.items()},
            "errors": self.errors,
            "p50_ms": round(pct(self.latencies, 0.5), 1),
            "p99_ms": round(pct(self.latencies, 0.99), 1),
            "server_cpu_ms_per_order": round(self.per_order_ms(self.server_cpu_s), 2),
            "pg_cpu_ms_per_order": round(self.per_order_ms(self.pg_cpu_s), 2),
            "backlog_events": self.backlog,
            "catch_up_s": round(self.catch_up_s, 2),
            "settled_orders_per_s": round(self.settled_rate, 1),
            "settled_server_cpu_ms_per_order": round(self.per_order_ms(self.server_cpu_settled_s), 2),
            "settled_pg_cpu_ms_per_order": round(self.per_order_ms(self.pg_cpu_settled_s), 2),
            "load_average": round(self.load_average, 2),
            **({"per_order": self.counts} if self.counts else {}),
        }


class Bench:
    def __init__(self, args: argparse.Namespace, pg: EmbeddedPostgres, admin_dsn: str, tmp: Path) -> None:
        self.args, self.pg, self.admin_dsn, self.tmp = args, pg, admin_dsn, tmp
        self.postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
        self.n = 0

    def dsn(self, database: str) -> str:
        base, _, query = self.admin_dsn.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")

    def rid(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"

    def stores_at(self, brand: str) -> list[tuple[float, float]]:
        """The brand's hot stores, ~3 km apart (both brands at the same spots: they never see each other's)."""
        return [(SUZHOU[0] + 0.03 * i, SUZHOU[1]) for i in range(self.args.stores)]

    async def run(self, part: str, mode: str, index: int) -> Run:
        """A fresh database and server; both brands set up; warm-up; one measured run of ``mode``."""
        workers = 2 if (part, mode) == ("workers", "2 processes") else 1
        database = f"bench_tenants_{part}_{index}_{workers}_{mode.split()[0]}"
        self.prefix = uuid4().hex[:8]
        await sql(self.admin_dsn, f'DROP DATABASE IF EXISTS "{database}"')
        await sql(self.admin_dsn, f'CREATE DATABASE "{database}"')
        dsn = self.dsn(database)
        self.tenants = [await onboard(dsn, b) for b in BRANDS]
        self.database_dsn = dsn
        if self.args.statements:  # every statement logged with its duration (costs PostgreSQL CPU of its own)
            await sql(self.admin_dsn, f'ALTER DATABASE "{database}" SET log_min_duration_statement = 0')
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "GRPC_ADDRESS": f"127.0.0.1:{port}",
            "GRPC_WORKERS": str(workers),
            "LOYALTY_DATA_DIR": str(self.tmp / "data"),  # one data dir: the same development keys every round
            "LOYALTY_API_TOKENS": ",".join(f"{t}={r}" for r, t in TOKENS.items()),
            "LOYALTY_ONBOARD_TOKEN_BRANDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        log = self.tmp / f"server-{database}.log"
        with open(log, "wb") as out:  # noqa: ASYNC230 - a moment's blocking before the run, not during it
            proc = subprocess.Popen(  # noqa: ASYNC220 - started and left running; stopped below
                [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        channels = [
            grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(8 if part == "workers" else 1)
        ]
        try:
            await wait_serving(channels[0], proc, timeout=120)
            if workers > 1:
                await asyncio.sleep(1.0)  # every worker bound
            members = {b: await self.setup(channels[0], b) for b in BRANDS}
            c = self.args.clients
            if mode == "one brand":
                plan = {"acme": c}
            elif mode == "two brands at C each":
                plan = {"acme": c, "beta": c}
            else:
                plan = {"acme": c // 2, "beta": c - c // 2}
            await self.load(Run(part, "warm-up", index), channels, members, plan, self.args.warmup)
            await self.caught_up()  # the measured window starts with every read model current
            run = Run(part, mode, index)
            probe = Probe(self, database, proc.pid, f"{part}-{mode.replace(' ', '-')}-{index}")
            await probe.begin()
            cpu0, pg0 = tree_cpu(proc.pid), tree_cpu(self.postmaster)
            await self.load(run, channels, members, plan, self.args.duration)
            run.server_cpu_s, run.pg_cpu_s = tree_cpu(proc.pid) - cpu0, tree_cpu(self.postmaster) - pg0
            # The read models' backlog when the load stops, and the time and CPU to work it off: a mode whose
            # projections fall behind (one runner starved by the calls) is not cheaper, it pays later.
            run.backlog = await self.backlog()
            t0 = time.perf_counter()
            await self.caught_up()
            run.catch_up_s = time.perf_counter() - t0
            run.server_cpu_settled_s = tree_cpu(proc.pid) - cpu0
            run.pg_cpu_settled_s = tree_cpu(self.postmaster) - pg0
            run.counts = await probe.end(run.total_paid)  # statements of the load and of the catching up
            run.load_average = os.getloadavg()[0]
            return run
        finally:
            for channel in channels:
                await channel.close()
            stop_server(proc)
            await sql(self.admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    async def backlog(self) -> int:
        """Events committed that some read model has not applied yet, over both brands."""
        total = 0
        conn = await asyncpg.connect(self.database_dsn)
        try:
            for t in self.tenants:
                row = await conn.fetchrow(
                    f"SELECT (SELECT max(notification_id) FROM {t.names.q(t.names.events)}), "
                    f"(SELECT min(notification_id) FROM {t.names.q('projection_tracking')})"
                )
                head, done = (row[0], row[1]) if row is not None else (0, 0)
                total += (head or 0) - (done or 0)
        finally:
            await conn.close()
        return total

    async def caught_up(self, timeout: float = 300.0) -> None:
        if os.environ.get("LOYALTY_PROJECTIONS") == "0":  # the server runs no projections: nothing to wait for
            return
        await caught_up(self.backlog, timeout)

    async def setup(self, channel: grpc.aio.Channel, brand: str) -> list[str]:
        stores = stores_pb2_grpc.StoreServiceStub(channel)
        members = members_pb2_grpc.MemberServiceStub(channel)
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        names = []
        for i, at in enumerate(self.stores_at(brand)):
            store = await stores.OpenCloudStore(
                stores_pb2.OpenCloudStoreRequest(
                    request_id=self.rid(),
                    cloud_store=stores_pb2.CloudStore(spec=spec(f"HOT-{brand}-{i}", *at, f"D{i}")),
                ),
                metadata=md("operator", brand),
            )
            names.append((store.name, at))
        registered: list[str] = []
        todo = list(range(self.args.members))

        async def register() -> None:
            while todo:
                i = todo.pop()
                request = members_pb2.RegisterMemberRequest(
                    request_id=self.rid(), member=members_pb2.Member(openid=f"o-{brand}-{i}")
                )
                while True:
                    try:
                        m = await members.RegisterMember(request, metadata=md("miniprogram", brand), timeout=30)
                        break
                    except grpc.aio.AioRpcError as e:
                        if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                            raise
                        await asyncio.sleep(0.1)
                registered.append(m.name)

        await asyncio.gather(*(register() for _ in range(16)))
        deadline = time.monotonic() + 60
        for name, at in names:  # the store directory follows the log: wait until it routes to every store
            while True:
                d = await orders.SimulateOrder(
                    orders_pb2.SimulateOrderRequest(order=draft(registered[0], *at)), metadata=md("miniprogram", brand)
                )
                if d.allocated and d.store == name:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{brand}: the directory never routed to {name}")
                await asyncio.sleep(0.2)
        return registered

    async def load(
        self,
        run: Run,
        channels: list[grpc.aio.Channel],
        members: dict[str, list[str]],
        plan: dict[str, int],
        seconds: float,
    ) -> None:
        stubs = [orders_pb2_grpc.OrderServiceStub(c) for c in channels]
        end = time.perf_counter() + seconds
        turn = 0

        async def client(brand: str, rng: random.Random) -> None:
            nonlocal turn
            meta = md("miniprogram", brand)
            spots = self.stores_at(brand)
            while time.perf_counter() < end:
                turn += 1
                stub = stubs[turn % len(stubs)]
                lat, lng = rng.choice(spots)
                at = (lat + rng.gauss(0, 0.001), lng + rng.gauss(0, 0.001))
                t0 = time.perf_counter()
                try:
                    order = await stub.PlaceOrder(
                        orders_pb2.PlaceOrderRequest(
                            request_id=self.rid(), order=draft(rng.choice(members[brand]), *at)
                        ),
                        metadata=meta,
                        timeout=CALL_TIMEOUT_S,
                    )
                    run.latencies.append(time.perf_counter() - t0)
                    if order.state != orders_pb2.ORDER_STATE_ALLOCATED:
                        run.errors["UNALLOCATED"] = run.errors.get("UNALLOCATED", 0) + 1
                        continue
                    t0 = time.perf_counter()
                    await stub.PayOrder(
                        orders_pb2.PayOrderRequest(request_id=self.rid(), name=order.name, paid_fen=order.total_fen),
                        metadata=meta,
                        timeout=CALL_TIMEOUT_S,
                    )
                    run.latencies.append(time.perf_counter() - t0)
                    run.paid[brand] = run.paid.get(brand, 0) + 1
                except grpc.aio.AioRpcError as e:
                    run.errors[e.code().name] = run.errors.get(e.code().name, 0) + 1
                    if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        await asyncio.sleep(0.05)  # as RetryInfo asks, roughly

        t0 = time.perf_counter()
        seed = hash((run.part, run.mode, run.round))
        await asyncio.gather(
            *(client(b, random.Random(seed + 1000 * k + i)) for k, (b, n) in enumerate(plan.items()) for i in range(n))
        )
        run.seconds = time.perf_counter() - t0


def _py_spy() -> str:
    found = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


class Probe:
    """With ``--profile DIR``: py-spy on the server for the measured run, and PostgreSQL's counters per paid order
    (transactions, and with ``--statements`` the statement log of the run summed by statement) into DIR."""

    def __init__(self, bench: Bench, database: str, pid: int, name: str) -> None:
        self.bench, self.database, self.pid, self.name = bench, database, pid, name
        self.dir: Path | None = bench.args.profile
        self.spy: subprocess.Popen | None = None

    async def _xacts(self) -> int:
        return await sql(
            self.bench.admin_dsn, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{self.database}'"
        )

    async def begin(self) -> None:
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_at = (self.bench.pg.pgdata / "log").stat().st_size
        self.xacts = await self._xacts()
        self.spy = subprocess.Popen(  # noqa: ASYNC220 - started and left running for the measured run
            [
                _py_spy(),
                "record",
                "--format",
                "raw",
                "--idle",
                "-r",
                "200",
                "-d",
                str(int(self.bench.args.duration)),
                "-o",
                str(self.dir / f"{self.name}.raw"),
                "-p",
                str(self.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def end(self, paid: int) -> dict[str, float]:
        if self.dir is None:
            return {}
        await asyncio.sleep(0.5)  # the last in-flight commits land in the counters
        counts: dict[str, float] = {"transactions": round((await self._xacts() - self.xacts) / max(1, paid), 3)}
        if self.bench.args.statements:
            from pg_statements import summary

            with open(self.bench.pg.pgdata / "log", "rb") as f:  # noqa: ASYNC230 - after the measured run
                f.seek(self.log_at)
                text = f.read().decode(errors="replace")
            lines = [x for x in text.splitlines() if "duration: " in x and ("execute" in x or "statement:" in x)]
            commits = sum('_commit_ids"(' in x for x in lines)  # one group commit (and one NOTIFY) per call
            statements = len(lines)
            counts |= {
                "group_commits": round(commits / max(1, paid), 3),
                "statements": round(statements / max(1, paid), 2),
            }
            (self.dir / f"{self.name}.statements.txt").write_text(f"paid {paid}\n" + summary(text, 300))
        if self.spy is not None:
            self.spy.wait()
        return counts


# --- the parts ----------------------------------------------------------------------------------

PARTS = {
    "brands": ("one brand", "two brands"),
    "each": ("one brand", "two brands at C each"),
    "workers": ("1 process", "2 processes"),
}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(part: str, runs: list[Run]) -> dict[str, Any]:
    a_mode, b_mode = PARTS[part]
    a = [r for r in runs if r.mode == a_mode]
    b = [r for r in runs if r.mode == b_mode]
    by_round = {r.round: r for r in a}
    pair = [r.rate / by_round[r.round].rate for r in b if r.round in by_round and by_round[r.round].rate]
    settled_pair = [
        r.settled_rate / by_round[r.round].settled_rate
        for r in b
        if r.round in by_round and by_round[r.round].settled_rate
    ]

    def side(rs: list[Run]) -> dict[str, Any]:
        return {
            "orders_per_s_median": round(median([r.rate for r in rs]), 1),
            "orders_per_s": [round(r.rate, 1) for r in rs],
            "server_cpu_ms_per_order_median": round(median([r.per_order_ms(r.server_cpu_s) for r in rs]), 2),
            "pg_cpu_ms_per_order_median": round(median([r.per_order_ms(r.pg_cpu_s) for r in rs]), 2),
            "p99_ms_median": round(median([pct(r.latencies, 0.99) for r in rs]), 1),
            "backlog_events": [r.backlog for r in rs],
            "catch_up_s": [round(r.catch_up_s, 2) for r in rs],
            "settled_orders_per_s_median": round(median([r.settled_rate for r in rs]), 1),
            "settled_server_cpu_ms_per_order_median": round(
                median([r.per_order_ms(r.server_cpu_settled_s) for r in rs]), 2
            ),
            "settled_pg_cpu_ms_per_order_median": round(median([r.per_order_ms(r.pg_cpu_settled_s) for r in rs]), 2),
            "errors": {k: sum(r.errors.get(k, 0) for r in rs) for k in sorted({k for r in rs for k in r.errors})},
        }

    sa, sb = side(a), side(b)
    return {
        "a": a_mode,
        "b": b_mode,
        a_mode: sa,
        b_mode: sb,
        "ratio_of_medians": round(sb["orders_per_s_median"] / sa["orders_per_s_median"], 3)
        if sa["orders_per_s_median"]
        else None,
        "median_round_ratio": round(median(pair), 3) if pair else None,
        "round_ratios": [round(x, 3) for x in pair],
        "settled_ratio_of_medians": round(sb["settled_orders_per_s_median"] / sa["settled_orders_per_s_median"], 3)
        if sa["settled_orders_per_s_median"]
        else None,
        "settled_round_ratios": [round(x, 3) for x in settled_pair],
    }


def describe(part: str, s: dict[str, Any]) -> list[str]:
    a, b = s[s["a"]], s[s["b"]]
    lines = [f"{part}: {s['b']} vs {s['a']}"]
    for mode in (s["a"], s["b"]):
        x = s[mode]
        lines.append(
            f"  {mode:12s} median {x['orders_per_s_median']:7.1f} orders/s  runs {x['orders_per_s']}  "
            f"server CPU {x['server_cpu_ms_per_order_median']:.2f} ms/order  PostgreSQL CPU "
            f"{x['pg_cpu_ms_per_order_median']:.2f} ms/order  p99 {x['p99_ms_median']:.0f} ms  errors {x['errors']}"
        )
    lines.append(
        f"  ratio of medians {s['ratio_of_medians']}x; median of per-round ratios {s['median_round_ratio']}x "
        f"(rounds: {s['round_ratios']}); CPU per order {b['server_cpu_ms_per_order_median']:.2f} vs "
        f"{a['server_cpu_ms_per_order_median']:.2f} ms (server), {b['pg_cpu_ms_per_order_median']:.2f} vs "
        f"{a['pg_cpu_ms_per_order_median']:.2f} ms (PostgreSQL)"
    )
    for mode in (s["a"], s["b"]):
        x = s[mode]
        lines.append(
            f"  {mode:12s} settled {x['settled_orders_per_s_median']:7.1f} orders/s (read models' backlog at the "
            f"end {x['backlog_events']} events, caught up in {x['catch_up_s']} s)  server CPU "
            f"{x['settled_server_cpu_ms_per_order_median']:.2f} ms/order  PostgreSQL CPU "
            f"{x['settled_pg_cpu_ms_per_order_median']:.2f} ms/order"
        )
    lines.append(
        f"  settled (paid orders / (load + read models catching up)): ratio of medians "
        f"{s['settled_ratio_of_medians']}x (rounds: {s['settled_round_ratios']})"
    )
    return lines


async def server_main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin = pg.start()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": await sql(admin, "SHOW server_version"),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            k: getattr(args, k) for k in ("rounds", "duration", "warmup", "clients", "stores", "members", "quick")
        },
        "parts": {},
        "runs": [],
    }
    say = print
    say(f"bench_tenants: {result['machine']}; {result['settings']}", flush=True)
    try:
        bench = Bench(args, pg, admin, tmp)
        for part in args.only or list(PARTS):
            runs: list[Run] = []
            a, b = PARTS[part]
            for i in range(args.rounds):
                for mode in (a, b) if i % 2 == 0 else (b, a):  # A B, B A, A B, ...: each first equally often
                    run = await bench.run(part, mode, i)
                    runs.append(run)
                    result["runs"].append(run.summary())
                    say(f"  {json.dumps(run.summary())}", flush=True)
            result["parts"][part] = summarise(part, runs)
            for line in describe(part, result["parts"][part]):
                say(line, flush=True)
    finally:
        pg.stop()
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def write_text(result: dict[str, Any], path: Path) -> None:
    m = result["machine"]
    lines = [
        f"bench/bench_tenants.py {m['date']}: {m['platform']}, {m['cores']} cores, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']} (embedded, Unix socket); load average {m['load_average_start']} at start, "
        f"{m['load_average_end']} at end; {result['seconds']:.0f} s",
        f"settings: {result['settings']} (clients: total concurrency, split evenly over the brands that sell; "
        "in part each, C per brand)",
        "each run: a fresh database and server, both brands set up through the API, warm-up, then the measured "
        "closed loop; rounds interleave A B / B A",
        "",
    ]
    for part, s in result["parts"].items():
        lines += [*describe(part, s), ""]
    lines.append("runs:")
    lines += [f"  {json.dumps(r)}" for r in result["runs"]]
    path.write_text("\n".join(lines) + "\n")


# --- below the server: the events-table lock alone -------------------------------------------------


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


async def store_main(quick: bool) -> None:
    from infrastructure.event_store import EventStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    dsn = pg.start()
    writers, seconds = 16, (4 if quick else 10)
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
        one, two = (median(v) for v in runs.values())
        print(f"load average at end: {os.getloadavg()}")
        print(f"one brand's log: {one:,.0f} txn/s; two brands' logs at once: {two:,.0f} txn/s = {two / one:.2f}x")
        for store in stores.values():
            await store.close()
    finally:
        pg.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=None, help="rounds per part, each one run of both modes (5)")
    p.add_argument("--duration", type=float, default=None, help="measured seconds per run (20)")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per run (5)")
    p.add_argument("--clients", type=int, default=32, help="total client concurrency (32)")
    p.add_argument("--stores", type=int, default=4, help="hot stores per brand (4)")
    p.add_argument("--members", type=int, default=None, help="members per brand (200)")
    p.add_argument("--only", choices=list(PARTS), action="append", default=None)
    p.add_argument("--quick", action="store_true", help="smoke test: tiny and short, numbers meaningless")
    p.add_argument("--store", action="store_true", help="below the server: appends to one vs two brands' logs")
    p.add_argument("--profile", type=Path, default=None, help="py-spy the server of each measured run into this dir")
    p.add_argument("--statements", action="store_true", help="with --profile: log and sum PostgreSQL's statements")
    p.add_argument("--json", type=Path, default=None, help="also write the results here as JSON")
    p.add_argument("--out", type=Path, default=None, help="the text report (default bench/results/tenants.txt)")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.duration = args.duration or (3.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 5.0)
    args.members = args.members or (30 if args.quick else 200)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.store:
        asyncio.run(store_main(args.quick))
        return 0
    result = asyncio.run(server_main(args))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    out = args.out or (None if args.quick else RESULTS / "tenants.txt")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(result, out)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
