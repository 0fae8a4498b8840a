"""Rebuild a projection from the whole history, with a progress line on stderr.

Reset and forgetting the position happen in one transaction, under the lock
the runner takes per batch; the replay then goes through the ordinary
:class:`ProjectionRunner`, so the rebuilt tables are exactly what the live
runner would have written. A live runner of the same projection (in the
server) keeps working meanwhile: the two take turns batch by batch. Readers
see the tables empty and growing until the replay reaches the head.

    python -m infrastructure.rebuild module:factory [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from eventsourcing.persistence import Mapper

from application.projection import AnyProjection
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import (
    ProjectionRunner,
    load_factories,
    load_mapper,
    lock_projection,
    open_store_from_env,
)


class Progress:
    """A single ``\\r``-rewritten stderr line: position of head, events, events/s."""

    def __init__(self, out: TextIO | None, total: int, *, every: float = 0.2) -> None:
        self.out = out
        self.total = total
        self.every = every
        self.started = time.monotonic()
        self.handled = 0
        self._shown = 0.0

    def update(self, projection: AnyProjection, handled: int, position: int, *, final: bool = False) -> None:
        self.handled += handled
        now = time.monotonic()
        if self.out is None or (not final and now - self._shown < self.every):
            return
        self._shown = now
        rate = self.handled / max(now - self.started, 1e-9)
        percent = min(100.0, 100.0 * position / self.total) if self.total else 100.0
        self.out.write(
            f"\r{projection.name}: {position}/{self.total} ({percent:5.1f}%) "
            f"{self.handled} events, {rate:,.0f} events/s"
        )
        if final:
            self.out.write("\n")
        self.out.flush()


@dataclass(frozen=True)
class RebuildStats:
    name: str
    events: int
    position: int | None
    seconds: float


async def reset(store: EventStore, projection: AnyProjection) -> None:
    """Empty the projection and forget its position, atomically."""
    async with store.transaction() as tx:
        await lock_projection(tx.conn, projection.name)
        await projection.reset(tx.conn)
        await projection.setup(tx.conn)
        await tx.conn.execute(f"DELETE FROM {store.tracking} WHERE application_name = $1", projection.name)


async def rebuild(
    store: EventStore,
    projection: AnyProjection,
    mapper: Mapper | None,
    *,
    batch_size: int = 1000,
    out: TextIO | None = sys.stderr,
) -> RebuildStats:
    started = time.monotonic()
    await reset(store, projection)
    progress = Progress(out, await store.max_notification_id() or 0)
    runner = ProjectionRunner(store, [projection], mapper, batch_size=batch_size)
    handled = await runner.catch_up(on_batch=progress.update)
    position = await runner.position(projection)
    progress.update(projection, 0, position or 0, final=True)
    return RebuildStats(projection.name, handled, position, time.monotonic() - started)


async def _main(specs: Sequence[str], only: Sequence[str], batch_size: int) -> None:
    store, release = await open_store_from_env()
    try:
        projections = [p for f in load_factories(specs) for p in f(store)]
        chosen = [p for p in projections if not only or p.name in only]
        if missing := set(only) - {p.name for p in chosen}:
            raise SystemExit(f"no such projection: {', '.join(sorted(missing))}")
        mapper = load_mapper()
        for p in chosen:
            stats = await rebuild(store, p, mapper, batch_size=batch_size)
            print(f"{stats.name}: {stats.events} events in {stats.seconds:.1f} s", file=sys.stderr)
    finally:
        await store.close()
        release()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Reset projections and replay the whole event log.")
    parser.add_argument("factories", nargs="+", help="module:callable returning projections for a store")
    parser.add_argument("--only", action="append", default=[], help="rebuild just this projection (repeatable)")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    asyncio.run(_main(args.factories, args.only, args.batch_size))


if __name__ == "__main__":
    main()
