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
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from domain.cloud_store import CloudStore
from domain.guide import Guide
from domain.settlement import LineKind, Month, SettlementLine, SettlementPeriod, landing_month, line_kind
from infrastructure.event_store import EventStore
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.statement_batch import StatementBatch

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

    def __init__(self) -> None:
        self._brands: dict[UUID, str] = {}  # stores' brands, learnt as the batches go (they never change)

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
        await self._apply(conn, event, notification_id, _Reads(conn))

    async def handle_many(self, conn: Any, events: Sequence[Any], notification_ids: Sequence[int]) -> None:
        """A batch as ``handle`` would apply it one by one, its writes sent a few statements at a time
        (``infrastructure/statement_batch.py``): every line is one order's, keyed by the order, and each store's
        brand row by the store. What placing a line reads comes from ``_BatchReads`` (the lines and brands the
        batch itself wrote are not sent yet). A close moves other orders' lines: what was recorded before it is
        sent first, and the close is applied as it comes."""
        statements = StatementBatch()
        reads = _BatchReads(conn, self._brands)
        await reads.prefetch(events)
        for event, n in zip(events, notification_ids, strict=True):
            if isinstance(event, SettlementPeriod.Closed):
                await statements.flush(conn)
                await self._closed(conn, event)
                reads.closed.clear()  # its month, and the lines it moved on
                reads.lines.clear()
                continue
            key: UUID | None
            if isinstance(event, CloudStore.Opened):
                key = event.originator_id
            elif isinstance(event, (Guide.SaleCredited, Guide.CommissionClawedBack)):
                key = _our_order(event.order_id)
            else:
                key = event.order_id
            await self._apply(statements.writer(key), event, n, reads)
        await statements.flush(conn)

    async def _apply(self, conn: Any, event: Any, notification_id: int, reads: _Reads) -> None:
        if isinstance(event, SettlementPeriod.Closed):
            await self._closed(conn, event)
        elif isinstance(event, CloudStore.Opened):
            reads.opened(event.originator_id, event.brand)
            await conn.execute(
                "INSERT INTO settlement_stores VALUES ($1, $2) ON CONFLICT DO NOTHING", event.originator_id, event.brand
            )
        elif isinstance(event, CloudStore.OrderAttributed):
            await self._order(conn, event, notification_id, reads)
        elif isinstance(event, CloudStore.RefundAttributed):
            await self._refund(conn, event, notification_id, reads)
        elif isinstance(event, (Guide.SaleCredited, Guide.CommissionClawedBack)):
            await self._commission(conn, event, notification_id, reads)

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

    async def _order(self, conn: Any, e: Any, n: int, reads: _Reads) -> None:
        brand = await reads.store_brand(e.originator_id)
        period = landing_month(e.at, await reads.last_closed(brand, e.dealer_id))
        kind = LineKind.ORDER if period == Month.of(e.at) else LineKind.LATE_ORDER
        await self._insert(
            conn, n, brand, e.dealer_id, period, e.order_id, e.originator_id, None, kind, e.amount_fen, period, e.at
        )
        reads.order_line(e.order_id, (brand, e.dealer_id, e.originator_id, period.first_day))
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

    async def _refund(self, conn: Any, e: Any, n: int, reads: _Reads) -> None:
        brand = await reads.store_brand(e.originator_id)
        last = await reads.last_closed(brand, e.dealer_id)
        line = await reads.line_of(e.order_id)
        original = Month.of_day(line[3]) if line and line[3] else Month.of(e.at)
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

    async def _commission(self, conn: Any, e: Any, n: int, reads: _Reads) -> None:
        if not e.commission_fen:
            return
        order_id = _our_order(e.order_id)
        if order_id is None:
            return  # a sale that is not one of our orders belongs to no dealer's statement
        kind = LineKind.COMMISSION if isinstance(e, Guide.SaleCredited) else LineKind.COMMISSION_CLAWBACK
        line = await reads.line_of(order_id)
        if line is None:
            await self._insert(
                conn, n, None, None, None, order_id, None, e.originator_id, kind, e.commission_fen, None, e.at
            )
            return
        brand, dealer_id, store_id, period_day = line
        period = landing_month(e.at, await reads.last_closed(brand, dealer_id))
        await self._insert(
            conn,
            n,
            brand,
            dealer_id,
            period,
            order_id,
            store_id,
            e.originator_id,
            kind,
            e.commission_fen,
            Month.of_day(period_day),
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


def _our_order(order_id: str) -> UUID | None:
    """A guide's sale names its order as text: ours are uuids."""
    try:
        return UUID(order_id)
    except ValueError:
        return None


OrderLine = tuple[str, str, UUID, date]  # an order's own line: brand, dealer, store, period


class _Reads:
    """What placing a line reads: a store's brand ("" for a store opened before stores recorded theirs: no
    caller's), a dealer's last closed month, an order's own line (ORDER or LATE_ORDER)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def store_brand(self, store_id: UUID) -> str:
        return await self.conn.fetchval("SELECT brand FROM settlement_stores WHERE store_id = $1", store_id) or ""

    async def last_closed(self, brand: str, dealer_id: str) -> Month | None:
        return await last_closed(self.conn, brand, dealer_id)

    async def line_of(self, order_id: UUID) -> OrderLine | None:
        row = await self.conn.fetchrow(
            "SELECT brand, dealer_id, store_id, period FROM settlement_lines WHERE order_id = $1 AND kind = ANY($2)",
            order_id,
            _ORDER_KINDS,
        )
        return None if row is None else (row["brand"], row["dealer_id"], row["store_id"], row["period"])

    def opened(self, store_id: UUID, brand: str) -> None:
        """A store's brand row was written."""

    def order_line(self, order_id: UUID, line: OrderLine) -> None:
        """An order's own line was written."""


class _BatchReads(_Reads):
    """The same reads while the batch's writes are recorded, not yet sent: a line or a store's brand the batch
    wrote comes from memory; the rest from the table, which nothing recorded can change meanwhile (brands are
    written once, closes are sent as they come, and the only recorded update is of commission lines). Brands
    are kept across batches (they never change), last closed months for the batch."""

    def __init__(self, conn: Any, brands: dict[UUID, str]) -> None:
        super().__init__(conn)
        self.brands = brands
        self.closed: dict[tuple[str, str], Month | None] = {}
        self.lines: dict[UUID, OrderLine] = {}

    async def prefetch(self, events: Sequence[Any]) -> None:
        """What the batch's bookings will read, in two statements instead of one or two each: the brands of
        stores not seen yet, and each (brand, dealer)'s last closed month (valid until a close in the batch)."""
        bookings = [e for e in events if isinstance(e, (CloudStore.OrderAttributed, CloudStore.RefundAttributed))]
        unseen = list({e.originator_id for e in bookings} - self.brands.keys())
        if unseen:
            rows = await self.conn.fetch(
                "SELECT store_id, brand FROM settlement_stores WHERE store_id = ANY($1::uuid[])", unseen
            )
            self.brands.update((r["store_id"], r["brand"]) for r in rows if r["brand"])
        opened = {e.originator_id: e.brand for e in events if isinstance(e, CloudStore.Opened)}
        pairs = {
            (brand, e.dealer_id)
            for e in bookings
            if (brand := self.brands.get(e.originator_id) or opened.get(e.originator_id))
        }
        if pairs:
            rows = await self.conn.fetch(
                """SELECT p.brand, p.dealer_id, max(c.month) AS month
                   FROM unnest($1::text[], $2::text[]) AS p(brand, dealer_id)
                   LEFT JOIN settlement_closes c ON c.brand = p.brand AND c.dealer_id = p.dealer_id
                   GROUP BY p.brand, p.dealer_id""",
                [b for b, _ in pairs],
                [d for _, d in pairs],
            )
            self.closed.update(
                ((r["brand"], r["dealer_id"]), Month.of_day(r["month"]) if r["month"] else None) for r in rows
            )

    async def store_brand(self, store_id: UUID) -> str:
        brand = self.brands.get(store_id)
        if brand is None:
            brand = await super().store_brand(store_id)
            if brand:  # not "": its Opened may come later in a log written before stores recorded theirs
                self.brands[store_id] = brand
        return brand

    async def last_closed(self, brand: str, dealer_id: str) -> Month | None:
        key = (brand, dealer_id)
        if key not in self.closed:
            self.closed[key] = await super().last_closed(brand, dealer_id)
        return self.closed[key]

    async def line_of(self, order_id: UUID) -> OrderLine | None:
        return self.lines.get(order_id) or await super().line_of(order_id)

    def opened(self, store_id: UUID, brand: str) -> None:
        self.brands.setdefault(store_id, brand)  # ON CONFLICT DO NOTHING: the first stands

    def order_line(self, order_id: UUID, line: OrderLine) -> None:
        self.lines.setdefault(order_id, line)


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
