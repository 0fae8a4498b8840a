"""The whole benchmark suite behind ``bench/run``: every target of issue 14 beside its baseline, same run.

One embedded PostgreSQL; the server under test is ``server.py`` in a subprocess (as in production),
the load generator is this process (grpc.aio, one channel unless said otherwise). Every figure is
measured beside its baseline in the same run, on the same machine, so ratios survive a busy host.

Scenarios (C = 32 closed-loop callers, each PlaceOrder then PayOrder, for ``--duration`` s):
  echo        a bare grpc.aio echo server (bench/echo_server.py), same client, C and duration: the RPC ceiling
  spread      orders over every store; RPC/s vs echo, p99, server and PostgreSQL CPU per paid order (/proc)
  hot 50%     half the orders on one store; rate vs spread
  hot 100%    a flash sale: every order on one store; rate vs spread
  overload    open loop at twice the hot rate on one store for 15 s: accepted p99, refusals
              (RESOURCE_EXHAUSTED, their latency and RetryInfo), every acknowledged order stored exactly
              once, then the closed-loop hot rate right after the load drops
  event loop  the spread scenario on LOYALTY_EVENT_LOOP=uvloop and =asyncio, back to back
  workers     GRPC_WORKERS=2 vs 1, the client on 8 channels (the kernel spreads connections)
  memory      server RSS under steady load (C = 8, spread) for ``--rss-minutes``
  replay      bench/bench_replay.py: bulk rebuilds on 1M events beside the read+decode ceiling and stock
  store, routing  bench/bench_event_store.py and bench/bench_routing.py, raw output kept
  tenants     bench/bench_tenants.py: two brands at once vs one alone, 1 vs 2 server processes (issue 16)

Writes bench/results/latest.json and the README's table between ``<!-- bench:begin -->`` and
``<!-- bench:end -->``. ``--quick`` runs everything small (a few minutes) and writes
bench/results/quick.json, leaving the README alone unless ``--readme`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_orders as bo  # noqa: E402
import grpc  # noqa: E402
import orjson  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from protos.loyalty.v1 import members_pb2_grpc, orders_pb2, orders_pb2_grpc, stores_pb2_grpc  # noqa: E402

RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
C = 32
OVERLOAD_S = 15.0
CALL_TIMEOUT_S = 10.0
ECHO_PAYLOAD = b"x" * 160  # about a PlaceOrderRequest's size


# --- /proc: CPU and memory of process trees ---------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stats() -> dict[int, tuple[int, float, float]]:
    """pid -> (ppid, own utime+stime s, reaped children's cutime+cstime s), for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / TICK,
            (int(fields[13]) + int(fields[14])) / TICK,
        )
    return out


def tree(root: int, stats: dict[int, tuple[int, float, float]] | None = None) -> list[int]:
    stats = stats or _stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(pid)
            todo.extend(children.get(pid, ()))
    return found


async def backlog(dsn: str) -> int:
    """Events of the bench brand committed that some read model has not applied yet."""
    return await bo.sql(
        dsn,
        "SELECT coalesce((SELECT max(notification_id) FROM loyaltyengine_events), 0)"
        " - coalesce((SELECT min(notification_id) FROM projection_tracking), 0)",
    )


def tree_cpu(root: int) -> float:
    """CPU seconds of a process tree: every live member's own time plus what exited members left
    in their reaped parents (cutime/cstime), e.g. PostgreSQL backends that closed."""
    stats = _stats()
    return sum(stats[p][1] + stats[p][2] for p in tree(root, stats))


def tree_rss_mb(root: int) -> float:
    total = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.pgdata / "postmaster.pid").read_text().split()[0])


# --- the machine ------------------------------------------------------------------------------------


def machine(pg_version: str) -> dict[str, Any]:
    model = "n/a"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    import grpc as g

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_gib, 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "postgresql": f"{pg_version} (embedded, Unix socket)",
        "grpcio": g.__version__,
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- load -------------------------------------------------------------------------------------------


@dataclass
class Load:
    """One closed- or open-loop run: per-method latencies and status counts."""

    seconds: float = 0.0
    calls: bo.Calls = field(default_factory=bo.Calls)
    refusals: list[float] = field(default_factory=list)
    core_refusals: list[float] = field(default_factory=list)
    core_details: str = ""
    retry_info: int = 0
    placed: list[str] = field(default_factory=list)  # acknowledged PlaceOrder: order names
    paid: list[str] = field(default_factory=list)  # acknowledged PayOrder: order names
    server_cpu: float = 0.0
    pg_cpu: float = 0.0
    backlog: int | None = None  # events the read models had not applied when the load stopped (settled runs)
    catch_up_s: float = 0.0  # and the seconds they took to apply them
    server_cpu_settled: float = 0.0  # CPU from the start of the load until the read models caught up
    pg_cpu_settled: float = 0.0

    @property
    def orders_per_s(self) -> float:
        return self.calls.count("PayOrder") / self.seconds if self.seconds else 0.0

    @property
    def rpc_per_s(self) -> float:
        return (self.calls.count("PlaceOrder") + self.calls.count("PayOrder")) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return bo.pct(self.calls.latencies["PlaceOrder"] + self.calls.latencies["PayOrder"], q)

    def errors(self) -> int:
        return sum(n for (_, code), n in self.calls.codes.items() if code != "OK")

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "orders_per_s": round(self.orders_per_s, 1),
            "rpc_per_s": round(self.rpc_per_s, 1),
            "p50_ms": round(self.p(0.5), 1),
            "p99_ms": round(self.p(0.99), 1),
            "errors": self.calls.errors(),
            **(
                {"read_model_backlog_events": self.backlog, "catch_up_s": round(self.catch_up_s, 2)}
                if self.backlog is not None
                else {}
            ),
        }


