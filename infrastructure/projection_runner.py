"""Feeds projections from the global event log, exactly once, woken by NOTIFY.

Each batch is one transaction holding the projection's writes and its new
tracking position, so a crash, a failing ``handle`` or a cancelled task rolls
the whole batch back and the next run resumes from the last committed position.

The transaction first takes an advisory lock on the projection's name and
re-reads its position: two runners of one projection (the server and a worker
process, or a rebuild) then take turns batch by batch instead of writing the
same batch twice.

A projection with ``topics`` reads only those events, but its position still
advances over the events it skipped: the log head is read *before* the batch,
and the event store commits notification ids in order (it locks the table for
inserts), so every id up to that head is already visible.

Run as a worker process: ``loyalty projections [module:factory ...]`` (or ``python -m
infrastructure.projection_runner ...``) where ``factory(store)`` returns projections.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import asyncpg
from eventsourcing.persistence import JSONTranscoder, Mapper, Notification, Tracking

from application.background import stop_task, wait_event
from application.projection import AnyProjection, NotificationProjection, Projection
from infrastructure.event_store import EventStore, Listener, connection_failure
from infrastructure.pg import Connection
from infrastructure.statement_batch import StatementBatch

if TYPE_CHECKING:
    from infrastructure.config import Settings
    from infrastructure.privacy import PrivateEventStore

log = logging.getLogger(__name__)

OnBatch = Callable[[AnyProjection, int, int], None]
"""Called after each committed batch with (projection, events handled, new position)."""


class ProjectionRunner:
    def __init__(
        self,
        store: EventStore,
        projections: Iterable[AnyProjection],
        mapper: Mapper | None = None,
        *,
        batch_size: int = 500,
        poll_interval: float = 30.0,
        max_backoff: float = 30.0,
        leadership: Leadership | None = None,
        gather: float = 0.0,
        busy_gather: float = 0.0,
        gather_events: int = 0,
    ) -> None:
        self.store = store
        self.leadership = leadership
        """With leadership, the background loop feeds only the projections this process leads (see Leadership)."""
        self.projections = list(projections)
        names = [p.name for p in self.projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self._undecoded: dict[str, bool] = {}
        if mapper is None and not all(self._takes_notifications(p) for p in self.projections):
            raise ValueError("a mapper is needed to decode events for these projections")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.mapper = mapper
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.gather = gather
        """Seconds to wait after a NOTIFY before reading, so that one batch takes the commits that land meanwhile:
        under load the read models cost per batch, not per commit (they lag by at most this much more)."""
        self.busy_gather = busy_gather
        self.gather_events = gather_events
        """Under load (commits landed while a batch was being written) the background loop takes the next batch
        once ``gather_events`` events are waiting or ``busy_gather`` seconds have passed, whichever comes first,
        instead of at once: a batch's fixed cost (a dozen statements whatever its size) is then paid per
        ``gather_events`` events, not per however few arrived during the last batch. So a process serving
        several brands, whose runners each see a share of the load, writes about as many batches per order as
        one brand alone (0: no such wait)."""
        self._heard = 0  # the last notification id a NOTIFY named
        self._seen = 0  # the log head the last batch read up to
        self.errors: dict[str, BaseException] = {}
        """The last failure of each projection that is currently failing (for health checks)."""
        self._woken = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ready = False
        self._retry_at: dict[str, tuple[float, float]] = {}  # name -> (loop time, last delay)

    def _takes_notifications(self, p: AnyProjection) -> bool:
        """Whether the projection takes stored notifications undecoded (asked once per name: a check against a
        runtime-checkable protocol inspects every member, several times a batch per projection otherwise)."""
        undecoded = self._undecoded.get(p.name)
        if undecoded is None:
            undecoded = self._undecoded[p.name] = isinstance(p, NotificationProjection)
        return undecoded

    # --- one batch -----------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the projections' tables (once per runner; ``catch_up`` calls it)."""
        async with self.store.transaction() as tx:
            for p in self.projections:
                await p.setup(tx.conn)
        self._ready = True

    async def position(self, projection: AnyProjection) -> int | None:
        return await self.store.max_tracking_id(projection.name)

    async def step(self, projection: AnyProjection) -> int | None:
        """Handle one batch of one projection: the number of events handled (0 when another runner moved it
        meanwhile: re-read and go on), or None when caught up. A failing ``handle`` raises its own error."""
        try:
            return await self.step_together([projection])
        except _Failed as f:
            raise f.error from None

    async def step_together(self, projections: Sequence[AnyProjection], on_batch: OnBatch | None = None) -> int | None:
        """One batch for several projections at once; the number of events read (0 when another runner moved
        them all meanwhile), or None when all are caught up.

        The log is read once (from the position of the one furthest behind, up to the head read first), each
        event is decoded once, and one transaction holds every projection's writes: each projection is still
        locked and position-checked in it (one that another runner moved is left out) and keeps its own
        tracking row. Per NOTIFY that is a handful of statements for all read models instead of a dozen for
        each. A projection whose ``handle`` fails rolls the whole batch back (``_Failed`` names it): ``catch_up``
        backs that one off and goes on with the rest.
        """
        positions, head = await self.store.tracking_positions_and_head([p.name for p in projections])
        if head is None:
            return None
        self._seen = head
        behind = [p for p in projections if positions.get(p.name, 0) < head]
        if not behind:
            return None
        starts = [positions.get(p.name) for p in behind]
        start = None if None in starts else min(s for s in starts if s is not None)
        topics = sorted({t for p in behind for t in p.topics}) if all(p.topics for p in behind) else ()
        batch = self.store.kept_notifications(start, head, topics, self.batch_size)  # all our own commits
        if batch is None:
            batch = await self.store.select_notifications(
                start, self.batch_size, stop=head, topics=topics, inclusive_of_start=False
            )
        new_position = batch[-1].id if len(batch) == self.batch_size else head  # short: all up to head scanned
        self._seen = new_position
        parts: dict[str, list[Notification]] = {}
        decoded: dict[int, Any] = {}
        for p in behind:
            position, wanted = positions.get(p.name, 0), set(p.topics)
            if position >= new_position:
                continue
            parts[p.name] = mine = [n for n in batch if n.id > position and (not wanted or n.topic in wanted)]
            if not self._takes_notifications(p):
                assert self.mapper is not None
                for n in mine:
                    if n.id not in decoded:
                        decoded[n.id] = self.mapper.to_domain_event(n)
        handled: list[tuple[AnyProjection, int]] = []
        trackings: list[Tracking] = []
        async with self.store.transaction() as tx:
            held = await _hold_many(tx.conn, self.store, {name: positions.get(name) for name in parts})
            for p in behind:
                if p.name not in held:
                    continue
                mine = parts[p.name]
                try:
                    if self._takes_notifications(p):
                        if mine:
                            await cast(NotificationProjection, p).handle_notifications(tx.conn, mine)
                    elif (many := getattr(p, "handle_many", None)) is not None:  # a whole batch at once
                        if mine:
                            await many(tx.conn, [decoded[n.id] for n in mine], [n.id for n in mine])
                    elif (key := getattr(p, "batch_key", None)) is not None:  # its writes, a few round trips
                        statements = StatementBatch()
                        for n in mine:
                            event = decoded[n.id]
                            await cast(Projection, p).handle(statements.writer(key(event)), event, n.id)
                        await statements.flush(tx.conn)
                    else:
                        for n in mine:
                            await cast(Projection, p).handle(tx.conn, decoded[n.id], n.id)
                except Exception as e:
                    if connection_failure(e):
                        raise
                    raise _Failed(p, e) from e
                trackings.append(Tracking(p.name, new_position))
                handled.append((p, len(mine)))
            await tx.insert_trackings(trackings)  # every read model's new position in one statement
        if on_batch is not None:
            for p, count in handled:
                on_batch(p, count, new_position)
        return len(batch) if handled else 0  # 0: every one of them was moved meanwhile by another runner

    async def catch_up(
        self, on_batch: OnBatch | None = None, *, honour_backoff: bool = False, paced: bool = False
    ) -> int:
        """Feed every projection up to the current log head; the number of events handled.

        A failing projection is logged and recorded in ``errors``; the others go
        on. The first failure is re-raised at the end, so callers (tests, the
        rebuild tool) see it. With ``honour_backoff`` (the background loop), a
        failing projection is skipped until its retry time, doubling up to
        ``max_backoff``, so a poison event is not retried on every NOTIFY. With ``paced`` (the background loop,
        which then gathers), it returns after the first batch that reached the head it read.
        """
        if not self._ready:
            await self.setup()
        total = 0
        first_error: BaseException | None = None
        now = asyncio.get_running_loop().time()
        due = [
            p
            for p in self.projections
            if not (honour_backoff and self._retry_at.get(p.name, (0.0, 0.0))[0] > now)
            # another process leads it (or nobody yet: the leadership task keeps trying)
            and (self.leadership is None or self.leadership.leads(p.name))
        ]
        while len(due) > 1:  # together while there are several; a failing one is backed off and left out
            try:
                while not self._stopping and (handled := await self.step_together(due, on_batch)) is not None:
                    total += handled
                    if paced and handled < self.batch_size:
                        break
            except _Failed as f:
                self._failed(f.projection, f.error, now)
                first_error = first_error or f.error
                due.remove(f.projection)
                continue
            except Exception as e:  # not one projection's doing (the database went away): one by one below
                log.debug("projections' joint batch failed (%s); stepping them one by one", type(e).__name__)
                break
            for p in due:
                self.errors.pop(p.name, None)
                self._retry_at.pop(p.name, None)
            due = []
        for p in due:
            try:
                while not self._stopping:
                    handled = await self.step(p)
                    if handled is None:
                        break
                    total += handled
                    if on_batch is not None:
                        on_batch(p, handled, await self.position(p) or 0)
                    if paced and handled < self.batch_size:
                        break
                self.errors.pop(p.name, None)
                self._retry_at.pop(p.name, None)
            except Exception as e:
                self._failed(p, e, now)
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return total

    def _failed(self, p: AnyProjection, e: BaseException, now: float) -> None:
        """Record a projection's failure and when to try it again."""
        self.errors[p.name] = e
        if connection_failure(e):  # the database is away: no backoff to grow, no traceback to log
            delay = 0.5
            log.warning("projection %s: database unavailable; retry in %.1f s", p.name, delay)
        else:
            delay = min(self.max_backoff, max(0.1, 2 * self._retry_at.get(p.name, (0.0, 0.0))[1]))
            log.error("projection %s failed; retry in %.1f s", p.name, delay, exc_info=e)
        self._retry_at[p.name] = (now + delay, delay)

    async def run_until(self, position: int | None, *, timeout: float = 10.0) -> None:
        """Return once every projection has passed ``position`` (tests, tools); None, an empty log's position
        (``max_notification_id``), is passed by nothing and needs no wait.

        Drives ``catch_up`` itself unless the background task is running, in
        which case it only watches the positions.
        """
        if position is None:
            return
        async with asyncio.timeout(timeout):
            while True:
                if self._task is None or self._task.done():
                    await self.catch_up()
                positions = [await self.position(p) for p in self.projections]
                if all(p is not None and p >= position for p in positions):
                    return
                await asyncio.sleep(0.02)

    # --- as a task in the server ---------------------------------------------------------

    def start(self) -> None:
        """Run in the background until :meth:`stop`; call from a running loop."""
        if self._task is None or self._task.done():
            self._stopping = False
            if self.leadership is not None:
                self.leadership.start(self._woken.set)
            self._task = asyncio.create_task(self._run(), name="projection-runner")

    async def stop(self, grace: float = 5.0) -> None:
        """Let the batch in flight commit (up to ``grace`` s), then cancel; safe either way."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._woken.set()
        try:
            await asyncio.wait([task], timeout=grace)
            await stop_task(task)
        finally:
            self._stopping = False
            if self.leadership is not None:
                await self.leadership.stop()  # after the last batch: a standby takes over from its position

    def _reconnected(self) -> None:
        """The listener is back after the database went away: retry every projection now, not after backoff."""
        self._retry_at.clear()
        self._woken.set()

    def _heard_of(self, payload: str, pid: int) -> bool:
        """Note the last id a commit's NOTIFY names ("<first> <last> <topics>"; empty from a server before
        migration 5); the runner is woken either way."""
        with contextlib.suppress(ValueError, IndexError):
            self._heard = max(self._heard, int(payload.split(" ", 2)[1]))
        return False

    async def _gather(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for more commits, or until ``gather_events`` are waiting."""
        deadline = asyncio.get_running_loop().time() + limit
        while not self._stopping and (self.gather_events <= 0 or self._heard - self._seen < self.gather_events):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._woken.clear()
            await wait_event(self._woken, left)

    async def _run(self) -> None:
        async with Listener(self.store, self._woken.set, on_connect=self._reconnected, hint=self._heard_of):
            while not self._stopping:
                self._woken.clear()
                handled = 0
                try:
                    handled = await self.catch_up(honour_backoff=True, paced=self.busy_gather > 0)
                except Exception:
                    if not self._ready:
                        log.exception("projection setup failed")
                if self._stopping:
                    return
                # busy: the runner gathers under load, and commits landed while it wrote a batch
                busy = self.busy_gather > 0 and handled > 0 and self._heard > self._seen
                wait = self.poll_interval if self._ready else min(self.poll_interval, 1.0)
                if self._retry_at:
                    soonest = min(t for t, _ in self._retry_at.values())
                    wait = max(0.0, min(wait, soonest - asyncio.get_running_loop().time()))
                await wait_event(self._woken, wait)
                limit = self.busy_gather if busy else self.gather
                if limit > 0 and self._woken.is_set() and not self._stopping:
                    await self._gather(limit)


