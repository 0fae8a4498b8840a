"""The event store on asyncpg: eventsourcing's stored-event model, asyncio I/O.

Writers lock the events table in EXCLUSIVE mode for the (short) insert of a
transaction, as eventsourcing's own PostgreSQL recorder does: notification ids
are then issued and committed in the same order, so a reader tailing the log
never passes a gap that a slower transaction fills later. Reads (ACCESS SHARE)
are never blocked by that lock.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Container, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    OperationalError,
    StoredEvent,
    Tracking,
)

from application.availability import CommitOutcomeUnknown, Unavailable
from application.background import wait_event
from application.ports import CommitOutcome, LoggedRequest, Write
from infrastructure.migrations import Names, commit_ids_function, migrate
from infrastructure.pg import Connection
from infrastructure.shared_listener import SharedListener

log = logging.getLogger(__name__)


_UNREACHABLE = (
    OSError,  # refused, reset, socket file gone, timed out (TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.ConnectionDoesNotExistError,  # "connection was closed in the middle of operation"
    asyncpg.AdminShutdownError,  # 57P01: fast or smart shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed, the server is resetting
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.TooManyConnectionsError,
    # A server that shuts down sends FATAL to idle connections; asyncpg's protocol then refuses the next
    # query ("cannot switch to state ...; another operation is in progress") and the pool drops the connection.
    asyncpg.InternalClientError,
)


def connection_failure(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) means the database could not be reached or the link dropped."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, (Unavailable, *_UNREACHABLE)):
            return True
        if isinstance(error, asyncpg.InterfaceError) and ("closed" in str(error) or "released" in str(error)):
            # "connection is closed", or "... released back to the pool": the pool detaches a connection
            # the server dropped from whoever still held it
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class ConcurrencyConflict(IntegrityError):
    """Another writer already recorded one of these (originator, version) pairs."""


class TrackingConflict(IntegrityError):
    """A projection tried to record a position it had already passed."""


class Transaction:
    """One database transaction: events, tracking and any other writes commit together."""

    def __init__(self, store: EventStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.notification_ids: list[int] = []

    async def insert_events(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert under the table lock; call it last in the transaction to keep the lock short."""
        if not stored_events:
            return []
        s = self.store
        # One round trip (simple query protocol) for the three statements before the insert.
        await self.conn.execute(s.sql_lock_and_notify)
        try:
            rows = await self.conn.fetch(
                s.sql_insert_events,
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            )
        except asyncpg.UniqueViolationError as e:
            raise ConcurrencyConflict(str(e)) from e
        ids = [r[0] for r in rows]
        self.notification_ids.extend(ids)
        return ids

    async def insert_tracking(self, tracking: Tracking) -> None:
        s = self.store
        done = await self.conn.fetchval(
            f"""INSERT INTO {s.tracking} AS t (application_name, notification_id)
                VALUES ($1, $2)
                ON CONFLICT (application_name) DO UPDATE SET notification_id = $2
                WHERE t.notification_id < $2
                RETURNING notification_id""",
            tracking.application_name,
            tracking.notification_id,
        )
        if done is None:
            raise TrackingConflict(f"{tracking.application_name} already at or past {tracking.notification_id}")

    async def insert_trackings(self, trackings: Sequence[Tracking]) -> None:
        """Several projections' positions in one statement (a joint projection batch: one round trip, not one
        per read model); a :class:`TrackingConflict` if any of them was already at or past its new position."""
        if not trackings:
            return
        s = self.store
        done = await self.conn.fetch(
            f"""INSERT INTO {s.tracking} AS t (application_name, notification_id)
                SELECT * FROM unnest($1::text[], $2::bigint[])
                ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id
                WHERE t.notification_id < excluded.notification_id
                RETURNING application_name""",
            [t.application_name for t in trackings],
            [t.notification_id for t in trackings],
        )
        if len(done) != len(trackings):
            moved = sorted({t.application_name for t in trackings} - {r[0] for r in done})
            raise TrackingConflict(f"{', '.join(moved)} already at or past their new positions")

    async def insert_snapshot(self, snapshot: StoredEvent) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.store.snapshots}
                (originator_id, originator_version, topic, state) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING""",
            snapshot.originator_id,
            snapshot.originator_version,
            snapshot.topic,
            snapshot.state,
        )


def _stored(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(bytes=row[0].bytes),
        originator_version=row[1],
        topic=row[2],
        state=row[3],
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip per release): nothing here needs resetting.

    asyncpg itself still rolls back an open transaction and drops listener callbacks. The
    rest of what its reset query undoes is never left behind by this code base: settings
    are only ``SET LOCAL`` (transaction-scoped), advisory locks are transaction-scoped or
    released explicitly (migrations), cursors live inside transactions, and no pooled
    connection LISTENs (the LISTEN session is a connection of its own: infrastructure.shared_listener).
    """


