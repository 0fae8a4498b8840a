"""Running commands: bounded retries, idempotent requests, group commit, admission control.

A command handler receives a :class:`UnitOfWork`, loads the aggregates it needs
(each locked against other writers in this process while the handler runs),
calls domain methods, and returns a result. Its changes, request id and encoded
response are then handed to the group committer (``application.group_commit``)
and the aggregates' locks are released at once: on a hot aggregate the next
command applies its change to the same in-memory aggregate while the first is
being committed, and both commit in one transaction, in order.

Idempotency costs no query on the way in: the request ids this process
committed are remembered (bounded); a request id logged by another process or
before a restart is caught by the request log's check inside the group commit,
and the stored response is returned instead of the new one. Concurrent
duplicates of one request in this process wait for the first.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.admission import Admission, Overloaded, remaining
from application.group_commit import GroupCommitter, Ticket, Verdict
from application.ports import LoggedRequest, RequestLog, Write
from application.repository import Repository, checked_reads
from domain.errors import DomainError, InvalidArgument, NotFound

R = TypeVar("R")
Outcome = tuple[R | None, bytes | None]
"""A command's result and its encoded response; (None, the stored response) when a request id was done before."""
A = TypeVar("A", bound=Aggregate)


class Conflict(DomainError):
    """Concurrent writers kept colliding; the client may retry. -> ABORTED"""

    reason = "CONCURRENCY_CONFLICT"


@dataclass(frozen=True)
class Idempotency:
    request_id: str
    method: str
    payload_hash: bytes


class KeyedLocks:
    """One asyncio lock per aggregate id, dropped when nobody holds or waits for it; bounded queues."""

    def __init__(self, admission: Admission | None = None) -> None:
        self._locks: dict[UUID, tuple[asyncio.Lock, int]] = {}
        self.admission = admission or Admission()

    async def acquire(self, key: UUID, timeout: float) -> None:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        if not users:  # free: taken at once, no waiting
            self._locks[key] = (lock, users + 1)
            await lock.acquire()
            return
        if self.admission.queue_full(users - 1):  # users: the holder and those waiting
            raise self.admission.overloaded_aggregate()
        self._locks[key] = (lock, users + 1)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
                await lock.acquire()
        except TimeoutError:
            self._drop(key)
            raise self.admission.overloaded_aggregate() from None
        except BaseException:  # cancelled (the client's deadline passed): no longer a user
            self._drop(key)
            raise

    def release(self, key: UUID) -> None:
        self._locks[key][0].release()
        self._drop(key)

    def _drop(self, key: UUID) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


_active = checked_reads


def active_unit_of_work() -> UnitOfWork | None:
    """The unit of work of the command running in this task, if any (for checked reads)."""
    return _active.get()


class _Busy(Exception):
    """A new aggregate's id is taken, or is being created by a command not yet committed."""

    def __init__(self, ticket: Ticket | None) -> None:
        self.ticket = ticket


