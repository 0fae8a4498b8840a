"""Dealer attribution ledger: orders, revenue and refunds per dealer, store and local day.

The day is the store's own local day (``domain/calendar.py``), recorded on the
booking event by the store, the same calendar that counts its daily capacity.
Events recorded before the day was stored fall back to the brand calendar,
which is how they were bucketed then.

Fed by the cloud stores' booking events, which already name the dealer that
owned the store when it accepted the order, so a later transfer never moves
past revenue, and a refund lands on the same dealer as its order. A dealer is
one brand's: each row carries its store's brand (from the store's Opened event)
and every query names the brand as well as the dealer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from eventsourcing.utils import get_topic

from domain.calendar import BRAND_CALENDAR
from domain.cloud_store import CloudStore
from infrastructure.rebuild import StateLoader, Tagged

SHANGHAI = BRAND_CALENDAR.tzinfo  # kept for bench/bench_replay.py; days come from the events


class _Opened(msgspec.Struct):
    """The fields of the states a bulk rebuild reads: a store's brand (absent from version 1)..."""

    brand: str = ""


class _Booked(msgspec.Struct):
    """...and a booking's dealer, amount and day (the store's own, or the instant for the brand calendar)."""

    dealer_id: str
    amount_fen: int
    local_date: Tagged | None = None
    at: Tagged | None = None


