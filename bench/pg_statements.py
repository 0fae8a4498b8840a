"""Where PostgreSQL spends its time under the bench load: a statement log, summed by statement.

Runs ``bench/bench_overload.py`` (its scenarios and flags, e.g. ``spread --duration 10``) with
``log_min_duration_statement = 0`` on the bench database, then sums the logged durations by statement
(parse, bind and execute apart) and prints the top 40 (``--top``). The log covers the whole probe: set-up,
warm-up and the scenarios. Logging every statement costs PostgreSQL CPU of its own, so read the shares, not
the absolute CPU figures of that run. Usage:
  .venv/bin/python bench/pg_statements.py spread --duration 10 [--top 40] [--out bench/results/profiles/x.txt]
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_orders  # noqa: E402
import bench_overload  # noqa: E402

from infrastructure.embedded_postgres import EmbeddedPostgres  # noqa: E402

LINE = re.compile(r"duration: ([\d.]+) ms\s+(statement|execute [^:]*|parse [^:]*|bind [^:]*):\s*(.*)")


def summary(log: str, top: int) -> str:
    total: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    for line in log.splitlines():
        m = LINE.search(line)
        if m is None:
            continue
        key = (m.group(2).split(" ", 1)[0].replace("statement", "exec").replace("execute", "exec"), m.group(3))
        key = (key[0], re.sub(r"\s+", " ", key[1])[:110])
        total[key] += float(m.group(1))
        count[key] += 1
    lines = [
        f"total {sum(total.values()):.0f} ms over {sum(count.values())} statements",
        "   ms total   count  step  statement",
    ]
    for key, ms in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{ms:11.1f} {count[key]:7d}  {key[0]:5s} {key[1]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    argv = sys.argv[1:]
    top, out = 40, None
    for flag in ("--top", "--out"):
        if flag in argv:
            i = argv.index(flag)
            value = argv[i + 1]
            del argv[i : i + 2]
            if flag == "--top":
                top = int(value)
            else:
                out = Path(value)
    kept = Path(tempfile.mkdtemp(prefix="pg-statements-")) / "postgres.log"
    sql = bench_orders.sql

    async def logging_sql(dsn: str, query: str):
        result = await sql(dsn, query)
        if query.startswith("CREATE DATABASE"):
            await sql(dsn, 'ALTER DATABASE "probe" SET log_min_duration_statement = 0')
        return result

    stop = EmbeddedPostgres.stop

    def keep_log_then_stop(self: EmbeddedPostgres) -> None:
        shutil.copy(self.pgdata / "log", kept)
        stop(self)

    bench_orders.sql = logging_sql
    EmbeddedPostgres.stop = keep_log_then_stop  # type: ignore[method-assign]
    sys.argv = [sys.argv[0], *argv]
    bench_overload.main()
    text = summary(kept.read_text(errors="replace"), top)
    print(text)
    if out is not None:
        out.write_text(text)


if __name__ == "__main__":
    main()
