"""Work that falls due with time, done by the server itself.

- Paid orders past the return window fixed when they were paid (``settle_due_at``) are
  settled: the guide's commission is released and an invitee's first order releases the
  referrer's reward. A refusal for "not yet due" never closes the work: it is tried again
  at the due time the refusal names.
- Unpaid orders past their payment time (the programme's ``payment_timeout_minutes``, fixed on
  the order when placed) are cancelled, releasing the store's daily capacity.
- Points lots past their expiry are swept into ``PointsExpired`` events (balances
  already ignore them; the events put the expiry on the ledger).
- Stock held for an order past its time and still not released (a safety net behind the
  payment timeout, which releases it with the cancellation) is released (``sweep_stock``), and
  drop offers unclaimed past their purchase window lapse, their units offered to the next
  members in draw order (``pass_on_offers``). Both find their work in read models
  (``stock_holds``, ``drop_offers``) and do it as commands on the aggregates, which decide:
  a second process sweeping the same aggregate has its write refused at commit by the version
  check, runs again on the fresh state and finds nothing left to do.
- Request-log rows older than the configured retention (``REQUEST_LOG_RETENTION_DAYS``) are
  purged, at most once an hour per process and one process at a time per brand: their stored
  responses hold personal data (infrastructure.privacy.purge_request_log).

Every server process runs it; claimed rows are locked with ``FOR UPDATE SKIP LOCKED``
and both jobs are idempotent, so processes share the work and a crash only delays it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from application.background import stop_task
from application.clock import Clock
from application.drops import DropService
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.stock import StockService
from application.unit_of_work import Conflict
from domain.errors import DomainError
from infrastructure.event_store import EventStore
from infrastructure.privacy import purge_request_log
from infrastructure.projections.due_work import (
    claim_due,
    claim_unpaid,
    forget_payment,
    mark_settled,
    members_with_expired_lots,
    reschedule,
)
from infrastructure.projections.stock_levels import drops_with_lapsed_offers, stocks_with_expired_holds

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
"""The request-log retention is counted in days: one purge an hour per process is plenty."""


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
        stock: StockService | None = None,
        drops: DropService | None = None,
        request_log_retention_days: int = 0,
    ) -> None:
        self.store = store
        self.orders = orders
        self.members = members
        self.programmes = programmes
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self.stock = stock
        self.drops = drops
        self.request_log_retention_days = request_log_retention_days
        """0: the request log is kept for ever (or purged by ``python -m infrastructure.privacy purge-request-log``)."""
        self._purged_at: float | None = None  # monotonic time of this process's last purge
        self._task: asyncio.Task | None = None

    async def run_once(self) -> tuple[int, int]:
        """Cancel orders unpaid past their time, settle what is due and sweep expired points;
        returns (orders settled, members swept)."""
        cancelled = await self.cancel_unpaid()
        if cancelled:
            log.info("unpaid orders cancelled", extra={"orders_cancelled": cancelled})
        released = await self.sweep_stock()
        passed = await self.pass_on_offers()
        if released or passed:
            log.info("stock and drops swept", extra={"holds_released": released, "drops_passed_on": passed})
        done = await self._settle_due(), await self._sweep_expired()
        purged = await self.purge_request_log()
        if purged:
            log.info("request log purged", extra={"request_log_rows_purged": purged})
        return done

    async def purge_request_log(self, *, force: bool = False) -> int:
        """Deletes the brand's request-log rows older than the retention, at most once per ``PURGE_EVERY_S``
        in this process (``force``: now); returns how many went (0 also when another process was purging)."""
        if not self.request_log_retention_days:
            return 0
        now = time.monotonic()
        if not force and self._purged_at is not None and now - self._purged_at < PURGE_EVERY_S:
            return 0
        self._purged_at = now
        return await purge_request_log(self.store.pool, self.store.names, self.request_log_retention_days) or 0

    async def sweep_stock(self) -> int:
        """Release stock holds past their time (unpaid orders the payment timeout has not cancelled yet);
        returns how many holds were released here."""
        if self.stock is None:
            return 0
        released = 0
        for sid in await stocks_with_expired_holds(self.store.pool, self.clock.now(), self.batch):
            try:
                released += await self.stock.sweep_expired_stock(sid)
            except (Conflict, DomainError) as e:
                log.info("expired holds on stock %s not released: %s", sid, getattr(e, "reason", e))
        return released

    async def pass_on_offers(self) -> int:
        """Lapse drop offers unclaimed past their purchase window and offer their units to the next members in
        draw order; returns how many drops passed offers on here."""
        if self.drops is None:
            return 0
        passed = 0
        for drop_id in await drops_with_lapsed_offers(self.store.pool, self.clock.now(), self.batch):
            try:
                if await self.drops.pass_on_lapsed(drop_id):
                    passed += 1
            except (Conflict, DomainError) as e:
                log.info("lapsed offers of drop %s not passed on: %s", drop_id, getattr(e, "reason", e))
        return passed

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
