"""Settlement lines: every booking of a dealer's money, placed in the month it settles in.

Every line belongs to one brand (its store's, learnt from the store's Opened
event), and a dealer is one brand's: every query names both.

Fed, in global log order, by the cloud stores' Opened (their brand), OrderAttributed and
RefundAttributed (which name the dealer), the guides' SaleCredited and
CommissionClawedBack (which name only the order: the dealer comes from the
order's own line, which the same transaction wrote just before) and
SettlementPeriod.Closed. Where a line lands depends only on the events before
it in the log, so a rebuild from the history gives the same lines, and a
closed month's lines reproduce the totals its Closed event recorded.

A Closed event records the log position its totals were read at; lines of
that month recorded after that position (committed while the close was
being decided) are moved on to the next month as late lines.

The read model catches up on demand before each query (``SettlementReadModel``):
statements read what was committed before the call, and the server needs no
extra background task. A background runner of the same projection may run
too: runners of one projection take turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from domain.cloud_store import CloudStore
from domain.guide import Guide
from domain.settlement import LineKind, Month, SettlementLine, SettlementPeriod, landing_month, line_kind
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import ProjectionRunner

_ORDER_KINDS = [LineKind.ORDER.value, LineKind.LATE_ORDER.value]
_PAGE = 1000


class SettlementLines:
    name = "settlement_lines"
    topics = tuple(
        get_topic(t)
        for t in (
            CloudStore.Opened,
            CloudStore.OrderAttributed,
            CloudStore.RefundAttributed,
            Guide.SaleCredited,
            Guide.CommissionClawedBack,
            SettlementPeriod.Closed,
        )
    )

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS settlement_lines (
                notification_id bigint PRIMARY KEY,
                brand text,                   -- NULL (as dealer_id): a commission whose order line has not arrived
                dealer_id text,               -- NULL: a commission whose order line has not arrived
                period date,                  -- first day of the month it settles in
                order_id uuid NOT NULL, store_id uuid, guide_id uuid,
                kind text NOT NULL, amount_fen bigint NOT NULL,
                original_month date, at timestamptz NOT NULL);
            CREATE INDEX IF NOT EXISTS settlement_lines_period
                ON settlement_lines (brand, dealer_id, period, notification_id);
            CREATE INDEX IF NOT EXISTS settlement_lines_order ON settlement_lines (order_id);
            CREATE TABLE IF NOT EXISTS settlement_closes (
                brand text NOT NULL, dealer_id text NOT NULL, month date NOT NULL, through_position bigint NOT NULL,
                PRIMARY KEY (brand, dealer_id, month));
            CREATE TABLE IF NOT EXISTS settlement_stores (store_id uuid PRIMARY KEY, brand text NOT NULL)"""
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute(
            "DROP TABLE IF EXISTS settlement_lines; DROP TABLE IF EXISTS settlement_closes; "
            "DROP TABLE IF EXISTS settlement_stores"
        )

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        if isinstance(event, SettlementPeriod.Closed):
            await self._closed(conn, event)
        elif isinstance(event, CloudStore.Opened):
            await conn.execute(
                "INSERT INTO settlement_stores VALUES ($1, $2) ON CONFLICT DO NOTHING", event.originator_id, event.brand
            )
        elif isinstance(event, CloudStore.OrderAttributed):
            await self._order(conn, event, notification_id)
        elif isinstance(event, CloudStore.RefundAttributed):
            await self._refund(conn, event, notification_id)
        elif isinstance(event, (Guide.SaleCredited, Guide.CommissionClawedBack)):
            await self._commission(conn, event, notification_id)

    async def _insert(
        self,
        conn: Any,
        n: int,
        brand: str | None,
        dealer: str | None,
        period: Month | None,
        order_id: UUID,
        store_id: UUID | None,
        guide_id: UUID | None,
        kind: LineKind,
        amount: int,
        original: Month | None,
        at: Any,
    ) -> None:
        await conn.execute(
            "INSERT INTO settlement_lines VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            n,
            brand,
            dealer,
            period.first_day if period else None,
            order_id,
            store_id,
            guide_id,
            kind.value,
            amount,
            original.first_day if original else None,
            at,
        )

    async def _order(self, conn: Any, e: Any, n: int) -> None:
        brand = await _store_brand(conn, e.originator_id)
        period = landing_month(e.at, await last_closed(conn, brand, e.dealer_id))
        kind = LineKind.ORDER if period == Month.of(e.at) else LineKind.LATE_ORDER
        await self._insert(
            conn, n, brand, e.dealer_id, period, e.order_id, e.originator_id, None, kind, e.amount_fen, period, e.at
        )
        # Commission recorded before its order's line (not the order of today's commands) follows it.
        await conn.execute(
            """UPDATE settlement_lines SET dealer_id = $2, store_id = $3, period = $4, original_month = $4, brand = $5
               WHERE order_id = $1 AND dealer_id IS NULL""",
            e.order_id,
            e.dealer_id,
            e.originator_id,
            period.first_day,
            brand,
        )

    async def _refund(self, conn: Any, e: Any, n: int) -> None:
        brand = await _store_brand(conn, e.originator_id)
        last = await last_closed(conn, brand, e.dealer_id)
        original = await _order_month(conn, e.order_id) or Month.of(e.at)
        kind = line_kind(LineKind.REFUND, e.at, original, last)
        await self._insert(
            conn,
            n,
            brand,
            e.dealer_id,
            landing_month(e.at, last),
            e.order_id,
            e.originator_id,
            None,
            kind,
            e.amount_fen,
            original,
            e.at,
        )

    async def _commission(self, conn: Any, e: Any, n: int) -> None:
        if not e.commission_fen:
            return
        try:
            order_id = UUID(e.order_id)
        except ValueError:
            return  # a sale that is not one of our orders belongs to no dealer's statement
        kind = LineKind.COMMISSION if isinstance(e, Guide.SaleCredited) else LineKind.COMMISSION_CLAWBACK
        row = await conn.fetchrow(
            "SELECT brand, dealer_id, store_id, period FROM settlement_lines WHERE order_id = $1 AND kind = ANY($2)",
            order_id,
            _ORDER_KINDS,
        )
        if row is None:
            await self._insert(
                conn, n, None, None, None, order_id, None, e.originator_id, kind, e.commission_fen, None, e.at
            )
            return
        period = landing_month(e.at, await last_closed(conn, row["brand"], row["dealer_id"]))
        await self._insert(
            conn,
            n,
            row["brand"],
            row["dealer_id"],
            period,
            order_id,
            row["store_id"],
            e.originator_id,
            kind,
            e.commission_fen,
            Month.of_day(row["period"]),
            e.at,
        )

    async def _closed(self, conn: Any, e: Any) -> None:
        month = Month.parse(e.month)
        await conn.execute(
            "INSERT INTO settlement_closes VALUES ($1, $2, $3, $4)",
            e.brand,
            e.dealer_id,
            month.first_day,
            e.through_position,
        )
        # Lines the close did not see move on, as late lines; closing in order keeps the next month open.
        await conn.execute(
            """UPDATE settlement_lines SET period = $3,
                 kind = CASE kind WHEN 'ORDER' THEN 'LATE_ORDER' WHEN 'REFUND' THEN 'LATE_REFUND' ELSE kind END
               WHERE dealer_id = $1 AND period = $2 AND notification_id > $4 AND brand = $5""",
            e.dealer_id,
            month.first_day,
            month.next().first_day,
            e.through_position,
            e.brand,
        )