def retry_info(e: grpc.aio.AioRpcError) -> bool:
    """Whether a refused call carries a google.rpc.RetryInfo in its status details."""
    for key, value in e.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            return any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
    return False


class Orders:
    """PlaceOrder then PayOrder against the server, located spread or on the hot store."""

    def __init__(
        self, channels: list[grpc.aio.Channel], members: list[str], points: list, rid: bo.Ids, seed: int = 7
    ) -> None:
        self.stubs = [orders_pb2_grpc.OrderServiceStub(c) for c in channels]
        self.members, self.points, self.rid = members, points, rid
        self.rng = random.Random(seed)
        self.turn = 0

    def where(self, hot_share: float) -> tuple[float, float]:
        if self.rng.random() < hot_share:
            base, jitter = bo.SUZHOU, 0.001
        else:
            base, jitter = self.rng.choice(self.points), 0.01
        return base[0] + self.rng.gauss(0, jitter), base[1] + self.rng.gauss(0, jitter)

    async def pair(self, load: Load, hot_share: float) -> None:
        self.turn += 1
        stub = self.stubs[self.turn % len(self.stubs)]
        member = self.rng.choice(self.members)
        request = orders_pb2.PlaceOrderRequest(request_id=self.rid(), order=bo.draft(member, *self.where(hot_share)))
        t0 = time.perf_counter()
        try:
            order = await stub.PlaceOrder(request, metadata=bo.MP, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            self._failed(load, "PlaceOrder", e, t0)
            return
        load.calls.ok("PlaceOrder", time.perf_counter() - t0)
        load.placed.append(order.name)
        if order.state != orders_pb2.ORDER_STATE_ALLOCATED:
            return
        t0 = time.perf_counter()
        try:
            await stub.PayOrder(
                orders_pb2.PayOrderRequest(request_id=self.rid(), name=order.name, paid_fen=order.total_fen),
                metadata=bo.MP,
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as e:
            self._failed(load, "PayOrder", e, t0)
            return
        load.calls.ok("PayOrder", time.perf_counter() - t0)
        load.paid.append(order.name)

    @staticmethod
    def _failed(load: Load, method: str, e: grpc.aio.AioRpcError, t0: float) -> None:
        load.calls.failed(method, e.code())
        if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            load.refusals.append(time.perf_counter() - t0)
            load.retry_info += retry_info(e)
        elif e.code() == grpc.StatusCode.CANCELLED and method == "PlaceOrder":
            # gRPC's C core refused it unseen: its queue of calls the server has not taken is full
            load.core_refusals.append(time.perf_counter() - t0)
            load.core_details = e.details() or ""

    async def closed(
        self,
        seconds: float,
        clients: int,
        hot_share: float = 0.0,
        cpu: tuple[int, int] | None = None,
        settle: str | None = None,
    ) -> Load:
        """``clients`` callers placing and paying in a loop for ``seconds``. With ``settle`` (the server's DSN)
        the load starts with the read models caught up, and after it the backlog, the catch-up time and the CPU
        until caught up are recorded: the read models' work belongs to the orders even when it lags them."""
        if settle:
            await bo.caught_up(lambda: backlog(settle))
        load = Load()
        end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                await self.pair(load, hot_share)

        before = (tree_cpu(cpu[0]), tree_cpu(cpu[1])) if cpu else None
        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        load.seconds = time.perf_counter() - t0
        if cpu and before:
            load.server_cpu, load.pg_cpu = tree_cpu(cpu[0]) - before[0], tree_cpu(cpu[1]) - before[1]
        if settle:
            load.backlog = await backlog(settle)
            t1 = time.perf_counter()
            await bo.caught_up(lambda: backlog(settle))
            load.catch_up_s = time.perf_counter() - t1
            if cpu and before:
                load.server_cpu_settled = tree_cpu(cpu[0]) - before[0]
                load.pg_cpu_settled = tree_cpu(cpu[1]) - before[1]
        return load

    async def open(self, seconds: float, rate: float, hot_share: float = 1.0, max_in_flight: int = 5000) -> Load:
        """Start a pair every 1/rate s regardless of answers (open loop); wait for the stragglers."""
        load = Load()
        tasks: set[asyncio.Task] = set()
        t0 = time.perf_counter()
        n, skipped = 0, 0
        while (now := time.perf_counter()) < t0 + seconds:
            due = t0 + n / rate
            if now < due:
                await asyncio.sleep(due - now)
                continue
            n += 1
            if len(tasks) >= max_in_flight:
                skipped += 1
                continue
            task = asyncio.create_task(self.pair(load, hot_share))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        load.seconds = time.perf_counter() - t0
        if tasks:
            await asyncio.wait(tasks)
        load.calls.codes[("client", "NOT_SENT")] += skipped
        return load


async def echo_load(port: int, seconds: float, clients: int) -> Load:
    """The same closed loop as the orders: two unary calls per turn, on one channel."""
    load = Load()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/bench.Echo/Echo")
        await channel.channel_ready()
        for _ in range(50):
            await call(ECHO_PAYLOAD, timeout=5)
        end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                for method in ("PlaceOrder", "PayOrder"):
                    t0 = time.perf_counter()
                    try:
                        await call(ECHO_PAYLOAD, timeout=CALL_TIMEOUT_S)
                    except grpc.aio.AioRpcError as e:
                        load.calls.failed(method, e.code())
                        continue
                    load.calls.ok(method, time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        load.seconds = time.perf_counter() - t0
    return load


# --- servers ----------------------------------------------------------------------------------------


class Server:
    def __init__(self, dsn: str, tmp: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.port = bo.free_port()
        self.log = tmp / f"server-{name}.log"
        full = {
            **os.environ,
            "DATABASE_URL": dsn,
            "GRPC_ADDRESS": f"127.0.0.1:{self.port}",
            "LOYALTY_DATA_DIR": str(tmp / "data"),
            "LOYALTY_API_TOKENS": bo.TOKEN_SPEC,
            "POSTGRES_POOL_MAX": str(bo.POOL_MAX),
            **(env or {}),
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT
            )
        self.channels: list[grpc.aio.Channel] = []

    def channel(self, n: int = 1) -> list[grpc.aio.Channel]:
        """``n`` channels, each its own TCP connection (so several workers each get some)."""
        made = [
            grpc.aio.insecure_channel(f"127.0.0.1:{self.port}", options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(n)
        ]
        self.channels += made
        return made

    async def ready(self) -> None:
        (channel,) = self.channel()
        await bo.wait_serving(channel, self.proc, timeout=120)

    async def stop(self) -> None:
        for c in self.channels:
            await c.close()
        bo.stop_server(self.proc)

    def error_lines(self) -> list[str]:
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if '"ERROR"' in line or "Traceback" in line
        ]


# --- the suite --------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        self.part = "orders"

    def figure(
        self,
        name: str,
        value: float | None,
        unit: str,
        *,
        baseline: str = "",
        baseline_value: float | None = None,
        target: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> None:
        r = ratio(value, baseline_value) if value is not None and baseline_value else None
        self.rows.append(
            {
                "part": self.part,
                "name": name,
                "value": value,
                "unit": unit,
                "baseline": baseline,
                "baseline_value": baseline_value,
                "ratio": r,
                "target": target,
                "met": met,
                "note": note,
            }
        )
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(
            f"  {name}: {shown} {unit}"
            + (f"  vs {baseline} {baseline_value:,.2f} -> {r}x" if r is not None else "")
            + (f"  [target {target}: {'met' if met else 'MISSED'}]" if target and met is not None else ""),
            flush=True,
        )


async def orders_suite(
    args: argparse.Namespace, pg: EmbeddedPostgres, admin_dsn: str, tmp: Path, report: Report
) -> None:
    D = args.duration
    await bo.sql(admin_dsn, 'CREATE DATABASE "bench_suite"')
    base, _, query = admin_dsn.partition("?")
    dsn = f"{base.rsplit('/', 1)[0]}/bench_suite" + (f"?{query}" if query else "")
    pm = postmaster_pid(pg)

    # --- the echo ceiling ---
    echo_port = bo.free_port()
    echo = subprocess.Popen(  # noqa: ASYNC220 - starts the echo server and returns; nothing waits on it here
        [sys.executable, str(ROOT / "bench" / "echo_server.py"), str(echo_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        await asyncio.sleep(1.0)
        echo_cpu = bo.cpu_seconds(echo.pid)
        echo_run = await echo_load(echo_port, D, C)
        echo_cpu = bo.cpu_seconds(echo.pid) - echo_cpu
    finally:
        bo.stop_server(echo)
    echo_rpcs = max(1, echo_run.calls.count("PlaceOrder") + echo_run.calls.count("PayOrder"))
    echo_pair_ms = 2 * echo_cpu * 1000 / echo_rpcs  # what gRPC alone costs the server per PlaceOrder+PayOrder
    print(f"echo: {echo_run.summary()}; server CPU per 2 RPCs {echo_pair_ms:.2f} ms", flush=True)
    report.details["echo"] = {**echo_run.summary(), "server_cpu_ms_per_2_rpcs": round(echo_pair_ms, 3)}

    # --- the server, default settings ---
    server = Server(dsn, tmp, "main")
    try:
        await server.ready()
        (channel,) = server.channel()
        rid = bo.Ids(f"suite-{os.getpid()}")
        rng = random.Random(7)
        t0 = time.perf_counter()
        points, store_names, hot = await bo.open_stores(stores_pb2_grpc.StoreServiceStub(channel), rng, rid)
        members = await bo.register_members(members_pb2_grpc.MemberServiceStub(channel), rid)
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        await bo.wait_routable(stub, members[0], points[-1], store_names[-1])
        await bo.wait_routable(stub, members[0], bo.SUZHOU, hot)
        report.details["setup"] = {
            "stores": len(points) + 1,
            "members": len(members),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        orders = Orders([channel], members, points, rid)
        await orders.closed(min(5.0, D), 8)  # warm-up: connections, caches, first calls
        cpu = (server.proc.pid, pm)

        spread = await orders.closed(D, C, 0.0, cpu, settle=dsn)
        print(f"spread: {spread.summary()}", flush=True)
        half = await orders.closed(D, C, 0.5)
        print(f"50% hot: {half.summary()}", flush=True)
        full = await orders.closed(D, C, 1.0)
        print(f"100% hot: {full.summary()}", flush=True)
        report.details.update(spread=spread.summary(), hot_50=half.summary(), hot_100=full.summary())

        paid = max(1, spread.calls.count("PayOrder"))
        report.figure(
            "PlaceOrder+PayOrder RPC rate, 200 stores, C=32",
            spread.rpc_per_s,
            "RPC/s",
            baseline="bare grpc.aio echo, same client",
            baseline_value=echo_run.rpc_per_s,
            target=">= 0.5x",
            met=spread.rpc_per_s >= 0.5 * echo_run.rpc_per_s,
        )
        report.figure(
            "p99 latency at C=32 (both RPCs)",
            spread.p(0.99),
            "ms",
            baseline="echo p99",
            baseline_value=echo_run.p(0.99),
            target="< 50 ms",
            met=spread.p(0.99) < 50,
        )
        report.figure(
            "50% of orders on one store",
            half.orders_per_s,
            "orders/s",
            baseline="spread",
            baseline_value=spread.orders_per_s,
            target=">= 0.8x, 0 errors",
            met=half.orders_per_s >= 0.8 * spread.orders_per_s and half.errors() == 0,
            note=f"errors: {half.calls.errors()}",
        )
        report.figure(
            "100% of orders on one store (flash sale)",
            full.orders_per_s,
            "orders/s",
            baseline="spread",
            baseline_value=spread.orders_per_s,
            target=">= 0.6x, 0 errors",
            met=full.orders_per_s >= 0.6 * spread.orders_per_s and full.errors() == 0,
            note=f"errors: {full.calls.errors()}",
        )
        report.figure(
            "server CPU per paid order",
            spread.server_cpu * 1000 / paid,
            "ms",
            baseline="bare grpc.aio echo server, CPU per 2 RPCs",
            baseline_value=echo_pair_ms,
            target="<= 1.0 ms",
            met=spread.server_cpu * 1000 / paid <= 1.0,
            note="utime+stime of the server process tree over the spread run / paid orders; the baseline"
            " is what two bare grpc.aio calls cost the echo server in the same run",
        )
        report.figure(
            "PostgreSQL CPU per paid order",
            spread.pg_cpu * 1000 / paid,
            "ms",
            target="<= 0.6 ms",
            met=spread.pg_cpu * 1000 / paid <= 0.6,
            note="utime+stime of the postmaster tree (+ reaped backends) / paid orders",
        )
        report.figure(
            "server CPU per paid order, settled",
            spread.server_cpu_settled * 1000 / paid,
            "ms",
            baseline="in the load window",
            baseline_value=spread.server_cpu * 1000 / paid,
            note=f"until the read models caught up: {spread.backlog} events behind when the load stopped, "
            f"{spread.catch_up_s:.1f} s to apply; PostgreSQL {spread.pg_cpu_settled * 1000 / paid:.2f} ms settled",
        )

        # --- overload: twice the hot rate on one store, open loop ---
        rate = max(10.0, 2 * full.orders_per_s)
        hot_id = UUID(hot.rsplit("/", 1)[1])
        head = await bo.sql(dsn, f"SELECT coalesce(max(notification_id), 0) FROM {bo.NAMES.events}")
        over = await orders.open(OVERLOAD_S, rate, 1.0)
        after = await orders.closed(min(5.0, D), C, 1.0)
        once = await exactly_once(dsn, head, hot_id, over)
        accepted = over.calls.latencies["PlaceOrder"] + over.calls.latencies["PayOrder"]
        refused = len(over.refusals)
        report.details["overload"] = {
            "offered_orders_per_s": round(rate, 1),
            "seconds": OVERLOAD_S,
            "codes": over.calls.errors(),
            "accepted_rpcs": len(accepted),
            "accepted_p50_ms": round(bo.pct(accepted, 0.5), 1),
            "accepted_p99_ms": round(bo.pct(accepted, 0.99), 1),
            "refused": refused,
            "refusal_p99_ms": round(bo.pct(over.refusals, 0.99), 1) if refused else None,
            "refusals_with_retry_info": over.retry_info,
            "core_refused": len(over.core_refusals),
            "core_refusal_p99_ms": round(bo.pct(over.core_refusals, 0.99), 1) if over.core_refusals else None,
            **once,
            "after": after.summary(),
        }
        print(f"overload: {report.details['overload']}", flush=True)
        report.figure(
            "overload 2x on one store, 15 s: accepted calls' p99",
            bo.pct(accepted, 0.99),
            "ms",
            target="< 1000 ms",
            met=bool(accepted) and bo.pct(accepted, 0.99) < 1000,
            note=f"offered {rate:.0f} orders/s; codes: {over.calls.errors()}",
        )
        core = len(over.core_refusals)
        report.figure(
            "overload: refusals (RESOURCE_EXHAUSTED)",
            refused,
            "calls",
            target="excess refused",
            met=refused + core > 0,
            note=f"{over.retry_info} with RetryInfo; refusal p99 "
            + (f"{bo.pct(over.refusals, 0.99):.1f} ms" if refused else "n/a")
            + f"; besides, {core} refused unseen by gRPC's C core (pending-call queue full: CANCELLED,"
            " no RetryInfo), p99 " + (f"{bo.pct(over.core_refusals, 0.99):.1f} ms" if core else "n/a"),
        )
        if refused:
            report.figure(
                "overload: refusal latency p99",
                bo.pct(over.refusals, 0.99),
                "ms",
                target="< 50 ms",
                met=bo.pct(over.refusals, 0.99) < 50,
            )
        report.figure(
            "overload: acknowledged orders stored exactly once",
            once["acknowledged_once"],
            "orders",
            baseline="acknowledged",
            baseline_value=once["acknowledged"],
            target="all",
            met=once["acknowledged_once"] == once["acknowledged"] and once["paid_once"] == once["paid_acked"],
            note=f"payments: {once['paid_once']} of {once['paid_acked']} acknowledged stored once",
        )
        report.figure(
            "rate right after the overload",
            after.orders_per_s,
            "orders/s",
            baseline="100% hot before",
            baseline_value=full.orders_per_s,
            target="full speed (~1x)",
            met=after.orders_per_s >= 0.8 * full.orders_per_s,
        )

        # --- memory under steady load ---
        rss = await steady_rss(orders, server, args.rss_minutes * 60) if args.rss_minutes > 0 else None
    finally:
        await server.stop()
    if rss is not None:
        report.details["memory"] = rss
        report.figure(
            f"server RSS growth after warm-up, {args.rss_minutes:g} min steady load",
            rss["growth_after_warmup_pct"],
            "%",
            target="flat (within 10%)",
            met=abs(rss["growth_after_warmup_pct"]) <= 10,
            note=f"RSS {rss['start_mb']:.0f} -> {rss['warm_mb']:.0f} (warm) -> {rss['end_mb']:.0f} MB, "
            f"{rss['orders_per_s']:.0f} orders/s",
        )
    report.details["server_errors"] = server.error_lines()[:5]

    # --- event loop: uvloop vs asyncio, interleaved (A B B A) so drift on a busy host cancels ---
    if importlib.util.find_spec("uvloop") is None:
        report.figure("uvloop server", None, "orders/s", note="uvloop not installed (pip install uvloop to measure)")
    else:
        loops: dict[str, list[Load]] = {"uvloop": [], "asyncio": []}
        order = ("uvloop", "asyncio", "asyncio", "uvloop")  # neither loop always runs first
        for i, loop in enumerate(order):
            s = Server(dsn, tmp, f"{loop}-{i}", {"LOYALTY_EVENT_LOOP": loop})
            try:
                await s.ready()
                o = Orders(s.channel(), members, points, rid, seed=11 + i)
                await o.closed(min(3.0, D), 8)
                loops[loop].append(await o.closed(D, C, 0.0, (s.proc.pid, pm)))
                print(f"{loop}: {loops[loop][-1].summary()}", flush=True)
            finally:
                await s.stop()
        report.details["event_loop"] = {k: [r.summary() for r in v] for k, v in loops.items()}

        def mean(runs: list[Load], f) -> float:
            return sum(f(r) for r in runs) / len(runs)

        def orders_rate(r: Load) -> float:
            return r.orders_per_s

        def cpu_ms(r: Load) -> float:
            return 1000 * r.server_cpu / max(1, r.calls.count("PayOrder"))

        u, a = loops["uvloop"], loops["asyncio"]
        report.figure(
            "uvloop server, spread C=32",
            mean(u, orders_rate),
            "orders/s",
            baseline="asyncio loop",
            baseline_value=mean(a, orders_rate),
            target="keep if faster",
            note=f"mean of {len(u)} runs each, interleaved; p99 {mean(u, lambda r: r.p(0.99)):.0f} vs "
            f"{mean(a, lambda r: r.p(0.99)):.0f} ms; server CPU/order {mean(u, cpu_ms):.2f} vs "
            f"{mean(a, cpu_ms):.2f} ms",
        )

    # --- worker processes: 2 vs 1 on one port, the client on 8 connections ---
    workers = {}
    for n in (2, 1):
        s = Server(dsn, tmp, f"workers-{n}", {"GRPC_WORKERS": str(n)})
        try:
            await s.ready()
            await asyncio.sleep(1.0)  # every worker bound
            o = Orders(s.channel(8), members, points, rid, seed=13 + n)
            await o.closed(min(3.0, D), 8)
            workers[n] = await o.closed(D, C, 0.0, (s.proc.pid, pm))
            print(f"{n} worker(s): {workers[n].summary()}", flush=True)
        finally:
            await s.stop()
    report.details["workers"] = {str(k): v.summary() for k, v in workers.items()}
    report.figure(
        "2 server processes (GRPC_WORKERS=2), spread C=32, 8 connections",
        workers[2].orders_per_s,
        "orders/s",
        baseline="1 process, same client",
        baseline_value=workers[1].orders_per_s,
        note=f"{os.cpu_count()} cores shared with PostgreSQL and the client",
    )


async def exactly_once(dsn: str, head: int, hot_id: UUID, load: Load) -> dict[str, int]:
    """Every acknowledged order placed once and accepted once by the hot store; every acknowledged payment once."""
    import asyncpg

    conn = await asyncpg.connect(dsn, server_settings={"search_path": bo.SERVER_SCHEMA})
    try:
        rows = await conn.fetch(
            f"SELECT originator_id, topic, state FROM {bo.NAMES.events} WHERE notification_id > $1 "
            "AND (topic LIKE '%Order.Placed' OR topic LIKE '%Order.Paid' OR "
            "(originator_id = $2 AND topic LIKE '%.OrderAccepted'))",
            head,
            hot_id,
        )
    finally:
        await conn.close()
    placed, paid, accepted = Counter[str](), Counter[str](), Counter[str]()
    for originator, topic, state in rows:
        if topic.endswith("Order.Placed"):
            placed[str(originator)] += 1
        elif topic.endswith("Order.Paid"):
            paid[str(originator)] += 1
        else:
            accepted[str(UUID(orjson.loads(state)["order_id"]["_data_"]))] += 1
    acked = [n.rsplit("/", 1)[1] for n in load.placed]
    pays = [n.rsplit("/", 1)[1] for n in load.paid]
    return {
        "acknowledged": len(acked),
        "acknowledged_once": sum(1 for o in acked if placed[o] == 1 and accepted[o] <= 1),
        "paid_acked": len(pays),
        "paid_once": sum(1 for o in pays if paid[o] == 1),
    }


async def steady_rss(orders: Orders, server: Server, seconds: float) -> dict[str, Any]:
    """Spread load at C = 8 for ``seconds``, sampling the server's RSS; warm-up is the first fifth (at most 2 min)."""
    warm_at = min(120.0, seconds / 5)
    samples: list[tuple[float, float]] = []
    start_mb = tree_rss_mb(server.proc.pid)
    t0 = time.perf_counter()
    task = asyncio.create_task(orders.closed(seconds, 8, 0.0))
    every = max(1.0, min(10.0, seconds / 30))
    while not task.done():
        await asyncio.sleep(every)
        samples.append((time.perf_counter() - t0, tree_rss_mb(server.proc.pid)))
    load = await task
    warm = next((mb for t, mb in samples if t >= warm_at), samples[0][1])
    end = samples[-1][1]
    return {
        "seconds": round(seconds),
        "warm_up_s": round(warm_at),
        "start_mb": round(start_mb, 1),
        "warm_mb": round(warm, 1),
        "end_mb": round(end, 1),
        "max_mb": round(max(mb for _, mb in samples), 1),
        "growth_after_warmup_pct": round(100 * (end - warm) / warm, 1),
        "orders_per_s": round(load.orders_per_s, 1),
        "samples": [(round(t), round(mb, 1)) for t, mb in samples],
    }


def run_script(name: str, argv: list[str], timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    print(f"running {name} {' '.join(argv)}", flush=True)
    status: int | str
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / name), *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        status, out = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as e:
        status, out = (
            "timeout",
            (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else str(e.stdout),
        )
    return {"status": status, "seconds": round(time.perf_counter() - t0, 1), "tail": out.strip().splitlines()[-12:]}


def replay_suite(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    out = tmp / "replay.json"
    argv = ["--json", str(out)]
    if args.quick:
        argv += ["--quick", "--events", "100000", "--stock-budget", "10", "--stock-counter-seconds", "5"]
    else:
        argv += ["--events", "1000000", "--stock-budget", "40", "--stock-counter-seconds", "15"]
    result = run_script("bench_replay.py", argv, timeout=1200)
    report.details["replay_run"] = result
    if not out.exists():
        report.figure("projection rebuild", None, "events/s", note=f"bench_replay failed: {result['tail'][-3:]}")
        return
    f = json.loads(out.read_text())
    report.details["replay"] = f
    n = f"{f['events']:,} events"
    report.figure(
        f"DealerLedger bulk rebuild, log events/s ({n})",
        f["rebuild_ledger_log_ev_s"],
        "events/s",
        baseline="read + decode ceiling (all events, bulk)",
        baseline_value=f["ceiling_bulk_read_decode_ev_s"],
        target=">= 300,000/s",
        met=f["rebuild_ledger_log_ev_s"] >= 300_000,
        note=f"{f['ledger_events']:,} ledger events at {f['rebuild_ledger_own_ev_s']:,.0f}/s; stock "
        f"eventsourcing ledger {f['stock_ledger_own_ev_s']:,.0f}/s"
        + (" (time-boxed)" if f["stock_ledger_time_boxed"] else ""),
    )
    report.figure(
        f"DueSettlements bulk rebuild, log events/s ({n})",
        f["rebuild_due_log_ev_s"],
        "events/s",
        baseline="read + decode ceiling",
        baseline_value=f["ceiling_bulk_read_decode_ev_s"],
        target=">= 300,000/s",
        met=f["rebuild_due_log_ev_s"] >= 300_000,
        note="26% of the log: every Order.Placed and Order.Paid parsed whole",
    )
    report.figure(
        f"hash chain bulk rebuild ({n}, every event)",
        f["rebuild_chain_ev_s"],
        "events/s",
        baseline="read + decode ceiling",
        baseline_value=f["ceiling_bulk_read_decode_ev_s"],
        target=">= 300,000/s",
        met=f["rebuild_chain_ev_s"] >= 300_000,
        note="reads every event whole and hashes it; no JSON decode",
    )
    report.figure(
        f"decode-every-event projection rebuild ({n})",
        f["rebuild_decode_all_ev_s"],
        "events/s",
        baseline="stock eventsourcing, same projection",
        baseline_value=f["stock_decode_all_ev_s"],
        target=">= 300,000/s",
        met=f["rebuild_decode_all_ev_s"] >= 300_000,
        note="every event to a domain object through the mapper, the ordinary runner; bounded by the "
        f"mapper's read+decode, {f['ours_mapper_read_decode_ev_s']:,.0f}/s (stock "
        f"{f['stock_read_decode_ev_s']:,.0f}/s)",
    )


def tenants_suite(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    """bench/bench_tenants.py (issue 16): two brands at once vs one alone, 1 vs 2 server processes."""
    out = tmp / "tenants.json"
    argv = ["--json", str(out)] + (["--quick"] if args.quick else [])
    if args.tenant_rounds:
        argv += ["--rounds", str(args.tenant_rounds)]
    result = run_script("bench_tenants.py", argv, timeout=3600)
    report.details["tenants_run"] = result
    if not out.exists():
        report.figure("two brands at once", None, "orders/s", note=f"bench_tenants failed: {result['tail'][-3:]}")
        return
    f = json.loads(out.read_text())
    report.details["tenants"] = f["parts"]
    rounds = f["settings"]["rounds"]
    for part, name, target in (
        ("brands", "two brands flash-selling at once vs one brand alone, same total C (a schema each)", ">= 1.0x"),
        (
            "each",
            "two brands flash-selling at once, each at the one brand's load (C each) vs one brand alone (C)",
            ">= 1.0x",
        ),
        ("workers", "2 server processes (GRPC_WORKERS=2) vs 1, two brands", ""),
    ):
        if part not in f["parts"]:
            continue
        s = f["parts"][part]
        a, b = s[s["a"]], s[s["b"]]
        report.figure(
            name,
            b["orders_per_s_median"],
            "orders/s",
            baseline=s["a"],
            baseline_value=a["orders_per_s_median"],
            target=target,
            met=(s["ratio_of_medians"] or 0) >= 1.0 if target else None,
            note=f"medians of {rounds} interleaved rounds, a fresh database each; per-round ratios' median "
            f"{s['median_round_ratio']}x; CPU per paid order {b['server_cpu_ms_per_order_median']:.2f} vs "
            f"{a['server_cpu_ms_per_order_median']:.2f} ms (server), {b['pg_cpu_ms_per_order_median']:.2f} vs "
            f"{a['pg_cpu_ms_per_order_median']:.2f} ms (PostgreSQL); settled (paid / (load + the read models "
            f"catching up after it)) {b.get('settled_orders_per_s_median')} vs {a.get('settled_orders_per_s_median')} "
            f"orders/s, {s.get('settled_ratio_of_medians')}x",
        )


def other_benches(args: argparse.Namespace, report: Report) -> None:
    report.details["event_store_bench"] = run_script("bench_event_store.py", ["--quick"] if args.quick else [], 900)
    report.details["routing_bench"] = run_script("bench_routing.py", [], 600)
    privacy_bench(args, report)


def privacy_bench(args: argparse.Namespace, report: Report) -> None:
    """bench_privacy.py: sealed personal data vs the same path in clear (issue 17: within 10 %)."""
    out = Path(tempfile.mkdtemp(prefix="suite-privacy-")) / "privacy.json"
    report.details["privacy_bench"] = run_script(
        "bench_privacy.py", ["--json", str(out), *(["--quick"] if args.quick else [])], 1800
    )
    if not out.exists():
        return
    f = json.loads(out.read_text())
    report.details["privacy"] = f
    for key, cpu, name, unit in (
        ("registrations_per_s", "registration_cpu_ms", "RegisterMember, personal data sealed", "registrations/s"),
        ("orders_per_s", "order_cpu_ms", "PlaceOrder+PayOrder, personal data sealed", "orders/s"),
    ):
        report.figure(
            name,
            f["sealed"][key],
            unit,
            baseline="same run, sealing off (median of interleaved rounds)",
            baseline_value=f["plain"][key],
            target="within 10 %",
            met=f["within_10_percent"][key],
            note=f"server CPU per operation sealed/plain {f['ratios'][cpu]}",
        )


# --- output ---------------------------------------------------------------------------------------


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"
    else:
        v = f"{v:,}" if isinstance(v, int) else str(v)
    return f"{v} {unit}".strip()


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        BEGIN,
        f"*Generated by `bench/run{' --quick' if result['quick'] else ''}` on {m['date']}; do not edit by hand.* "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['python']}, PostgreSQL "
        f"{m['postgresql']}, grpcio {m['grpcio']}; load average {m['load_average_start']} at start, "
        f"{m['load_average_end']} at end"
        + (" (a shared, busy machine: compare ratios, not absolutes)" if m["load_average_start"][0] > 1.5 else "")
        + (
            f"; parts {', '.join(m['rerun']['parts'])} rerun on {m['rerun']['date']}"
            + (
                f" (load average {m['rerun']['load_average_start']} at its start)"
                if m["rerun"].get("load_average_start")
                else ""
            )
            if m.get("rerun")
            else ""
        )
        + ". "
        f"Load generator, server and PostgreSQL share the cores; each figure beside its baseline from the same run; "
        f"{result['settings']['duration_s']:g} s per closed-loop scenario. Full results: `bench/results/"
        f"{result['file']}`.",
        "",
        "| figure | ours | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["figures"]:
        base = f"{r['baseline']}: {fmt(r['baseline_value'], r['unit'])}" if r["baseline"] else ""
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        note = f" ({r['note']})" if r["note"] else ""
        shown_ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['name']}{note} | {fmt(r['value'], r['unit'])} | {base} | {shown_ratio} | {r['target']} | {met} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_readme(result: dict[str, Any]) -> None:
    text = README.read_text()
    block = table(result)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        marker = "## Benchmarks\n"
        text = text.replace(marker, marker + "\n" + block + "\n", 1) if marker in text else text + "\n" + block + "\n"
    README.write_text(text)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the whole benchmark suite; write JSON results and the README table.")
    p.add_argument("--quick", action="store_true", help="small and short: everything in a few minutes")
    p.add_argument("--duration", type=float, default=None, help="seconds per closed-loop scenario (15; 5 quick)")
    p.add_argument("--tenant-rounds", type=int, default=None, help="rounds of each tenants part (bench_tenants: 5)")
    p.add_argument(
        "--rss-minutes", type=float, default=None, help="minutes of steady load for RSS (10; 0.5 quick; 0 skips it)"
    )
    p.add_argument(
        "--only",
        choices=("orders", "replay", "other", "tenants"),
        action="append",
        default=None,
        help="run only these parts (repeatable)",
    )
    p.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite the README's table (default: yes, except with --quick or --only)",
    )
    args = p.parse_args(argv)
    args.duration = args.duration or (5.0 if args.quick else 15.0)
    args.rss_minutes = args.rss_minutes if args.rss_minutes is not None else (0.5 if args.quick else 10.0)
    if args.readme is None:
        args.readme = not args.quick and not args.only
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.quick:  # the order benchmark's fixtures, small
        bo.STORES, bo.MEMBERS = 50, 200
    parts = set(args.only or ("orders", "replay", "other", "tenants"))
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-suite-"))
    report = Report()
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin_dsn = pg.start()
    try:
        info = machine(asyncio.run(bo.sql(admin_dsn, "SHOW server_version")))
        print(f"machine: {info}", flush=True)
        if "orders" in parts:
            asyncio.run(orders_suite(args, pg, admin_dsn, tmp, report))
    finally:
        pg.stop()
    try:
        if "replay" in parts:
            report.part = "replay"
            replay_suite(args, tmp, report)
        if "other" in parts:
            report.part = "other"
            other_benches(args, report)
        if "tenants" in parts:
            report.part = "tenants"
            tenants_suite(args, tmp, report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    name = "quick.json" if args.quick else "latest.json"
    result = {
        "machine": info,
        "quick": args.quick,
        "file": name,
        "settings": {
            "duration_s": args.duration,
            "callers": C,
            "rss_minutes": args.rss_minutes,
            "overload_s": OVERLOAD_S,
            "parts": sorted(parts),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "figures": report.rows,
        "details": report.details,
    }
    previous = RESULTS / name
    if args.only and previous.exists():  # a partial run replaces its parts in the last full results
        old = json.loads(previous.read_text())
        result["figures"] = [r for r in old["figures"] if r.get("part", "orders") not in parts] + result["figures"]
        result["figures"].sort(key=lambda r: ("orders", "replay", "other", "tenants").index(r.get("part", "orders")))
        result["details"] = {**old["details"], **result["details"]}
        result["settings"]["parts"] = sorted(set(old["settings"].get("parts", ())) | parts)
        result["machine"]["rerun"] = {
            "parts": sorted(parts),
            "date": info["date"],
            "load_average_start": info["load_average_start"],
        }
        result["machine"]["date"] = old["machine"]["date"]
        result["machine"]["load_average_start"] = old["machine"]["load_average_start"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote bench/results/{name} ({result['seconds']:.0f} s)", flush=True)
    if args.readme:
        write_readme(result)
        print("README benchmark table regenerated", flush=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a killed run still cleans up its servers
    raise SystemExit(main())