async def _hold(conn: Connection, store: EventStore, name: str, expected: int | None) -> bool:
    """Lock the projection for this transaction; False if its position is no longer ``expected``."""
    return name in await _hold_many(conn, store, {name: expected})


class _Failed(Exception):
    """One projection's ``handle`` failed in a joint batch (the whole transaction rolled back)."""

    def __init__(self, projection: AnyProjection, error: Exception) -> None:
        super().__init__(f"{projection.name}: {error}")
        self.projection, self.error = projection, error


async def _hold_many(conn: Connection, store: EventStore, expected: dict[str, int | None]) -> set[str]:
    """Lock these projections for this transaction (in one order, so two runners cannot deadlock); those whose
    position is still the expected one."""
    names = sorted(expected)
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i",
        [projection_lock_key(store, n) for n in names],
    )
    current = await store.tracking_positions(names, conn)
    return {n for n in names if current.get(n) == expected[n]}


def projection_lock_key(store: EventStore, name: str) -> str:
    """A projection's advisory lock key: per schema (brand), so two brands' projections never wait on each other."""
    return f"projection:{store.names.schema}:{name}"


async def lock_projection(conn: Connection, name: str, store: EventStore) -> None:
    """The same transaction-scoped lock the runner takes per batch (for the rebuild tool)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", projection_lock_key(store, name))


class Leadership:
    """Which projections of one brand (schema) this process leads: exactly one process at a time runs each.

    A projection is led by whoever holds the session advisory lock ``projection-leader:<schema>:<name>``
    on a connection of its own. Every process that may run projections (server workers, projection
    workers) tries to take the locks it lacks every ``retry_interval`` seconds; PostgreSQL grants each
    to one session. When the leader dies (even kill -9) its connection closes, PostgreSQL releases
    the locks, and a standby takes them at its next try, resuming from the committed tracking position.
    Losing the connection drops every lead at once. Correctness never rests on the lease alone: each
    batch still takes the per-batch lock and re-checks the position in its own transaction (see
    ``ProjectionRunner.step``), so even two runners at once could not apply a batch twice.
    """

    def __init__(self, dsn: str, schema: str, names: Iterable[str], *, retry_interval: float = 1.0) -> None:
        self.dsn = dsn
        self.schema = schema
        self.names = list(names)
        self.retry_interval = retry_interval
        self.held: set[str] = set()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_change: Callable[[], None] = lambda: None

    def key(self, name: str) -> str:
        return f"projection-leader:{self.schema}:{name}"

    def leads(self, name: str) -> bool:
        return name in self.held and self._conn is not None and not self._conn.is_closed()

    def start(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"projection-leadership-{self.schema}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if self.held:
            log.info("projection leadership released", extra={"schema": self.schema, "projections": sorted(self.held)})
        self.held.clear()
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)  # closing the session releases its advisory locks

    async def acquire_once(self) -> set[str]:
        """Connect if needed and try every lock not held yet; the projections led now."""
        if self._conn is None or self._conn.is_closed():
            self.held.clear()
            self._conn = await asyncpg.connect(
                self.dsn, server_settings={"application_name": f"loyalty-projections pid={os.getpid()}"}
            )
            self._conn.add_termination_listener(lambda _: self.held.clear())
        gained = []
        for name in self.names:
            if name not in self.held and await self._conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", self.key(name)
            ):
                self.held.add(name)
                gained.append(name)
        if not gained and self.held:
            await self._conn.fetchval("SELECT 1")  # a dead link shows here, and drops the leads
        if gained:
            log.info("projection leadership taken", extra={"schema": self.schema, "projections": gained})
            self._on_change()
        return set(self.held)

    async def _run(self) -> None:
        while True:
            try:
                await self.acquire_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("projection leadership: %s; retrying", type(e).__name__)
                await self._drop()
            await asyncio.sleep(self.retry_interval)


async def leader_pids(conn: asyncpg.Connection, schema: str, name: str) -> list[str]:
    """The ``application_name`` of the session leading ``name`` of ``schema`` (tests, operators)."""
    rows = await conn.fetch(
        """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.objid = (hashtext($1)::bigint & 4294967295)::oid""",
        f"projection-leader:{schema}:{name}",
    )
    return [r[0] for r in rows]


# --- worker process -------------------------------------------------------------------------


def stock_mapper() -> Mapper:
    """eventsourcing's JSONTranscoder with its built-in transcodings (those ``Application.register_transcodings``
    registers)."""
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def load_mapper() -> Mapper:
    """The project's mapper (``infrastructure.mapper.build_mapper``) if present, else the stock one."""
    try:
        module = importlib.import_module("infrastructure.mapper")
    except ModuleNotFoundError:
        log.warning("infrastructure.mapper not found; decoding with the stock JSONTranscoder")
        return stock_mapper()
    return module.build_mapper(os.environ)


