"""Group commit: the commands that are ready together are written in one transaction.

The events-table lock that keeps the notification log gap-free serialises every
writer for the length of its transaction; one transaction per command caps a
process at (lock hold + round trips)⁻¹ commands a second. Here each finished
command hands its writes over as a :class:`Ticket`; one committer task takes
every ticket queued so far and writes them with one call of the store's
``commit`` (one round trip, one lock). Tickets queued while that call runs form
the next batch, so batches grow with the load and cost nothing when it is light.
Before it takes a batch the committer lets the event loop run up to
``gather_turns`` turns, until ``gather_tickets`` tickets are queued: commands a
step from submitting (their last read answered, their events being mapped) join
it. Under load a turn runs many callers' steps and the batch grows (a commit's
cost is mostly per call, on both sides); when the loop is idle a turn is
microseconds. Counting tickets, not only turns, keeps a batch's size when the
process's load is shared by several brands (a committer each): each brand's
tickets arrive at a fraction of the rate, so a fixed number of turns would carry
a fraction of the orders per commit and the process would pay more commits per
order.

Each command keeps its own outcome. The store checks every write's expected
versions and request id under the lock; if any is stale or already logged it
writes nothing and says which, and the committer answers those commands alone
(retry, or the stored response) and commits the rest again at once. A command
that built on another's uncommitted state (a hot aggregate's next order)
depends on it and fails with it. Other errors (a connection lost mid-commit:
outcome unknown) go to that batch's commands as they are, never retried here.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from application.ports import CommitOutcome, EventStore, Write

if TYPE_CHECKING:
    from application.repository import Repository

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    COMMITTED = "committed"
    RETRY = "retry"  # stale state, a failed dependency, a lock timeout: nothing written, run again
    DUPLICATE = "duplicate"  # the request id was already logged: answer with the stored response


class Ticket:
    """One finished command's writes, waiting for the group commit."""

    __slots__ = ("abandoned", "changes", "deps", "failed", "future", "on_fail", "reads", "taken", "touched", "write")

    def __init__(
        self,
        write: Write,
        changes: list[tuple[Aggregate, list[StoredEvent], StoredEvent | None]],
        touched: Sequence[UUID],
        deps: set[Ticket],
    ) -> None:
        self.write = write
        self.changes = changes
        self.touched = list(touched)
        self.deps = deps
        self.future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self.taken = False  # in a batch being written: can no longer be withdrawn
        self.failed = False
        self.abandoned = False  # its caller gave up while it was being written
        self.reads: list[UUID] = []  # aggregates read from memory, checked at commit, not changed
        # run when the ticket fails: whatever was read from memory is read again
        self.on_fail: list[Callable[[], None]] = []

    @property
    def done(self) -> bool:
        return self.future.done()

    async def wait(self) -> None:
        """Until this ticket is committed or failed (whatever its owner does meanwhile)."""
        if not self.future.done():
            await asyncio.wait([self.future])


class GroupCommitter:
    def __init__(
        self,
        store: EventStore,
        repository: Repository,
        *,
        max_batch: int = 256,
        gather_turns: int = 48,
        gather_tickets: int = 12,
    ) -> None:
        self.store = store
        self.repository = repository
        self.max_batch = max_batch
        self.gather_turns = gather_turns
        self.gather_tickets = min(gather_tickets, max_batch)
        self._queue: deque[Ticket] = deque()
        self._task: asyncio.Task[None] | None = None
        self._batch: list[Ticket] = []
        self._commit: asyncio.Task[CommitOutcome] | None = None
        self.batches = 0  # batches written (for tests and metrics)

    def submit(self, ticket: Ticket) -> None:
        if any(d.failed for d in ticket.deps):
            self._fail(ticket, Verdict.RETRY)
            return
        self._queue.append(ticket)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="group-commit")

    def withdraw(self, ticket: Ticket) -> bool:
        """Drop a ticket whose caller gave up (its dependants retry); False if it may still commit.

        A ticket being written is dropped only with its whole batch, when every caller in
        it gave up: the commit is cancelled then (if the cancellation lands after the
        COMMIT, the writes stand, as for any call cancelled at that moment).
        """
        if ticket.done:
            return False
        if not ticket.taken:
            self._fail(ticket, Verdict.RETRY)
            return True
        ticket.abandoned = True
        if self._commit is not None and self._batch and all(t.abandoned for t in self._batch):
            self._commit.cancel()
        return False

    async def _drain(self) -> None:
        while self._queue:
            for _ in range(self.gather_turns):
                if len(self._queue) >= self.gather_tickets:
                    break
                await asyncio.sleep(0)  # one turn of the loop: the commands it runs may submit
            batch: list[Ticket] = []
            while self._queue and len(batch) < self.max_batch:
                ticket = self._queue.popleft()
                if ticket.done:
                    continue  # withdrawn
                if any(d.failed for d in ticket.deps):
                    self._fail(ticket, Verdict.RETRY)
                    continue
                ticket.taken = True
                batch.append(ticket)
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[Ticket]) -> None:
        self._batch = batch
        self._commit = commit = asyncio.get_running_loop().create_task(self.store.commit([t.write for t in batch]))
        try:
            outcome = await commit
        except asyncio.CancelledError:
            for t in batch:  # every caller gave up: nothing (or, at worst, all of it) was written
                self._fail(t, Verdict.RETRY)
            current = asyncio.current_task()
            if commit.cancelled() and current is not None and not current.cancelling():
                return
            raise
        except (IntegrityError, OperationalError) as e:  # nothing written: every command runs again
            log.debug("group commit of %d commands refused: %s", len(batch), e)
            for t in batch:
                self._fail(t, Verdict.RETRY)
            return
        except Exception as e:  # outcome unknown: each caller gets the error, nothing is retried here
            for t in batch:
                self._fail(t, e)
            return
        finally:
            self._batch, self._commit = [], None
        self.batches += 1
        if outcome.committed:
            for t in batch:
                self._committed(t)
            return
        again: list[Ticket] = []
        for t in batch:  # in queue order: a dependency is decided before its dependants
            if t.write.request is not None and t.write.request.request_id in outcome.duplicates:
                self._fail(t, Verdict.DUPLICATE)
            elif any(d.failed for d in t.deps) or not outcome.stale.isdisjoint(t.write.expected):
                self._fail(t, Verdict.RETRY)
            else:
                t.taken = False
                again.append(t)
        self._queue.extendleft(reversed(again))  # the rest commit next, ahead of newer tickets

    def _committed(self, ticket: Ticket) -> None:
        for aggregate, events, snapshot in ticket.changes:
            self.repository.committed(aggregate, events, snapshot)
        self.repository.settle(ticket)
        ticket.future.set_result(Verdict.COMMITTED)
        ticket.deps = set()  # decided: a hot aggregate's tickets must not keep a chain of every earlier one alive
        ticket.changes = []

    def _fail(self, ticket: Ticket, why: Verdict | BaseException) -> None:
        ticket.failed = True
        self.repository.drop(ticket)  # its in-place changes were never stored
        for callback in ticket.on_fail:
            callback()
        ticket.deps, ticket.changes, ticket.on_fail = set(), [], []
        if isinstance(why, Verdict):
            ticket.future.set_result(why)
        else:
            ticket.future.set_exception(why)