class DealerLedger:
    name = "dealer_ledger"
    topics = (
        get_topic(CloudStore.Opened),
        get_topic(CloudStore.OrderAttributed),
        get_topic(CloudStore.RefundAttributed),
    )

    @staticmethod
    def batch_key(event: Any) -> Any:
        return event.originator_id  # the store: its brand row and its (dealer, day) rows

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS dealer_ledger (
                brand text NOT NULL, dealer_id text NOT NULL, store_id uuid NOT NULL, day date NOT NULL,
                orders bigint NOT NULL DEFAULT 0, revenue_fen bigint NOT NULL DEFAULT 0,
                refunds bigint NOT NULL DEFAULT 0, refunded_fen bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (brand, dealer_id, day, store_id));
            CREATE TABLE IF NOT EXISTS dealer_ledger_stores (store_id uuid PRIMARY KEY, brand text NOT NULL)"""
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS dealer_ledger; DROP TABLE IF EXISTS dealer_ledger_stores")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        if isinstance(event, CloudStore.Opened):
            await conn.execute(
                "INSERT INTO dealer_ledger_stores VALUES ($1, $2) ON CONFLICT DO NOTHING",
                event.originator_id,
                event.brand,
            )
            return
        day = getattr(event, "local_date", None) or BRAND_CALENDAR.day(event.at)
        paid = isinstance(event, CloudStore.OrderAttributed)
        await conn.execute(
            _UPSERT_ONE,
            event.dealer_id,
            event.originator_id,
            day,
            1 if paid else 0,
            event.amount_fen if paid else 0,
            0 if paid else 1,
            0 if paid else event.amount_fen,
        )

    async def handle_bulk(self, conn: Any, rows: Sequence[Any], loads: StateLoader) -> None:
        """The rows of a rebuild batch summed per (dealer, store, day) in memory, then one upsert.

        Stores opened in the batch are recorded first: a store's Opened precedes its bookings in the log.
        """
        opened_topic, paid_topic = self.topics[0], self.topics[1]
        opened_fields, booked_fields = loads.fields(_Opened), loads.fields(_Booked)
        sums: dict[tuple[str, Any, date], list[int]] = {}
        days: dict[str, date] = {}
        opened: dict[Any, str] = {}
        for _, store_id, _, topic, state in rows:
            if topic == opened_topic:
                opened.setdefault(store_id, opened_fields(state).brand)  # the first, as ON CONFLICT DO NOTHING
                continue
            e = booked_fields(state)
            if e.local_date is not None:  # the store's own day, as handle() reads it
                text = e.local_date.data
                day = days.get(text) or days.setdefault(text, date.fromisoformat(text))
            else:  # recorded before the store's day was: the brand calendar, one conversion per instant
                assert e.at is not None, "a booking without its instant"
                at = e.at.data
                day = days.get(at) or days.setdefault(at, BRAND_CALENDAR.day(datetime.fromisoformat(at)))
            key = (e.dealer_id, store_id, day)
            row = sums.get(key) or sums.setdefault(key, [0, 0, 0, 0])
            if topic == paid_topic:
                row[0] += 1
                row[1] += e.amount_fen
            else:
                row[2] += 1
                row[3] += e.amount_fen
        if opened:
            await conn.execute(
                "INSERT INTO dealer_ledger_stores SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING",
                list(opened),
                list(opened.values()),
            )
        if sums:
            keys, values = list(sums), list(sums.values())
            await conn.execute(
                _UPSERT_MANY,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                *([v[i] for v in values] for i in range(4)),
            )


# A row's brand is its store's ("" for a store opened before stores recorded theirs: no caller's).
_ON_CONFLICT = """ON CONFLICT (brand, dealer_id, day, store_id) DO UPDATE SET
    orders = l.orders + EXCLUDED.orders, revenue_fen = l.revenue_fen + EXCLUDED.revenue_fen,
    refunds = l.refunds + EXCLUDED.refunds, refunded_fen = l.refunded_fen + EXCLUDED.refunded_fen"""
_COLUMNS = "(brand, dealer_id, store_id, day, orders, revenue_fen, refunds, refunded_fen)"
_UPSERT_ONE = f"""INSERT INTO dealer_ledger AS l {_COLUMNS}
    VALUES (coalesce((SELECT brand FROM dealer_ledger_stores WHERE store_id = $2), ''), $1, $2, $3, $4, $5, $6, $7)
    {_ON_CONFLICT}"""
_UPSERT_MANY = f"""INSERT INTO dealer_ledger AS l {_COLUMNS}
    SELECT coalesce(s.brand, ''), u.* FROM unnest($1::text[], $2::uuid[], $3::date[], $4::bigint[], $5::bigint[],
                                                 $6::bigint[], $7::bigint[])
        AS u (dealer_id, store_id, day, orders, revenue_fen, refunds, refunded_fen)
    LEFT JOIN dealer_ledger_stores s ON s.store_id = u.store_id
    {_ON_CONFLICT}"""


async def store_days(pool: Any, brand: str, dealer_id: str, first: date, last: date):
    """Rows of one brand's dealer's ledger, by day then store, streamed in pages (constant memory)."""
    after: tuple[date, Any] | None = None
    while True:
        if after is None:
            rows = await pool.fetch(
                """SELECT * FROM dealer_ledger WHERE brand = $4 AND dealer_id = $1 AND day BETWEEN $2 AND $3
                   ORDER BY day, store_id LIMIT 500""",
                dealer_id,
                first,
                last,
                brand,
            )
        else:
            rows = await pool.fetch(
                """SELECT * FROM dealer_ledger WHERE brand = $6 AND dealer_id = $1 AND day BETWEEN $2 AND $3
                   AND (day, store_id) > ($4, $5) ORDER BY day, store_id LIMIT 500""",
                dealer_id,
                first,
                last,
                *after,
                brand,
            )
        for row in rows:
            yield row
        if len(rows) < 500:
            return
        after = (rows[-1]["day"], rows[-1]["store_id"])


async def ledger_as_of(pool: Any, brand: str, dealer_id: str, day: date) -> list[Any]:
    """One dealer's ledger as it stood at the end of local ``day``: totals per store, all days up to it.

    Each row: store_id, orders, revenue_fen, refunds, refunded_fen, net_fen. Refunds
    count on the day they were made, so a late refund does not change an earlier date.
    """
    return await pool.fetch(
        """SELECT store_id, sum(orders)::bigint AS orders, sum(revenue_fen)::bigint AS revenue_fen,
                  sum(refunds)::bigint AS refunds, sum(refunded_fen)::bigint AS refunded_fen,
                  (sum(revenue_fen) - sum(refunded_fen))::bigint AS net_fen
           FROM dealer_ledger WHERE brand = $3 AND dealer_id = $1 AND day <= $2 GROUP BY store_id
           ORDER BY store_id""",
        dealer_id,
        day,
        brand,
    )