def load_factories(specs: Sequence[str]) -> list[Callable[[EventStore], Iterable[AnyProjection]]]:
    """``module:callable`` strings to projection factories."""
    factories = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not attr:
            raise SystemExit(f"expected module:factory, got {spec!r}")
        factories.append(getattr(importlib.import_module(module_name), attr))
    return factories


def gathering(settings: Settings) -> dict[str, Any]:
    """The runner's gathering (``gather``, ``busy_gather``, ``gather_events``) as configured."""
    return {
        "gather": settings.projection_gather_ms / 1000,
        "busy_gather": settings.projection_busy_gather_ms / 1000,
        "gather_events": settings.projection_gather_events,
    }


async def open_store_from_env(brand: str | None = None) -> tuple[PrivateEventStore, Callable[[], None]]:
    """The event store from the same settings the server uses (``brand``'s tenant, or without one the
    configured ``POSTGRES_SCHEMA`` of a database from before tenants), with personal data sealed under the
    same keys as the server's, checked; and how to release it. Every command-line tool opens it this way."""
    from infrastructure.config import load_settings
    from infrastructure.privacy import open_private

    settings = load_settings()
    if brand is not None:
        from infrastructure.tenants import open_brand_store

        store, release = await open_brand_store(brand, settings=settings)
    else:
        from infrastructure.database import open_event_store

        store, embedded = await open_event_store(settings)
        release = embedded.stop if embedded is not None else (lambda: None)
    try:
        return await open_private(store, os.environ, settings.data_dir), release
    except BaseException:
        await store.close()
        release()
        raise


