"""The application's ports in memory: the FakeUnitOfWork tier of "Architecture Patterns with Python".

One object plays the event store, the request log and the notification log, with
the same promises as the asyncpg store: a commit writes all of its writes or
none, refuses stale versions and logged request ids, and numbers events in
commit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from application.ports import CommitOutcome, LoggedRequest, Write


class InMemoryStore:
    def __init__(self) -> None:
        # keyed as StoredEvent types its originator_id (UUID | str); this engine's ids are UUIDs
        self.events: dict[UUID | str, list[StoredEvent]] = {}
        self.snapshots: dict[UUID | str, list[StoredEvent]] = {}
        self.log: list[Notification] = []
        self.requests: dict[str, LoggedRequest] = {}
        self.commits = 0

    # --- EventStore ------------------------------------------------------------------

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
        rows = [
            e
            for e in (self.snapshots if snapshots else self.events).get(originator_id, [])
            if (gt is None or e.originator_version > gt) and (lte is None or e.originator_version <= lte)
        ]
        rows.sort(key=lambda e: e.originator_version, reverse=desc)
        return rows[:limit] if limit is not None else rows

    async def latest_snapshot(self, originator_id: UUID, lte: int | None = None) -> StoredEvent | None:
        rows = await self.select_events(originator_id, lte=lte, desc=True, limit=1, snapshots=True)
        return rows[0] if rows else None

    def version(self, originator_id: UUID | str) -> int:
        return max((e.originator_version for e in self.events.get(originator_id, [])), default=0)

    async def commit(self, writes: Sequence[Write]) -> CommitOutcome:
        await asyncio.sleep(0)  # a real commit lets other tasks run
        expected: dict[UUID, int] = {}
        for w in writes:
            for i, v in w.expected.items():
                expected[i] = min(v, expected.get(i, v))
        stale = frozenset(i for i, v in expected.items() if self.version(i) > v)
        duplicates = frozenset(
            w.request.request_id for w in writes if w.request is not None and w.request.request_id in self.requests
        )
        if stale or duplicates:
            return CommitOutcome(False, stale, duplicates)
        for w in writes:
            for e in w.events:
                assert e.originator_version == self.version(e.originator_id) + 1, "a gap or a duplicate version"
                self.events.setdefault(e.originator_id, []).append(e)
                self.log.append(
                    Notification(
                        id=len(self.log) + 1,
                        originator_id=e.originator_id,
                        originator_version=e.originator_version,
                        topic=e.topic,
                        state=e.state,
                    )
                )
            for s in w.snapshots:
                self.snapshots.setdefault(s.originator_id, []).append(s)
            if w.request is not None:
                self.requests[w.request.request_id] = w.request
        self.commits += 1
        return CommitOutcome(True)

    # --- RequestLog --------------------------------------------------------------------

    async def logged(self, request_id: str) -> LoggedRequest | None:
        return self.requests.get(request_id)

    # --- Notifications -----------------------------------------------------------------

    async def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        first = 0 if start is None else (start if inclusive_of_start else start + 1)
        rows = [
            n
            for n in self.log
            if n.id >= first and (stop is None or n.id <= stop) and (not topics or n.topic in topics)
        ]
        return rows[:limit]

    async def max_notification_id(self) -> int | None:
        return len(self.log) or None

    async def subscribe(
        self,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        batch: int = 500,
        poll_interval: float = 5.0,
        progress: Callable[[int], None] | None = None,
    ) -> AsyncIterator[Notification]:
        position = gt
        while True:
            head = len(self.log)
            for n in await self.select_notifications(position, batch, head, topics, inclusive_of_start=False):
                position = n.id
                yield n
            if topics and head > (position or 0):
                position = head
                if progress is not None:
                    progress(head)
            await asyncio.sleep(0.001)
