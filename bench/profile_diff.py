"""Where two py-spy raw profiles differ, function by function (inclusive samples, idle threads left out).

    .venv/bin/python bench/profile_diff.py A.raw.gz B.raw.gz [N]

For bench_stock --profile-orders: A the plain round, B the stock round of the same run (same orders each), so
the rows at the top are what the reservation adds per order (a sample is 5 ms at py-spy's 200 Hz).
"""

from __future__ import annotations

import gzip
import sys
from collections import Counter

IDLE = ("Thread.run", "EpollSelector.select", "select (selectors")


def load(path: str) -> tuple[Counter[str], int]:
    inclusive: Counter[str] = Counter()
    total = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if frames[-1].startswith(IDLE) or "threading.py" in frames[-1]:
                continue  # a thread or the event loop waiting
            k = int(n)
            total += k
            names = {
                fr.split(" (")[0] + " (" + fr.split(" (")[1].split(":")[0] + ")" if " (" in fr else fr for fr in frames
            }
            for name in names:
                inclusive[name] += k
    return inclusive, total


def main() -> None:
    a, ta = load(sys.argv[1])
    b, tb = load(sys.argv[2])
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    print(f"busy samples: A {ta}, B {tb}")
    for name in sorted(set(a) | set(b), key=lambda k: b[k] - a[k], reverse=True)[:rows]:
        print(f"{b[name] - a[name]:+6d}  A {a[name]:5d}  B {b[name]:5d}  {name}")


if __name__ == "__main__":
    main()
