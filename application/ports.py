"""The ports the application needs from the outside, as protocols; infrastructure implements them.

The use cases load and save aggregates through an :class:`EventStore`, look up
earlier answers in a :class:`RequestLog`, and follow the global log through
:class:`Notifications`. ``infrastructure.event_store.EventStore`` implements all
three on asyncpg; ``tests/application/fakes.py`` implements them in memory.

A group commit hands the store a list of :class:`Write` (one per command); the
store writes all of them in one transaction or none, and says which aggregates
were stale and which request ids were already logged, so the runner can answer
those commands alone and commit the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent


class StaleAggregate(IntegrityError):
    """Another writer recorded a newer version of an aggregate this write was based on."""


@dataclass(frozen=True)
class LoggedRequest:
    """A mutating call's request id, what it was, and the encoded response it got."""

    request_id: str
    method: str
    payload_hash: bytes
    response: bytes


@dataclass
class Write:
    """One command's writes: its events, due snapshots, its request-log row, and the versions it read.

    ``expected`` maps every aggregate the command loaded (or created: version 0) to
    the version it saw; the write is refused if a newer event of any of them exists.
    """

    events: list[StoredEvent] = field(default_factory=list)
    snapshots: list[StoredEvent] = field(default_factory=list)
    request: LoggedRequest | None = None
    expected: dict[UUID, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitOutcome:
    """Either everything was written (``committed``) or nothing, and then why."""

    committed: bool
    stale: frozenset[UUID] = frozenset()  # aggregates with events newer than a write expected
    duplicates: frozenset[str] = frozenset()  # request ids already in the request log


class RequestLog(Protocol):
    async def logged(self, request_id: str) -> LoggedRequest | None: ...


class EventStore(RequestLog, Protocol):
    """The log of events, which also keeps the request log (``logged``)."""

    async def select_events(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
        snapshots: bool = False,
    ) -> list[StoredEvent]: ...

    async def latest_snapshot(self, originator_id: UUID, lte: int | None = None) -> StoredEvent | None: ...

    async def commit(self, writes: Sequence[Write]) -> CommitOutcome:
        """All of ``writes`` in one transaction under the events-table lock, or nothing."""
        ...


class Notifications(Protocol):
    async def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]: ...

    async def max_notification_id(self) -> int | None: ...

    def subscribe(
        self,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        batch: int = 500,
        poll_interval: float = 5.0,
        progress: Callable[[int], None] | None = None,
    ) -> AsyncIterator[Notification]:
        """Every notification after ``gt``, forever; with ``topics``, ``progress`` hears how far the log was
        scanned past the last match (a follower resumes or catches up from there)."""
        ...


class SeedSource(Protocol):
    """Where a drop's secret draw seed comes from (the domain makes no randomness and keeps no secret).

    Must give the same seed for the same drop every time (the commitment is recorded at creation,
    the seed revealed at the draw) and be unguessable until then.
    """

    def seed_for(self, drop_id: UUID) -> bytes: ...


class PersonalDataKeys(Protocol):
    """Crypto-shredding: the data keys that seal each person's personal fields (infrastructure.privacy)."""

    async def destroy(self, subject_id: UUID) -> bool:
        """The subject's data key is destroyed: its personal fields read as erased everywhere. True if it existed."""
        ...
