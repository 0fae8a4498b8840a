"""Running commands: one transaction per command, bounded retries, idempotent requests.

A command handler receives a :class:`UnitOfWork`, loads the aggregates it needs
(each a private copy, locked against other writers in this process), calls
domain methods, and returns a result. Everything it changed is then written in
one transaction, together with the request id and the encoded response, so a
retried request returns the stored response and writes nothing new.

Writers of one aggregate queue on an in-process lock instead of racing, so a
hot aggregate (a cloud store in a flash sale) does not burn retries inside one
process; optimistic concurrency in the database still guards across processes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import asyncpg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, OperationalError

from application.repository import Repository
from domain.errors import DomainError, InvalidArgument

R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)


class Conflict(DomainError):
    """Concurrent writers kept colliding; the client may retry. -> ABORTED"""

    reason = "CONCURRENCY_CONFLICT"


@dataclass(frozen=True)
class Idempotency:
    request_id: str
    method: str
    payload_hash: bytes


class _LockTimeout(Exception):
    pass


class KeyedLocks:
    """One asyncio lock per aggregate id, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[UUID, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: UUID, timeout: float) -> None:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError:
            self._drop(key)
            raise _LockTimeout(key) from None
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


class UnitOfWork:
    def __init__(self, repository: Repository, locks: KeyedLocks, lock_timeout: float) -> None:
        self.repository = repository
        self._locks = locks
        self._lock_timeout = lock_timeout
        self._held: list[UUID] = []
        self._aggregates: dict[UUID, Aggregate] = {}

    async def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate, locked for this command and checked out to it to change in place."""
        if aggregate_id in self._aggregates:
            return self._aggregates[aggregate_id]  # type: ignore[return-value]
        await self._lock(aggregate_id)
        aggregate = await self.repository.get(aggregate_id, kind, for_update=True)
        self._aggregates[aggregate_id] = aggregate
        return aggregate

    async def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._aggregates or await self.repository.exists(aggregate_id)

    async def add(self, aggregate: Aggregate) -> None:
        """A new aggregate; its creation event conflicts if the id is taken."""
        await self._lock(aggregate.id)
        self._aggregates[aggregate.id] = aggregate

    async def _lock(self, aggregate_id: UUID) -> None:
        if aggregate_id not in self._held:
            await self._locks.acquire(aggregate_id, self._lock_timeout)
            self._held.append(aggregate_id)

    @property
    def changed(self) -> list[Aggregate]:
        return [a for a in self._aggregates.values() if a.pending_events]

    def release(self, *, committed: bool, write_attempted: bool) -> None:
        """Unlock; aggregates that may hold uncommitted changes leave the cache."""
        loaded = list(self._aggregates)
        if committed:
            self.repository.check_in(loaded)
        elif write_attempted:  # events were collected but not stored: every loaded state is suspect
            self.repository.forget(loaded)
        else:
            self.repository.forget([i for i, a in self._aggregates.items() if a.pending_events])
            self.repository.check_in([i for i, a in self._aggregates.items() if not a.pending_events])
        for key in self._held:
            self._locks.release(key)
        self._held.clear()


class CommandRunner:
    def __init__(
        self,
        repository: Repository,
        *,
        max_attempts: int = 6,
        lock_timeout: float = 5.0,
    ) -> None:
        self.repository = repository
        self.store = repository.store
        self.locks = KeyedLocks()
        self.max_attempts = max_attempts
        self.lock_timeout = lock_timeout

    async def run(self, handler: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        result, _ = await self._attempts(handler, None, None)
        return result

    async def run_idempotent(
        self,
        handler: Callable[[UnitOfWork], Awaitable[R]],
        idempotency: Idempotency,
        encode: Callable[[R], bytes],
    ) -> bytes:
        """The encoded response: the stored one when this request id was already done."""
        _, response = await self._attempts(handler, idempotency, encode)
        assert response is not None
        return response

    async def _previous(self, idem: Idempotency) -> bytes | None:
        row = await self.store.pool.fetchrow(
            f'SELECT method, payload_hash, response FROM {self.store.names.q("request_log")} '
            "WHERE request_id = $1",
            idem.request_id,
        )
        if row is None:
            return None
        if row["method"] != idem.method or bytes(row["payload_hash"]) != idem.payload_hash:
            raise InvalidArgument(
                "request id was already used for a different request",
                reason="REQUEST_ID_REUSED",
                request_id=idem.request_id,
                method=row["method"],
            )
        return bytes(row["response"])

    async def _attempts(self, handler, idem: Idempotency | None, encode):
        for attempt in range(self.max_attempts):
            if idem is not None and (previous := await self._previous(idem)) is not None:
                return None, previous
            uow = UnitOfWork(self.repository, self.locks, self.lock_timeout)
            committed = write_attempted = False
            try:
                result = await handler(uow)
                changed = uow.changed
                response = encode(result) if encode is not None else None
                write_attempted = True
                async with self.store.transaction() as tx:
                    if idem is not None:
                        await self._record(tx.conn, idem, response)
                    await self.repository.write(tx, changed)
                self.repository.committed(changed)
                committed = True
                return result, response
            except (IntegrityError, OperationalError, _LockTimeout, asyncpg.UniqueViolationError):
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
            finally:
                uow.release(committed=committed, write_attempted=write_attempted)
        raise Conflict(
            f"gave up after {self.max_attempts} attempts: concurrent writers kept colliding",
            attempts=self.max_attempts,
        )

    async def _record(self, conn: asyncpg.Connection, idem: Idempotency, response: bytes | None) -> None:
        await conn.execute(
            f'INSERT INTO {self.store.names.q("request_log")} '
            "(request_id, method, payload_hash, response) VALUES ($1, $2, $3, $4)",
            idem.request_id,
            idem.method,
            idem.payload_hash,
            response,
        )
