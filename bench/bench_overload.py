"""Overload and CPU-per-order probes, quicker than the whole suite: for profiling and before/after pairs.

Starts embedded PostgreSQL and ``server.py`` (as bench/suite.py does), opens the 200 stores and 2,000
members, warms up, then runs the scenarios named on the command line (default: all):

  spread    closed loop, C=32, spread over the stores: RPC/s, p99, server and PostgreSQL CPU per paid order
  hot       closed loop, C=32, every order on the hot store: orders/s (the overload's reference rate)
  overload  open loop at 2x the hot rate on the hot store for 15 s: accepted p99, refusals and their p99,
            RetryInfo, codes, every acknowledged order stored exactly once, rate right after
  rss       steady spread load at C=8 for --rss-minutes, RSS samples (and, with --tracemalloc, the
            server's top allocation growth between the warm point and the end)

``--profile NAME`` samples the server with py-spy during the scenario NAME and writes
bench/results/profiles/<--tag>-<NAME>.txt (top frames) and .raw.gz (stacks). ``--json PATH`` writes
the figures. Usage:
  .venv/bin/python bench/bench_overload.py [spread] [hot] [overload] [rss] [--duration 10]
        [--profile spread] [--tag before] [--json out.json] [--rss-minutes 4] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_orders as bo  # noqa: E402
import suite  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402
from protos.loyalty.v1 import members_pb2_grpc, orders_pb2_grpc, stores_pb2_grpc  # noqa: E402

PROFILES = ROOT / "bench" / "results" / "profiles"


def start_spy(pid: int, raw: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        print("py-spy not found: no profile", flush=True)
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            str(raw),
            "--nonblocking",
            "--idle",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_spy(proc: subprocess.Popen, raw: Path, out: Path, title: str) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    if not raw.exists():
        print("py-spy wrote no profile", flush=True)
        return
    own, incl, total, idle = Counter[str](), Counter[str](), 0, 0
    text = raw.read_text()
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        frames, k = stack.split(";"), int(n)
        total += k
        if any(
            f.startswith("select (selectors.py") or (f.startswith("_run_once") and "select" in stack.split(";")[-1])
            for f in frames[-1:]
        ):
            idle += k
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    lines = [
        title,
        f"{total} samples (py-spy --idle at 200 Hz; the event loop waiting in select counts as idle)",
        f"idle (selector wait): {idle / max(1, total):.1%}",
    ]
    for name, counts in (("self", own), ("inclusive", incl)):
        lines.append(f"top {name}:")
        lines += [f"  {k / total:6.1%}  {f}" for f, k in counts.most_common(40)]
    out.write_text("\n".join(lines) + "\n")
    with gzip.open(out.with_suffix(".raw.gz"), "wt") as z:
        z.write(text)
    print(f"profile: {out}", flush=True)


async def run(args: argparse.Namespace, pg: EmbeddedPostgres, admin_dsn: str, tmp: Path) -> dict:
    await bo.sql(admin_dsn, 'CREATE DATABASE "probe"')
    base, _, query = admin_dsn.partition("?")
    dsn = f"{base.rsplit('/', 1)[0]}/probe" + (f"?{query}" if query else "")
    pm = suite.postmaster_pid(pg)
    env = dict(kv.split("=", 1) for kv in args.env)
    if args.tracemalloc:
        env["PYTHONTRACEMALLOC"] = "1"
    server = suite.Server(dsn, tmp, "probe", env)
    out: dict = {"load_average_start": os.getloadavg()}
    try:
        await server.ready()
        (channel,) = server.channel()
        rid = bo.Ids(f"probe-{os.getpid()}")
        rng = random.Random(7)
        points, store_names, hot = await bo.open_stores(stores_pb2_grpc.StoreServiceStub(channel), rng, rid)
        members = await bo.register_members(members_pb2_grpc.MemberServiceStub(channel), rid)
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        await bo.wait_routable(stub, members[0], points[-1], store_names[-1])
        await bo.wait_routable(stub, members[0], bo.SUZHOU, hot)
        orders = suite.Orders([channel], members, points, rid)
        await orders.closed(5.0, 8)
        cpu = (server.proc.pid, pm)
        D = args.duration

        def spy(name: str):
            if args.profile != name:
                return None
            raw = tmp / f"{name}.raw"
            return start_spy(server.proc.pid, raw), raw

        def unspy(s, name: str) -> None:
            if s and s[0]:
                PROFILES.mkdir(parents=True, exist_ok=True)
                stop_spy(
                    s[0],
                    s[1],
                    PROFILES / f"{args.tag}-{name}.txt",
                    f"{args.tag}: py-spy of the server during '{name}' (bench/bench_overload.py)",
                )

        if "spread" in args.scenarios:
            s = spy("spread")
            r = await orders.closed(D, suite.C, 0.0, cpu, settle=dsn)
            unspy(s, "spread")
            paid = max(1, r.calls.count("PayOrder"))
            out["spread"] = {
                **r.summary(),
                "server_cpu_ms_per_order": round(r.server_cpu * 1000 / paid, 2),
                "pg_cpu_ms_per_order": round(r.pg_cpu * 1000 / paid, 2),
                "settled_server_cpu_ms_per_order": round(r.server_cpu_settled * 1000 / paid, 2),
                "settled_pg_cpu_ms_per_order": round(r.pg_cpu_settled * 1000 / paid, 2),
            }
            print("spread", out["spread"], flush=True)
        hot_rate = args.hot_rate
        if "hot" in args.scenarios or ("overload" in args.scenarios and not hot_rate):
            r = await orders.closed(D, suite.C, 1.0)
            out["hot"] = r.summary()
            hot_rate = r.orders_per_s
            print("hot", out["hot"], flush=True)
        if "overload" in args.scenarios:
            rate = max(10.0, 2 * hot_rate)
            hot_id = UUID(hot.rsplit("/", 1)[1])
            head = await bo.sql(dsn, f"SELECT coalesce(max(notification_id), 0) FROM {bo.NAMES.events}")
            s = spy("overload")
            cpu0 = bo.cpu_seconds(os.getpid())
            over = await orders.open(suite.OVERLOAD_S, rate, 1.0)
            client_cpu = bo.cpu_seconds(os.getpid()) - cpu0
            unspy(s, "overload")
            after = await orders.closed(min(5.0, D), suite.C, 1.0)
            once = await suite.exactly_once(dsn, head, hot_id, over)
            accepted = over.calls.latencies["PlaceOrder"] + over.calls.latencies["PayOrder"]
            out["overload"] = {
                "offered_orders_per_s": round(rate, 1),
                "codes": over.calls.errors(),
                "accepted_rpcs": len(accepted),
                "accepted_p50_ms": round(bo.pct(accepted, 0.5), 1),
                "accepted_p99_ms": round(bo.pct(accepted, 0.99), 1),
                "refused": len(over.refusals),
                "refusal_p50_ms": round(bo.pct(over.refusals, 0.5), 1) if over.refusals else None,
                "refusal_p99_ms": round(bo.pct(over.refusals, 0.99), 1) if over.refusals else None,
                "refusals_with_retry_info": over.retry_info,
                "core_refused": len(over.core_refusals),
                "core_details": over.core_details,
                "core_refusal_p99_ms": round(bo.pct(over.core_refusals, 0.99), 1) if over.core_refusals else None,
                **once,
                "after": after.summary(),
                "after_vs_hot": round(after.orders_per_s / hot_rate, 2) if hot_rate else None,
                "client_cpu_share": round(client_cpu / over.seconds, 2),
            }
            print("overload", out["overload"], flush=True)
        if "rss" in args.scenarios:
            if args.tracemalloc:
                server.proc.send_signal(signal.SIGUSR1)  # the server's first snapshot (see server.py)
            rss = await suite.steady_rss(orders, server, args.rss_minutes * 60)
            if args.tracemalloc:
                server.proc.send_signal(signal.SIGUSR1)
                for _ in range(120):  # a snapshot of a large heap takes a while
                    await asyncio.sleep(1)
                    if server.log.read_text(errors="replace").count("tracemalloc traced") >= 2:
                        break
            out["rss"] = rss
            print("rss", rss, flush=True)
    finally:
        await server.stop()
        out["server_log_errors"] = server.error_lines()[:5]
        if args.keep_log:
            shutil.copy(server.log, args.keep_log)
        if args.tracemalloc:
            out["tracemalloc"] = [
                line for line in server.log.read_text(errors="replace").splitlines() if "tracemalloc" in line
            ][-40:]
    out["load_average_end"] = os.getloadavg()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("scenarios", nargs="*", default=["spread", "hot", "overload"])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--hot-rate", type=float, default=0.0, help="skip measuring the hot rate: offer 2x this")
    p.add_argument("--profile", default=None)
    p.add_argument("--tag", default="probe")
    p.add_argument("--json", default=None)
    p.add_argument("--rss-minutes", type=float, default=4.0)
    p.add_argument("--keep-log", default=None, help="copy the server's log here")
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    pg = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    admin_dsn = pg.start()
    try:
        out = asyncio.run(run(args, pg, admin_dsn, tmp))
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