class EventStore:
    """Async application recorder, snapshot store, tracking recorder and request log in one.

    Implements the application's ports (``application.ports``): ``EventStore``,
    ``RequestLog`` and ``Notifications``.
    """

    def __init__(self, pool: asyncpg.Pool, names: Names, *, lock_timeout_s: int = 5) -> None:
        self.pool = pool
        self.names = names
        self.lock_timeout_s = lock_timeout_s
        self.events = names.q(names.events)
        self.snapshots = names.q(names.snapshots)
        self.tracking = names.q("projection_tracking")
        self.channel = names.channel
        self.sql_lock_and_notify = (
            f"SET LOCAL lock_timeout = '{lock_timeout_s}s'; "
            f"LOCK TABLE {self.events} IN EXCLUSIVE MODE; "
            f'NOTIFY "{self.channel}"'
        )
        types = (
            "text",
            "uuid[]",
            "bigint[]",
            "text[]",
            "text[]",
            "bytea[]",
            "bytea[]",
            "uuid[]",
            "bigint[]",
            "text[]",
            "bytea[]",
            "uuid[]",
            "bigint[]",
            "text[]",
            "bytea[]",
        )
        params = ", ".join(f"${i}::{t}" for i, t in enumerate(types, 1))
        self.sql_commit = f"SELECT stale, duplicate, first_id, last_id FROM {commit_ids_function(names)}({params})"
        self.own_commits = OwnCommits()
        self._committing: set[int] = set()  # the backends running this process's group commits right now
        self._own_followers: dict[_Cursor, asyncio.Event] = {}  # subscriptions, and what wakes each
        self.sql_logged = (
            f"SELECT request_id, method, payload_hash, response FROM {names.q('request_log')} WHERE request_id = $1"
        )
        self.sql_to_head = (
            f"SELECT h.head, e.notification_id, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM (SELECT MAX(notification_id) AS head FROM {self.events}) h LEFT JOIN LATERAL ("
            f"SELECT notification_id, originator_id, originator_version, topic, state FROM {self.events} "
            "WHERE notification_id > $1 AND notification_id <= h.head AND topic = ANY($2::text[]) "
            "ORDER BY notification_id LIMIT $3) e ON true ORDER BY e.notification_id"
        )
        self.sql_insert_events = (
            f"INSERT INTO {self.events} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bytea[]) "
            "RETURNING notification_id"
        )

    shared_listener: SharedListener | None = None
    """The process's LISTEN session of this store's database, when it has one (all brands' followers on one
    database share it); otherwise :meth:`listen_session` gives the store one of its own."""

    _own_listener: SharedListener | None = None

    def listen_session(self) -> SharedListener:
        """The LISTEN session this store's followers join: :attr:`shared_listener`, or else the store's own on
        :meth:`connect_dsn` (its subscriptions and projection runner share it; it runs while followed)."""
        if self.shared_listener is not None:
            return self.shared_listener
        if self._own_listener is None:
            self._own_listener = SharedListener(self.connect_dsn())
        return self._own_listener

    dsn: str | None = None
    """Where the pool connects (set by :meth:`open`), for connections of their own (the health probe)."""

    def connect_dsn(self) -> str:
        """:attr:`dsn`, for what needs a connection of its own; a store not made by :meth:`open` has none."""
        if self.dsn is None:
            raise RuntimeError("this event store was not opened from a DSN: no connection of its own to make")
        return self.dsn

    migrations_applied: list[int] = []  # noqa: RUF012 - replaced per instance by open
    """The schema migrations :meth:`open` applied (none when the database was up to date)."""

    @classmethod
    async def open(
        cls,
        dsn: str,
        names: Names,
        *,
        lock_timeout_s: int = 5,
        min_size: int = 2,
        max_size: int = 10,
    ) -> EventStore:
        # The schema is the connection's search path: the read models' unqualified tables are the schema's own
        # (a brand's schema holds its log and its read models; no query reaches another schema).
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            reset=_keep_session,
            server_settings={"search_path": f'"{names.schema}"'},
        )
        async with pool.acquire() as conn:
            applied = await migrate(conn, names)
        store = cls(pool, names, lock_timeout_s=lock_timeout_s)
        store.dsn = dsn
        store.migrations_applied = applied
        return store

    async def close(self, timeout: float = 10.0) -> None:
        """Close the pool; connections still held after ``timeout`` are terminated.

        asyncpg's graceful close waits for every acquired connection, forever if one
        is never released (an abandoned subscription, a stuck call): shutdown must not.
        """
        try:
            async with asyncio.timeout(timeout):
                await self.pool.close()
        except TimeoutError:
            log.warning("event store pool did not close within %s s; terminating its connections", timeout)
            self.pool.terminate()
        if self._own_listener is not None:  # a follower abandoned without leaving: stop its session too
            await self._own_listener.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One transaction on a pooled connection.

        A database that cannot be reached, or a link that drops before COMMIT, raises
        :class:`Unavailable` (nothing was stored); a link that drops *during* COMMIT raises
        :class:`CommitOutcomeUnknown` (it may have been stored). Either way a retry with
        the same request id is safe. A lock not granted in time stays an ``OperationalError``.
        """
        try:
            async with self.pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    yield Transaction(self, conn)
                except BaseException:
                    with contextlib.suppress(Exception):  # a dropped link cannot roll back, nor needs to
                        await tx.rollback()
                    raise
                try:
                    await tx.commit()
                except Exception as e:
                    if connection_failure(e):
                        raise CommitOutcomeUnknown() from e
                    raise
        except asyncpg.LockNotAvailableError as e:
            raise OperationalError(f"events table lock not acquired: {e}") from e
        except Unavailable:
            raise
        except Exception as e:
            if connection_failure(e):
                raise Unavailable() from e
            raise

    # --- group commit (the application's EventStore port) --------------------------

    async def commit(self, writes: Sequence[Write]) -> CommitOutcome:
        """Every write in one transaction, one round trip, under the events-table lock; or nothing.

        Nothing is written when an aggregate has events newer than a write expected
        (``stale``) or a request id is already logged (``duplicates``): the caller answers
        those commands alone and commits the others again. A lock timeout is an
        ``OperationalError`` (nothing written). An unreachable database is :class:`Unavailable`
        (nothing sent); a connection lost during the call leaves the outcome unknown:
        :class:`CommitOutcomeUnknown`, which the runner hands to every caller of the batch and
        never retries blindly (the client's retry with its request id is safe).
        """
        checks: dict[UUID, int] = {}
        requests: list[LoggedRequest] = []
        events: list[StoredEvent] = []
        snapshots: list[StoredEvent] = []
        for w in writes:
            for aggregate_id, version in w.expected.items():
                if aggregate_id not in checks or version < checks[aggregate_id]:
                    checks[aggregate_id] = version
            if w.request is not None:
                requests.append(w.request)
            events.extend(w.events)
            snapshots.extend(w.snapshots)
        try:
            conn = await self.pool.acquire()
        except Exception as e:
            if connection_failure(e):
                raise Unavailable() from e  # nothing was sent
            raise
        pid = conn.get_server_pid()
        self._committing.add(pid)
        try:
            rows = await conn.fetch(
                self.sql_commit,
                f"{self.lock_timeout_s}s",
                list(checks),
                list(checks.values()),
                [r.request_id for r in requests],
                [r.method for r in requests],
                [r.payload_hash for r in requests],
                [r.response for r in requests],
                [e.originator_id for e in snapshots],
                [e.originator_version for e in snapshots],
                [e.topic for e in snapshots],
                [e.state for e in snapshots],
                [e.originator_id for e in events],
                [e.originator_version for e in events],
                [e.topic for e in events],
                [e.state for e in events],
            )
            committed = len(rows) == 1 and rows[0][0] is None and rows[0][1] is None  # else: stale or duplicate
            if committed and rows[0][2] is not None:
                self.own_commits.add(rows[0][2], rows[0][3], events)
        except asyncpg.LockNotAvailableError as e:
            raise OperationalError(f"events table lock not acquired: {e}") from e
        except asyncpg.UniqueViolationError as e:
            raise ConcurrencyConflict(str(e)) from e
        except Exception as e:
            if connection_failure(e):
                raise CommitOutcomeUnknown() from e  # the one statement may have committed
            raise
        finally:
            self._committing.discard(pid)
            for cursor, woken in tuple(self._own_followers.items()):
                if pid in cursor.held:  # its NOTIFY was held back for it (_Cursor.notice): look now
                    cursor.held.discard(pid)
                    woken.set()
            with contextlib.suppress(Exception):  # a dropped link is terminated by the pool; the error above stands
                await self.pool.release(conn)
        if committed:
            return CommitOutcome(True)
        return CommitOutcome(
            False,
            stale=frozenset(UUID(bytes=r[0].bytes) for r in rows if r[0] is not None),
            duplicates=frozenset(r[1] for r in rows if r[1] is not None),
        )

    async def logged(self, request_id: str) -> LoggedRequest | None:
        """The request log's row for ``request_id`` (the application's RequestLog port)."""
        try:
            row = await self.pool.fetchrow(self.sql_logged, request_id)
        except Exception as e:
            if connection_failure(e):
                raise Unavailable() from e
            raise
        if row is None:
            return None
        return LoggedRequest(row[0], row[1], bytes(row[2]), bytes(row[3]))

    # --- writes (each its own transaction) -------------------------------------------

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], *, tracking: Tracking | None = None
    ) -> list[int]:
        async with self.transaction() as tx:
            if tracking is not None:
                await tx.insert_tracking(tracking)
            return await tx.insert_events(stored_events)

    async def insert_tracking(self, tracking: Tracking) -> None:
        async with self.transaction() as tx:
            await tx.insert_tracking(tracking)

    async def insert_snapshot(self, snapshot: StoredEvent) -> None:
        async with self.transaction() as tx:
            await tx.insert_snapshot(snapshot)

    # --- reads -----------------------------------------------------------------------

    async def select_events(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
        snapshots: bool = False,
    ) -> list[StoredEvent]:
        table = self.snapshots if snapshots else self.events
        sql = f"SELECT originator_id, originator_version, topic, state FROM {table} WHERE originator_id = $1"
        params: list[Any] = [originator_id]
        if gt is not None:
            params.append(gt)
            sql += f" AND originator_version > ${len(params)}"
        if lte is not None:
            params.append(lte)
            sql += f" AND originator_version <= ${len(params)}"
        sql += " ORDER BY originator_version" + (" DESC" if desc else " ASC")
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        rows = await self.pool.fetch(sql, *params)
        return [_stored(r) for r in rows]

    async def latest_snapshot(self, originator_id: UUID, lte: int | None = None) -> StoredEvent | None:
        rows = await self.select_events(originator_id, lte=lte, desc=True, limit=1, snapshots=True)
        return rows[0] if rows else None

    async def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        sql = f"SELECT notification_id, originator_id, originator_version, topic, state FROM {self.events} WHERE true"
        params: list[Any] = []
        if start is not None:
            params.append(start)
            sql += f" AND notification_id {'>=' if inclusive_of_start else '>'} ${len(params)}"
        if stop is not None:
            params.append(stop)
            sql += f" AND notification_id <= ${len(params)}"
        if topics:
            params.append(list(topics))
            sql += f" AND topic = ANY(${len(params)}::text[])"
        params.append(limit)
        sql += f" ORDER BY notification_id LIMIT ${len(params)}"
        rows = await self.pool.fetch(sql, *params)
        return [
            Notification(
                id=r[0],
                originator_id=UUID(bytes=r[1].bytes),
                originator_version=r[2],
                topic=r[3],
                state=r[4],
            )
            for r in rows
        ]

    def kept_notifications(
        self, after: int | None, stop: int, topics: Sequence[str], limit: int
    ) -> list[Notification] | None:
        """What ``select_notifications(after, limit, stop, topics, inclusive_of_start=False)`` reads, taken from
        this process's own commits (:attr:`own_commits`), or None when they do not hold every id up to ``stop``."""
        run = self.own_commits.after(after)
        if not run or run[-1].id < stop:
            return None
        wanted = frozenset(topics)
        return [n for n in run if n.id <= stop and (not wanted or n.topic in wanted)][:limit]

    async def select_notifications_to_head(
        self, after: int | None, limit: int, topics: Sequence[str]
    ) -> tuple[int | None, list[Notification]]:
        """The log head and the notifications of ``topics`` after ``after`` up to it, in one statement (one
        snapshot: every id up to the head is committed and visible in it, as the store commits ids in order).
        A follower pays one round trip per NOTIFY instead of two (the head, then the rows)."""
        rows = await self.pool.fetch(self.sql_to_head, after or 0, list(topics), limit)
        head = rows[0][0]
        return head, [
            Notification(id=r[1], originator_id=UUID(bytes=r[2].bytes), originator_version=r[3], topic=r[4], state=r[5])
            for r in rows
            if r[1] is not None
        ]

    async def max_notification_id(self) -> int | None:
        return await self.pool.fetchval(f"SELECT MAX(notification_id) FROM {self.events}")

    async def max_tracking_id(self, application_name: str) -> int | None:
        return await self.pool.fetchval(
            f"SELECT notification_id FROM {self.tracking} WHERE application_name = $1",
            application_name,
        )

    async def tracking_positions(self, names: Sequence[str], conn: Connection | None = None) -> dict[str, int]:
        """The recorded positions of these projections (one query; a projection never run is absent), read on
        ``conn`` (a transaction's) when given."""
        rows = await (conn or self.pool).fetch(
            f"SELECT application_name, notification_id FROM {self.tracking} WHERE application_name = ANY($1::text[])",
            list(names),
        )
        return {r[0]: r[1] for r in rows}

    async def tracking_positions_and_head(self, names: Sequence[str]) -> tuple[dict[str, int], int | None]:
        """:meth:`tracking_positions` and :meth:`max_notification_id` in one statement (a projection batch's
        first read)."""
        rows = await self.pool.fetch(
            f"SELECT h.head, t.application_name, t.notification_id FROM (SELECT MAX(notification_id) AS head "
            f"FROM {self.events}) h LEFT JOIN {self.tracking} t ON t.application_name = ANY($1::text[])",
            list(names),
        )
        return {r[1]: r[2] for r in rows if r[1] is not None}, rows[0][0]

    async def has_tracking_id(self, application_name: str, notification_id: int | None) -> bool:
        if notification_id is None:
            return True
        current = await self.max_tracking_id(application_name)
        return current is not None and current >= notification_id

    # --- subscriptions ---------------------------------------------------------------

    async def subscribe(
        self,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        batch: int = 500,
        poll_interval: float = 5.0,
        progress: Callable[[int], None] | None = None,
    ) -> AsyncIterator[Notification]:
        """Yield every notification after ``gt``, forever, waking on NOTIFY.

        The wake-up flag is cleared *before* each read, so a NOTIFY that lands
        between an empty read and the wait is not lost. ``poll_interval`` is only
        a safety net for a dropped listener connection.

        With ``topics``, each read stops at the log head read just before it, and
        once a read comes back short the position moves to that head (every id up
        to it is committed and was scanned: the store commits ids in order), and
        ``progress`` is told. Without that, a subscription to rare topics would
        rescan every event since its last match on every NOTIFY.
        """
        woken = asyncio.Event()
        cursor = _Cursor(gt, frozenset(topics), progress, self._committing)

        def reconnected() -> None:
            cursor.unknown = True  # commits may have landed while nobody listened
            woken.set()

        self._own_followers[cursor] = woken
        try:
            async with Listener(self, woken.set, on_connect=reconnected, hint=cursor.notice):
                while True:
                    woken.clear()
                    if own := self.own_commits.after(cursor.position):  # this process's commits, from memory
                        for n in own:
                            if not cursor.topics or n.topic in cursor.topics:
                                cursor.position = n.id
                                yield n
                        cursor.scanned(own[-1].id)
                    if cursor.caught_up():  # every commit heard of is read: nothing to read
                        await self._idle(cursor, woken, poll_interval)
                        continue
                    cursor.unknown = False  # the read covers every commit heard of before it
                    try:
                        if topics:
                            head, batch_rows = await self.select_notifications_to_head(cursor.position, batch, topics)
                        else:
                            head = None
                            batch_rows = await self.select_notifications(
                                cursor.position, batch, inclusive_of_start=False
                            )
                    except Exception as e:
                        if not connection_failure(e):
                            raise
                        # The database is away: wait for the listener to reconnect (it wakes us) or a second.
                        cursor.unknown = True
                        await wait_event(woken, min(poll_interval, 1.0))
                        continue
                    for n in batch_rows:
                        cursor.position = n.id
                        yield n
                    if len(batch_rows) < batch:
                        if head is not None:
                            cursor.scanned(head)
                        await self._idle(cursor, woken, poll_interval)
                    else:
                        cursor.unknown = True  # a full batch: more to read
        finally:
            self._own_followers.pop(cursor, None)

    @staticmethod
    async def _idle(cursor: _Cursor, woken: asyncio.Event, poll_interval: float) -> None:
        """Wait for a NOTIFY (or the poll: the safety net for a lost one, after which the log is read)."""
        cursor.idle = not woken.is_set()
        try:
            if not await wait_event(woken, poll_interval):
                cursor.unknown = True
        finally:
            cursor.idle = False