class UnitOfWork:
    def __init__(self, repository: Repository, locks: KeyedLocks, lock_timeout: float) -> None:
        self.repository = repository
        self._locks = locks
        self._lock_timeout = lock_timeout
        self._held: list[UUID] = []
        self._aggregates: dict[UUID, Aggregate] = {}
        self._expected: dict[UUID, int] = {}
        self._new: list[Aggregate] = []
        self._deps: set[Ticket] = set()
        self._reads: dict[UUID, int] = {}
        self._on_stale: list[Callable[[], None]] = []

    def expect(self, aggregate_id: UUID, version: int, on_stale: Callable[[], None] | None = None) -> None:
        """A read from memory this command relies on: its write is refused if a newer event exists.

        ``version`` 0 relies on the aggregate not existing. ``on_stale`` runs if the write
        fails, so the next attempt reads afresh.
        """
        if aggregate_id not in self._expected and aggregate_id not in self._reads:
            self._reads[aggregate_id] = version
        if on_stale is not None:
            self._on_stale.append(on_stale)

    async def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate, locked for this command and checked out to it to change in place."""
        if (held := self._aggregates.get(aggregate_id)) is not None:
            if not isinstance(held, kind):  # as the repository answers an id of another kind
                raise NotFound(
                    f"{kind.__name__} {aggregate_id} not found",
                    reason=f"{kind.__name__.upper()}_NOT_FOUND",
                    id=aggregate_id,
                )
            return held
        await self._lock(aggregate_id)
        aggregate = await self.repository.get(aggregate_id, kind, for_update=True)
        self._aggregates[aggregate_id] = aggregate
        self._expected[aggregate_id] = aggregate.version
        if (ticket := self.repository.pending_ticket(aggregate_id)) is not None:
            self._deps.add(ticket)  # builds on its uncommitted changes: fails if it fails
        return aggregate

    async def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._aggregates or await self.repository.exists(aggregate_id)

    async def add(self, aggregate: Aggregate) -> None:
        """A new aggregate; its write is refused if the id is taken meanwhile."""
        await self._lock(aggregate.id)
        self._aggregates[aggregate.id] = aggregate
        self._expected[aggregate.id] = 0
        self._new.append(aggregate)

    async def _lock(self, aggregate_id: UUID) -> None:
        if aggregate_id not in self._held:
            timeout, left = self._lock_timeout, remaining()
            if left is not None:  # waiting is bounded by the call's deadline too
                timeout = max(0.0, min(timeout, left))
            await self._locks.acquire(aggregate_id, timeout)
            self._held.append(aggregate_id)

    def seal(self, request: LoggedRequest | None) -> Ticket | None:
        """Collect the changes into a ticket for the group commit (None: nothing to write or wait for)."""
        for aggregate in self._new:
            if self.repository.known(aggregate.id):  # found in memory before any query
                raise _Busy(self.repository.pending_ticket(aggregate.id))
        write = Write(request=request, expected={**self._reads, **self._expected})
        changes = []
        for aggregate in self._aggregates.values():
            events, snapshot = self.repository.collect(aggregate)
            if events:
                write.events.extend(events)
                if snapshot is not None:
                    write.snapshots.append(snapshot)
                changes.append((aggregate, events, snapshot))
        deps = {d for d in self._deps if not d.done or d.failed}
        if not write.events and request is None and not deps:
            self.repository.check_in(list(self._aggregates))
            self._aggregates.clear()
            return None
        ticket = Ticket(write, changes, list(self._aggregates), deps)
        ticket.reads = [i for i in self._reads if i not in self._expected]
        ticket.on_fail = self._on_stale
        self.repository.hand_over(ticket, self._new)
        self._aggregates.clear()
        return ticket

    def abandon(self) -> None:
        """The command failed: aggregates it may have changed in place leave the cache."""
        self.repository.forget([i for i, a in self._aggregates.items() if a.pending_events])
        self.repository.check_in(list(self._aggregates))
        self._aggregates.clear()

    def release(self) -> None:
        for key in self._held:
            self._locks.release(key)
        self._held.clear()


class RememberedRequests:
    """Responses this process committed, by request id; bounded in entries and bytes."""

    def __init__(self, entries: int = 10_000, max_bytes: int = 16 * 2**20) -> None:
        self._items: OrderedDict[str, LoggedRequest] = OrderedDict()
        self._bytes = 0
        self.entries, self.max_bytes = entries, max_bytes

    def get(self, request_id: str) -> LoggedRequest | None:
        return self._items.get(request_id)

    @property
    def usage(self) -> tuple[int, int]:
        """Entries, and their estimated bytes."""
        return len(self._items), self._bytes

    def add(self, request: LoggedRequest) -> None:
        self._items[request.request_id] = request
        self._bytes += len(request.response) + len(request.request_id) + 64
        while self._items and (len(self._items) > self.entries or self._bytes > self.max_bytes):
            _, old = self._items.popitem(last=False)
            self._bytes -= len(old.response) + len(old.request_id) + 64


class _Again(Exception):
    def __init__(self, pause: bool) -> None:
        self.pause = pause


class CommandRunner:
    def __init__(
        self,
        repository: Repository,
        *,
        max_attempts: int = 30,
        lock_timeout: float = 5.0,
        admission: Admission | None = None,
        max_batch: int = 256,
        gather_turns: int = 48,
        gather_tickets: int = 12,
        requests: RememberedRequests | None = None,
    ) -> None:
        self.repository = repository
        self.store = repository.store
        self.request_log: RequestLog = repository.store
        self.admission = admission or Admission()
        self.locks = KeyedLocks(self.admission)
        self.max_attempts = max_attempts
        self.lock_timeout = lock_timeout
        self.committer = GroupCommitter(
            self.store, repository, max_batch=max_batch, gather_turns=gather_turns, gather_tickets=gather_tickets
        )
        self.requests = requests or RememberedRequests()
        self._in_flight: dict[str, asyncio.Future[None]] = {}

    async def run(self, handler: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        result, _ = await self._admitted(handler, None, None)
        # Without idempotency there is no stored answer: the result is always the handler's own.
        return cast(R, result)

    async def run_idempotent(
        self,
        handler: Callable[[UnitOfWork], Awaitable[R]],
        idempotency: Idempotency,
        encode: Callable[[R], bytes],
    ) -> bytes:
        """The encoded response: the stored one when this request id was already done."""
        if (previous := self._answer(idempotency, self.requests.get(idempotency.request_id))) is not None:
            return previous
        _, response = await self._admitted(handler, idempotency, encode)
        assert response is not None
        return response

    @staticmethod
    def _answer(idem: Idempotency, logged: LoggedRequest | None) -> bytes | None:
        if logged is None:
            return None
        if logged.method != idem.method or logged.payload_hash != idem.payload_hash:
            raise InvalidArgument(
                "request id was already used for a different request",
                reason="REQUEST_ID_REUSED",
                request_id=idem.request_id,
                method=logged.method,
            )
        return logged.response

    async def _admitted(
        self,
        handler: Callable[[UnitOfWork], Awaitable[R]],
        idem: Idempotency | None,
        encode: Callable[[R], bytes] | None,
    ) -> Outcome[R]:
        self.admission.admit()
        started = time.monotonic()
        try:
            if idem is None:
                return await self._attempts(handler, None, None)
            while (first := self._in_flight.get(idem.request_id)) is not None:
                await asyncio.wait([first])  # a concurrent duplicate: its answer is ours
            if (previous := self._answer(idem, self.requests.get(idem.request_id))) is not None:
                return None, previous
            done = self._in_flight[idem.request_id] = asyncio.get_running_loop().create_future()
            try:
                return await self._attempts(handler, idem, encode)
            finally:
                del self._in_flight[idem.request_id]
                done.set_result(None)
        finally:
            self.admission.done(time.monotonic() - started)

    async def _attempts(
        self,
        handler: Callable[[UnitOfWork], Awaitable[R]],
        idem: Idempotency | None,
        encode: Callable[[R], bytes] | None,
    ) -> Outcome[R]:
        for attempt in range(self.max_attempts):
            try:
                return await self._attempt(handler, idem, encode)
            except _Again as again:
                if again.pause:  # another process wrote first: back off a little (never long: it made progress)
                    await asyncio.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.05)))
        raise Conflict(
            f"gave up after {self.max_attempts} attempts: concurrent writers kept colliding",
            attempts=self.max_attempts,
        )

    async def _attempt(
        self,
        handler: Callable[[UnitOfWork], Awaitable[R]],
        idem: Idempotency | None,
        encode: Callable[[R], bytes] | None,
    ) -> Outcome[R]:
        uow = UnitOfWork(self.repository, self.locks, self.lock_timeout)
        try:
            try:
                token = _active.set(uow)
                try:
                    result = await handler(uow)
                finally:
                    _active.reset(token)
                response = encode(result) if encode is not None else None
                request = (
                    None
                    if idem is None or response is None
                    else LoggedRequest(idem.request_id, idem.method, idem.payload_hash, response)
                )
                ticket = uow.seal(request)
            except _Busy as busy:
                uow.abandon()
                uow.release()
                if busy.ticket is not None:
                    await busy.ticket.wait()
                raise _Again(pause=busy.ticket is None) from None
            except DomainError as error:
                uow.abandon()
                uow.release()
                # A retry of a request done before this process knew of it may fail where the
                # first succeeded (ORDER_PAID): the stored response is the answer.
                if (
                    idem is not None
                    and not isinstance(error, Overloaded)
                    and (previous := self._answer(idem, await self.request_log.logged(idem.request_id))) is not None
                ):
                    return None, previous
                raise
            except BaseException:
                uow.abandon()
                raise
            if ticket is not None:
                self.committer.submit(ticket)
        finally:
            uow.release()
        if ticket is None:
            return result, response
        had_deps = bool(ticket.deps)
        try:
            await asyncio.shield(ticket.future)
        except asyncio.CancelledError:
            if not self.committer.withdraw(ticket):  # already being written: it commits, the retry finds it
                ticket.future.add_done_callback(_consume)
            raise
        verdict = ticket.future.result()
        if verdict is Verdict.COMMITTED:
            if request is not None:
                self.requests.add(request)
            return result, response
        if verdict is Verdict.DUPLICATE:
            assert idem is not None
            previous = self._answer(idem, await self.request_log.logged(idem.request_id))
            if previous is not None:
                return None, previous
        raise _Again(pause=not had_deps)


def _consume(future: asyncio.Future[Verdict]) -> None:
    if not future.cancelled():
        future.exception()
