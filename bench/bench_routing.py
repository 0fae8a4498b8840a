"""Routing benchmark: StoreIndex lookups vs a raw scipy cKDTree on the same points.

Run:  .venv/bin/python bench/bench_routing.py
Prints machine info and a table; writes bench/results/routing.txt. Runtime < 2 min.
Figures are per lookup from a Python loop (one order at a time, as the server
routes), with cKDTree's vectorised batch query shown as the C ceiling.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy
from scipy.spatial import cKDTree

from application.store_index import StoreIndex, metres_to_chord, unit_vector
from domain.attribution import AttributionPolicy
from domain.geo import Location
from domain.routing import OrderFacts, StoreSnapshot, decide
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

SIZES = (4_200, 100_000)
QUERIES = 20_000
SEED = 42
AT = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)  # noon in Shanghai
CITIES = [
    (31.23, 121.47),
    (39.90, 116.40),
    (23.13, 113.26),
    (22.54, 114.06),
    (30.57, 104.07),
    (30.27, 120.16),
    (34.26, 108.94),
    (29.56, 106.55),
    (36.07, 120.38),
    (38.04, 114.51),
]
HOURS = OpeningHours.every_day(9 * 60, 22 * 60)


def make_stores(rng: random.Random, n: int) -> list[StoreSnapshot]:
    """70 % clustered around ten cities, 30 % spread over China; ~20 % not eligible."""
    out = []
    for i in range(n):
        if rng.random() < 0.7:
            c = rng.choice(CITIES)
            lat, lng = c[0] + rng.gauss(0, 0.15), c[1] + rng.gauss(0, 0.15)
        else:
            lat, lng = rng.uniform(20, 48), rng.uniform(80, 130)
        r = rng.random()
        status = StoreStatus.SUSPENDED if r < 0.1 else StoreStatus.OPEN
        out.append(
            StoreSnapshot(
                UUID(int=i + 1),
                f"dealer-{i % 300}",
                lat,
                lng,
                rng.choice((3000, 5000, 8000)),
                tuple(FulfilmentMode),
                status,
                r >= 0.2 or r < 0.1,
                HOURS,
                200,
                rng.randrange(0, 220),
            )
        )
    return out


def make_customers(rng: random.Random, n: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(n):
        c = rng.choice(CITIES)
        out.append((c[0] + rng.gauss(0, 0.2), c[1] + rng.gauss(0, 0.2)))
    return out


def eligible(s: StoreSnapshot) -> bool:
    return (
        s.status is StoreStatus.OPEN
        and s.online_orders_enabled
        and (not s.daily_capacity or s.orders_today < s.daily_capacity)
    )


def timed(fn, args_list) -> tuple[float, list[int]]:
    lat_ns = []
    clock = time.perf_counter_ns
    start = clock()
    for args in args_list:
        t = clock()
        fn(*args)
        lat_ns.append(clock() - t)
    total = (clock() - start) / 1e9
    return len(args_list) / total, lat_ns


def pct(values: list[int], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] / 1000.0


def row(name: str, rate: float, lat_ns: list[int]) -> str:
    return f"  {name:<46} {rate:>12,.0f}/s   p50 {pct(lat_ns, 50):>8.1f} us   p99 {pct(lat_ns, 99):>8.1f} us"


def machine_info() -> list[str]:
    return [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"platform: {platform.platform()}",
        f"machine: {platform.machine()}  processor: {platform.processor() or 'n/a'}",
        f"cpu count: {os.cpu_count()}",
        f"python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"numpy: {np.__version__}  scipy: {scipy.__version__}",
    ]


def bench_size(n: int, rng: random.Random) -> list[str]:
    stores = make_stores(rng, n)
    customers = make_customers(rng, QUERIES)
    lines = [f"stores: {n:,}  queries: {QUERIES:,} (customers clustered around 10 cities)"]

    t = time.perf_counter()
    index = StoreIndex(stores)
    build_ours = time.perf_counter() - t
    xyz = np.array([unit_vector(s.lat, s.lng) for s in stores])
    t = time.perf_counter()
    tree = cKDTree(xyz)
    build_ckd = time.perf_counter() - t
    lines.append(
        f"  rebuild: StoreIndex {build_ours * 1000:,.1f} ms   cKDTree {build_ckd * 1000:,.1f} ms"
        " (cKDTree on a prepared xyz array)"
    )

    q_xyz = [unit_vector(a, b) for a, b in customers]
    rate, lat = timed(lambda a, b: index.nearest(a, b, 1), customers)
    lines.append(row("StoreIndex nearest k=1", rate, lat))
    rate, lat = timed(lambda p: tree.query(p, 1), [(p,) for p in q_xyz])
    lines.append(row("cKDTree.query k=1 (one point per call)", rate, lat))
    rate, lat = timed(lambda a, b: index.nearest(a, b, 5, max_distance_m=50_000, where=eligible), customers)
    lines.append(row("StoreIndex 5 nearest eligible <= 50 km", rate, lat))
    rate, lat = timed(lambda p: tree.query(p, 5, distance_upper_bound=metres_to_chord(50_000)), [(p,) for p in q_xyz])
    lines.append(row("cKDTree.query k=5 <= 50 km (no filter)", rate, lat))
    t = time.perf_counter()
    tree.query(np.array(q_xyz), 1)
    batch = time.perf_counter() - t
    lines.append(f"  {'cKDTree.query k=1 vectorised batch':<46} {QUERIES / batch:>12,.0f}/s")

    policy = AttributionPolicy()

    def route(a: float, b: float) -> None:
        cands = [nb.store for nb in index.nearest(a, b, 8, max_distance_m=20_000, where=eligible)]
        decide(OrderFacts(uuid4(), FulfilmentMode.DELIVERY, Location(a, b)), cands, policy, AT)

    rate, lat = timed(route, customers[:5000])
    lines.append(row("route: 8 nearest eligible + decide()", rate, lat))

    moves = [(s, rng.gauss(0, 0.01), rng.gauss(0, 0.01)) for s in rng.sample(stores, min(2000, n))]

    def move(s: StoreSnapshot, dlat: float, dlng: float) -> None:
        index.upsert(
            StoreSnapshot(
                s.store_id,
                s.dealer_id,
                s.lat + dlat,
                s.lng + dlng,
                s.service_radius_m,
                s.modes,
                s.status,
                s.online_orders_enabled,
                s.hours,
            )
        )

    rate, lat = timed(move, moves)
    lines.append(row("upsert (store relocated)", rate, lat))
    return lines


def main() -> None:
    started = time.perf_counter()
    rng = random.Random(SEED)
    out = ["# bench_routing", *machine_info(), ""]
    for n in SIZES:
        out += bench_size(n, rng)
        out.append("")
    out.append(f"total runtime: {time.perf_counter() - started:.1f} s")
    text = "\n".join(out)
    print(text)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "routing.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