class OwnCommits:
    """The last group commits this process made, as the notifications they wrote, bounded in bytes.

    The commit function answers with the ids it gave (migration 6): ids are issued under the events-table lock,
    so one commit's events hold consecutive ids in the order they were sent. A reader of this store whose
    position is inside or just before a kept commit takes it from here instead of reading the log: every server
    follows its own brand's commits (the store directory, the projections), so without this each commit is read
    back by the process that made it. Another process's commit is never here; a follower hears of it by its
    NOTIFY and reads the log. The oldest (lowest ids) go first when the budget is spent.
    """

    BUDGET_BYTES = 1 << 20
    _OVERHEAD = 200  # per notification, beside its state

    def __init__(self, budget_bytes: int = BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._by_first: dict[int, tuple[list[Notification], int]] = {}
        self._firsts: list[int] = []  # ascending (answers of concurrent commits may come back out of order)
        self.bytes = 0

    def add(self, first: int, last: int, events: Sequence[StoredEvent]) -> None:
        if last - first + 1 != len(events) or first in self._by_first:  # not one unbroken run of ours
            return
        notifications = [
            Notification(
                id=first + i,
                originator_id=e.originator_id,
                originator_version=e.originator_version,
                topic=e.topic,
                state=e.state,
            )
            for i, e in enumerate(events)
        ]
        size = sum(len(e.state) for e in events) + self._OVERHEAD * len(events)
        self._by_first[first] = (notifications, size)
        bisect.insort(self._firsts, first)
        self.bytes += size
        while self.bytes > self.budget_bytes:
            _, dropped = self._by_first.pop(self._firsts.pop(0))
            self.bytes -= dropped

    def after(self, position: int | None) -> list[Notification]:
        """The notifications after ``position`` up to the first id not kept here (none when the next id is not)."""
        if position is None or (i := bisect.bisect_right(self._firsts, position + 1) - 1) < 0:
            return []
        notifications = self._by_first[self._firsts[i]][0]
        run = notifications[position + 1 - notifications[0].id :]
        while run and (commit := self._by_first.get(run[-1].id + 1)) is not None:
            run.extend(commit[0])
        return run


class _Cursor:
    """Where a subscription has read the log up to, and what its NOTIFYs say.

    A group commit's NOTIFY names the ids and topics it wrote (migration 5). Every one moves ``heard`` (the
    last id known to be committed); a subscription whose position has reached it, with nothing ``unknown``
    (its start, a reconnection, a lost NOTIFY's poll, a payload without ids), has nothing to read. While the
    subscription to some topics waits, a commit that starts right after its position and holds none of its
    topics moves it past, with no query, and a commit it already read is ignored. Anything else wakes it.
    """

    __slots__ = ("committing", "heard", "held", "idle", "position", "progress", "topics", "unknown")

    def __init__(
        self,
        position: int | None,
        topics: frozenset[str],
        progress: Callable[[int], None] | None,
        committing: Container[int] = (),
    ) -> None:
        self.position, self.topics, self.progress, self.committing = position, topics, progress, committing
        self.idle = False
        self.heard = 0
        self.unknown = True
        self.held: set[int] = set()  # backends of this process's commits whose NOTIFY waits for their answer

    def scanned(self, head: int) -> None:
        if self.position is None or head > self.position:
            self.position = head
            if self.progress is not None:
                self.progress(head)

    def caught_up(self) -> bool:
        return not self.unknown and self.position is not None and self.heard <= self.position

    def notice(self, payload: str, pid: int) -> bool:
        """The listener's hint: True when this NOTIFY needs no wake-up."""
        first, _, rest = payload.partition(" ")
        last, _, written = rest.partition(" ")
        if not (first.isdigit() and last.isdigit()):
            self.unknown = True
            return False
        self.heard = max(self.heard, int(last))
        if self.position is not None and int(last) <= self.position:
            return True  # already read (the head read before our last query included it, or our own commit)
        if pid in self.committing:
            # A group commit of this process whose answer has not reached it yet (PostgreSQL signals the
            # listeners as it commits, before it answers): the commit wakes this subscription once it has kept
            # its events (EventStore.own_commits), or, had the answer been lost, to read them.
            self.held.add(pid)
            return True
        if not (self.idle and self.topics) or written == "*" or self.position is None:
            return False
        if int(first) != self.position + 1 or not self.topics.isdisjoint(written.split(" ")):
            return False
        self.scanned(int(last))
        return True


class Listener:
    """LISTEN on the event store's channel while open, across database restarts.

    A follower of the store's LISTEN session (:meth:`EventStore.listen_session`, an
    :class:`infrastructure.shared_listener.SharedListener`), which reconnects with backoff when its
    connection drops. ``on_notify`` runs for every NOTIFY unless ``hint``, given the NOTIFY's payload,
    answers that it was dealt with; ``on_connect`` (default: ``on_notify``) runs once the channel is
    listened and after every reconnection, so its owner catches up at once on whatever committed while
    nobody was listening, instead of waiting for its next poll. ``hint`` is also given the PostgreSQL backend
    that sent the NOTIFY.
    """

    def __init__(
        self,
        store: EventStore,
        on_notify: Callable[[], None],
        *,
        on_connect: Callable[[], None] | None = None,
        hint: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.store = store
        self.channel = store.channel
        self.on_notify = on_notify
        self.on_connect = on_connect or on_notify
        self.hint = hint
        self._session: SharedListener | None = None

    def notified(self, payload: str, pid: int) -> None:
        if self.hint is None or not self.hint(payload, pid):
            self.on_notify()

    def connected_again(self) -> None:
        self.on_connect()

    async def __aenter__(self) -> Listener:
        self._session = self.store.listen_session()
        self._session.add(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.remove(self)