async def last_closed(conn: Any, brand: str, dealer_id: str) -> Month | None:
    day = await conn.fetchval(
        "SELECT max(month) FROM settlement_closes WHERE brand = $1 AND dealer_id = $2", brand, dealer_id
    )
    return Month.of_day(day) if day else None


async def _store_brand(conn: Any, store_id: UUID) -> str:
    """The store's brand ("" for a store opened before stores recorded theirs: no caller's)."""
    return await conn.fetchval("SELECT brand FROM settlement_stores WHERE store_id = $1", store_id) or ""


async def _order_month(conn: Any, order_id: UUID) -> Month | None:
    day = await conn.fetchval(
        "SELECT period FROM settlement_lines WHERE order_id = $1 AND kind = ANY($2)", order_id, _ORDER_KINDS
    )
    return Month.of_day(day) if day else None


def _line(row: Any) -> SettlementLine:
    return SettlementLine(
        order_id=row["order_id"],
        store_id=row["store_id"],
        guide_id=row["guide_id"],
        kind=LineKind(row["kind"]),
        amount_fen=row["amount_fen"],
        original_month=Month.of_day(row["original_month"]),
        at=row["at"],
    )


class SettlementReadModel:
    """Queries over the settlement lines, each after catching the projection up."""

    def __init__(self, store: EventStore, mapper: Mapper) -> None:
        self.store = store
        self.projection = SettlementLines()
        self.runner = ProjectionRunner(store, [self.projection], mapper)
        self._lock = asyncio.Lock()

    async def catch_up(self) -> int:
        """Apply everything committed so far; the position reached (0: nothing yet)."""
        async with self._lock:
            await self.runner.catch_up()
        return await self.runner.position(self.projection) or 0

    async def last_closed(self, brand: str, dealer_id: str) -> Month | None:
        async with self.store.pool.acquire() as conn:
            return await last_closed(conn, brand, dealer_id)

    async def open_month_before(self, brand: str, dealer_id: str, month: Month) -> Month | None:
        """The earliest month before ``month`` that holds lines and is not closed."""
        day = await self.store.pool.fetchval(
            """SELECT min(period) FROM settlement_lines l WHERE brand = $3 AND dealer_id = $1 AND period < $2
               AND NOT EXISTS (SELECT 1 FROM settlement_closes c WHERE c.brand = l.brand
                               AND c.dealer_id = l.dealer_id AND c.month = l.period)""",
            dealer_id,
            month.first_day,
            brand,
        )
        return Month.of_day(day) if day else None

    async def lines(
        self,
        brand: str,
        dealer_id: str,
        month: Month,
        *,
        through: int,
        after: int = 0,
        limit: int | None = None,
    ) -> AsyncIterator[tuple[int, SettlementLine]]:
        """(position, line) of the month up to log position ``through``, in log order, paged."""
        left = limit
        while left is None or left > 0:
            page = _PAGE if left is None else min(_PAGE, left)
            rows = await self.store.pool.fetch(
                """SELECT * FROM settlement_lines WHERE brand = $6 AND dealer_id = $1 AND period = $2
                   AND notification_id > $3 AND notification_id <= $4 ORDER BY notification_id LIMIT $5""",
                dealer_id,
                month.first_day,
                after,
                through,
                page,
                brand,
            )
            for row in rows:
                yield row["notification_id"], _line(row)
            if len(rows) < page:
                return
            after = rows[-1]["notification_id"]
            if left is not None:
                left -= len(rows)


def projections(store: EventStore) -> list[SettlementLines]:
    """For ``python -m infrastructure.rebuild`` and the projection worker."""
    return [SettlementLines()]
