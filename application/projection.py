"""What a projection is: a read model fed from the global event log, exactly once.

A projection owns a few tables and writes to them only through the connection
it is handed: the runner opens one transaction per batch and records the
projection's position (its tracking row, keyed by ``name``) in that same
transaction. So a crash or cancellation anywhere loses nothing and repeats
nothing, and ``handle`` needs no idempotency of its own.

Two shapes, chosen by which method a projection defines:

- :class:`Projection` gets decoded domain events one at a time, with the
  notification id (its position in the global log), e.g. for a deterministic
  tie-break or an "as of" column.
- :class:`NotificationProjection` gets the raw stored notifications, a batch at
  a time; for consumers of the bytes themselves (the tamper-evident hash chain)
  or for bulk upserts.

``conn`` is an asyncpg connection inside the runner's transaction; typed ``Any``
so this layer does not import the driver.

Two optional ways for a :class:`Projection` to take a batch for fewer round
trips (the runner prefers them; the tables must end up as ``handle`` one by
one would leave them):

- ``handle_many(conn, events, notification_ids)``: the whole batch's events at once;
- ``batch_key(event)``: every row ``handle`` writes for the event, and every row
  its statements read, belongs to this key (the member, the order, the store).
  ``handle`` then gets a recorder with ``execute``/``executemany`` only, and the
  runner sends the batch's statements grouped by text, each key's in order
  (``infrastructure/statement_batch.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from eventsourcing.persistence import Notification


@runtime_checkable
class Projection(Protocol):
    # read-only (properties) so that a class attribute of a narrower type, a tuple of topics, satisfies them
    @property
    def name(self) -> str:
        """Unique and stable: it is the ``application_name`` of the tracking row."""

    @property
    def topics(self) -> Sequence[str]:
        """Event topics it reads; empty means every event."""

    async def setup(self, conn: Any) -> None:
        """Create its tables; must be idempotent (runs at every start)."""

    async def reset(self, conn: Any) -> None:
        """Drop or empty its tables before a rebuild (``setup`` runs right after)."""

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        """Apply one decoded domain event, writing only through ``conn``."""


@runtime_checkable
class NotificationProjection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def topics(self) -> Sequence[str]: ...

    async def setup(self, conn: Any) -> None: ...

    async def reset(self, conn: Any) -> None: ...

    async def handle_notifications(self, conn: Any, notifications: Sequence[Notification]) -> None:
        """Apply a batch of stored notifications, in notification-id order."""


AnyProjection = Projection | NotificationProjection