async def _registered_brands() -> list[str]:
    from infrastructure.config import load_settings
    from infrastructure.database import platform_database
    from infrastructure.tenants import Registry

    dsn, embedded = platform_database(load_settings())
    try:
        return [t.brand for t in await Registry(dsn).all()]
    finally:
        if embedded is not None:
            embedded.stop()


async def _worker(
    specs: Sequence[str],
    batch_size: int,
    brands: Sequence[str | None],
    retry_interval: float,
    *,
    all_brands: bool = False,
    rescan_interval: float = 10.0,
) -> None:
    """Run the projections of ``brands``; with ``all_brands`` also of every brand onboarded later (the registry
    is read again every ``rescan_interval`` seconds)."""
    from infrastructure.config import load_settings
    from infrastructure.shared_listener import SharedListener

    paced = gathering(load_settings())
    opened: list[tuple[EventStore, Callable[[], None]]] = []
    runners: dict[str | None, ProjectionRunner] = {}
    listeners: dict[str, SharedListener] = {}  # one LISTEN session per database for every brand's runner

    async def run(brand: str | None) -> None:
        store, release = await open_store_from_env(brand)
        opened.append((store, release))
        dsn = store.connect_dsn()
        if dsn not in listeners:
            listeners[dsn] = SharedListener(dsn)
        getattr(store, "inner", store).shared_listener = listeners[dsn]
        projections = [p for f in load_factories(specs) for p in f(store)]
        leadership = Leadership(
            store.connect_dsn(), store.names.schema, [p.name for p in projections], retry_interval=retry_interval
        )
        from infrastructure.privacy import for_read_models

        log_store, log_mapper = for_read_models(store, store.mapper)  # read models keep no personal data
        runner = ProjectionRunner(
            log_store, projections, log_mapper, batch_size=batch_size, leadership=leadership, **paced
        )
        runners[brand] = runner
        runner.start()
        log.info(
            "projection worker running for schema %s (standby until it leads): %s",
            store.names.schema,
            ", ".join(p.name for p in projections),
        )

    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for brand in brands:
            await run(brand)
        while not stop.is_set():
            await wait_event(stop, rescan_interval if all_brands else 3600.0)
            if all_brands and not stop.is_set():
                try:
                    for brand in await _registered_brands():
                        if brand not in runners:
                            await run(brand)
                except Exception as e:
                    log.warning("reading the tenant registry failed: %s", type(e).__name__)
        for runner in runners.values():
            await runner.stop()
    finally:
        for listener in listeners.values():
            await listener.close()
        for store, release in opened:
            await store.close()
            release()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infrastructure.projection_runner ...``: the same as ``loyalty projections ...``."""
    import sys

    from infrastructure.cli import main as loyalty

    return loyalty(["projections", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
