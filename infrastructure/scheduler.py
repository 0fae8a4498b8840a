"""Work that falls due with time, done by the server itself.

- Paid orders past the return window fixed when they were paid (``settle_due_at``) are
  settled: the guide's commission is released and an invitee's first order releases the
  referrer's reward. A refusal for "not yet due" never closes the work: it is tried again
  at the due time the refusal names.
- Unpaid orders past their payment time (the programme's ``payment_timeout_minutes``, fixed on
  the order when placed) are cancelled, releasing the store's daily capacity.
- Points lots past their expiry are swept into ``PointsExpired`` events (balances
  already ignore them; the events put the expiry on the ledger).

Every server process runs it; claimed rows are locked with ``FOR UPDATE SKIP LOCKED``
and both jobs are idempotent, so processes share the work and a crash only delays it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from application.background import stop_task
from application.clock import Clock
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.unit_of_work import Conflict
from domain.errors import DomainError
from infrastructure.event_store import EventStore
from infrastructure.projections.due_work import (
    claim_due,
    claim_unpaid,
    forget_payment,
    mark_settled,
    members_with_expired_lots,
    reschedule,
)

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        store: EventStore,
        orders: OrderService,
        members: MemberService,
        programmes: ProgrammeCatalog,
        clock: Clock,
        *,
        interval: float = 60.0,
        batch: int = 200,
    ) -> None:
        self.store = store
        self.orders = orders
        self.members = members
        self.programmes = programmes
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task | None = None

    async def run_once(self) -> tuple[int, int]:
        """Cancel orders unpaid past their time, settle what is due and sweep expired points;
        returns (orders settled, members swept)."""
        cancelled = await self.cancel_unpaid()
        if cancelled:
            log.info("unpaid orders cancelled", extra={"orders_cancelled": cancelled})
        return await self._settle_due(), await self._sweep_expired()

    async def cancel_unpaid(self) -> int:
        """Cancel the orders whose payment time ran out (releasing capacity); returns how many."""
        cancelled = 0
        async with self.store.pool.acquire() as conn, conn.transaction():
            for order_id in await claim_unpaid(conn, self.clock.now(), self.batch):
                try:
                    await self.orders.cancel_unpaid(order_id)
                    cancelled += 1
                except Conflict:
                    continue  # busy aggregates: the next round takes it
                except DomainError as e:
                    if e.reason == "PAYMENT_NOT_YET_DUE":
                        continue
                    log.info("unpaid order %s not cancelled: %s", order_id, e.reason)  # paid or cancelled meanwhile
                await forget_payment(conn, order_id)
        return cancelled

    async def _settle_due(self) -> int:
        settled = 0
        now = self.clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            for order_id in await claim_due(conn, now, self.batch):
                try:
                    await self.orders.settle(order_id)
                    outcome = "SETTLED"
                except Conflict:
                    continue  # busy aggregates: the next round takes it
                except DomainError as e:
                    if e.reason.endswith("NOT_YET_DUE") and "due_at" in e.details:
                        await reschedule(conn, order_id, datetime.fromisoformat(e.details["due_at"]))
                        continue
                    outcome = e.reason
                await mark_settled(conn, order_id, now, outcome)
                settled += 1
        return settled

    async def _sweep_expired(self) -> int:
        swept = 0
        for member_id in await members_with_expired_lots(self.store.pool, self.clock.now(), self.batch):
            try:
                await self.members.expire_points(member_id)
                swept += 1
            except (Conflict, DomainError) as e:
                log.info("points expiry of %s deferred: %s", member_id, getattr(e, "reason", e))
        return swept

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        while True:
            try:
                settled, swept = await self.run_once()
                if settled or swept:
                    log.info("scheduled work done", extra={"orders_settled": settled, "members_swept": swept})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled work failed; retrying next round")
            await asyncio.sleep(self.interval)
