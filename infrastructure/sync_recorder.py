"""eventsourcing's synchronous recorder interfaces over our asyncio EventStore.

Why: eventsourcing ships its own recorder test suite and tooling (Application,
ProcessApplication, System runners, notification log readers) that are all
synchronous. This adapter lets that suite check our store, and lets an auditor
drive our store with stock tooling, without a second implementation of the SQL.

The adapter owns a private event loop running in a daemon thread; every call
submits a coroutine to it and blocks on the result. Errors come out as
``eventsourcing.persistence`` exceptions, as eventsourcing's own recorders raise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from eventsourcing.persistence import (
    AggregateRecorder,
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    Notification,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
)

from infrastructure.event_store import EventStore
from infrastructure.migrations import Names

T = TypeVar("T")

# SQLSTATE class (first two characters) -> PEP 249 style exception, as psycopg maps them.
_SQLSTATE_CLASSES: dict[str, type[PersistenceError]] = {
    "08": OperationalError,  # connection exception
    "0A": NotSupportedError,
    "22": DataError,
    "23": IntegrityError,
    "25": InternalError,  # invalid transaction state
    "28": OperationalError,  # invalid authorization
    "2D": InternalError,
    "40": OperationalError,  # serialization failure, deadlock
    "3D": ProgrammingError,  # unknown database
    "3F": ProgrammingError,  # unknown schema
    "42": ProgrammingError,  # syntax error, undefined table
    "53": OperationalError,  # insufficient resources
    "55": OperationalError,  # lock not available
    "57": OperationalError,  # operator intervention (shutdown, cancel)
    "58": OperationalError,
    "XX": InternalError,
}


def persistence_error(e: BaseException) -> BaseException:
    """The eventsourcing exception for a driver error (itself if already one)."""
    if isinstance(e, PersistenceError):
        return e
    if isinstance(e, asyncpg.PostgresError):
        sqlstate = getattr(e, "sqlstate", None) or ""
        return _SQLSTATE_CLASSES.get(sqlstate[:2], DatabaseError)(str(e))
    if isinstance(e, asyncpg.InterfaceError):
        return InterfaceError(str(e))
    if isinstance(e, (ConnectionError, OSError, asyncio.TimeoutError)):
        return OperationalError(str(e) or type(e).__name__)
    return e


class _LoopThread:
    """A private event loop in a daemon thread; ``run`` blocks the caller on a coroutine."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            msg = "Synchronous recorder called from its own event loop thread"
            raise ProgrammingError(msg)
        if self._stopped:
            coro.close()
            msg = "Synchronous recorder is closed"
            raise InterfaceError(msg)
        try:
            return self.submit(coro).result(timeout)
        except BaseException as e:
            mapped = persistence_error(e)
            if mapped is e:
                raise
            raise mapped from e

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class SyncRecorder(ProcessRecorder):
    """ApplicationRecorder + TrackingRecorder (= ProcessRecorder) on the events table."""

    def __init__(self, store: EventStore, runner: _LoopThread, *, owns_store: bool) -> None:
        self.store = store
        self._runner = runner
        self._owns_store = owns_store
        self._closed = False
        self.poll_interval = 5.0  # subscriptions' safety-net poll; NOTIFY wakes them sooner

    @classmethod
    def open(cls, dsn: str, names: Names, **store_options: Any) -> SyncRecorder:
        """Start a private loop, open (and migrate) an EventStore on it."""
        runner = _LoopThread(name="sync-recorder-loop")
        try:
            store = runner.run(EventStore.open(dsn, names, **store_options))
        except BaseException:
            runner.stop()
            raise
        return cls(store, runner, owns_store=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._owns_store:
                self._runner.run(self.store.close(), timeout=10)
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Runs one coroutine of ours on the private loop (for tools built on this)."""
        return self._runner.run(coro, timeout)

    def snapshot_recorder(self) -> SyncSnapshotRecorder:
        """The snapshots table as an AggregateRecorder, sharing this loop and pool."""
        return SyncSnapshotRecorder(self)

    # --- AggregateRecorder / ApplicationRecorder ---------------------------------------

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        return self.run(self.store.insert_events(stored_events, tracking=tracking))

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.run(self.store.select_events(_uuid(originator_id), gt=gt, lte=lte, desc=desc, limit=limit))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self.run(
            self.store.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)
        )

    def max_notification_id(self) -> int | None:
        return self.run(self.store.max_notification_id())

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> SyncSubscription:
        return SyncSubscription(self, gt=gt, topics=topics)

    # --- TrackingRecorder --------------------------------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        self.run(self.store.insert_tracking(tracking))

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.run(self.store.max_tracking_id(application_name))

    def has_tracking_id(self, application_name: str, notification_id: int | None) -> bool:
        return self.run(self.store.has_tracking_id(application_name, notification_id))


class SyncSnapshotRecorder(AggregateRecorder):
    """The snapshots table as eventsourcing's AggregateRecorder (``purpose="snapshots"``).

    Unlike stock eventsourcing, recording a snapshot that already exists is a no-op:
    a snapshot at a version is a pure function of the events, so a duplicate is the
    same snapshot, not a conflict.
    """

    def __init__(self, recorder: SyncRecorder) -> None:
        self._recorder = recorder

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        async def insert() -> None:
            async with self._recorder.store.transaction() as tx:
                for snapshot in stored_events:
                    await tx.insert_snapshot(snapshot)

        if stored_events:
            self._recorder.run(insert())

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        store = self._recorder.store
        return self._recorder.run(
            store.select_events(_uuid(originator_id), gt=gt, lte=lte, desc=desc, limit=limit, snapshots=True)
        )


class SyncSubscription(Subscription[SyncRecorder]):
    """A blocking iterator over ``EventStore.subscribe`` (LISTEN/NOTIFY), pulled one by one.

    Each ``__next__`` advances the async generator on the recorder's loop, so a slow
    consumer applies back-pressure instead of filling a buffer. ``stop()`` may be
    called from any thread: it cancels a pending wait and closes the generator,
    which releases its listening connection.
    """

    def __init__(self, recorder: SyncRecorder, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._agen: AsyncIterator[Notification] = recorder.store.subscribe(
            gt, list(topics), poll_interval=recorder.poll_interval
        )
        self._step_task: asyncio.Task[Any] | None = None
        self._close_lock = threading.Lock()
        self._closed = False

    async def _step(self) -> Notification:
        self._step_task = asyncio.current_task()
        try:
            return await anext(self._agen)
        finally:
            self._step_task = None

    async def _aclose(self) -> None:
        task = self._step_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self._agen.aclose()  # type: ignore[attr-defined]

    def __next__(self) -> Notification:
        if self._has_been_stopped:
            self._close()
            raise StopIteration
        try:
            notification = self._recorder.run(self._step())
        except (StopAsyncIteration, concurrent.futures.CancelledError, asyncio.CancelledError):
            self._has_been_stopped = True
            self._close()
            raise StopIteration from None
        if self._has_been_stopped:
            self._close()
            raise StopIteration
        self._last_notification_id = notification.id
        return notification

    def stop(self) -> None:
        super().stop()
        self._close()

    def _close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._recorder.run(self._aclose(), timeout=10)


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
