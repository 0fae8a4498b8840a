"""Work that falls due with time: paid orders waiting for their return window to pass, and
unpaid orders waiting for their payment time to run out (``DuePayments``).

Each paid order is due at the ``settle_due_at`` its ``Order.Paid`` event fixed (the
programme in force at payment decided it). Orders paid before the event carried it
have ``due_at`` NULL and are first tried at ``paid_at``; their settlement answers
``NOT_YET_DUE`` with the derived due time, which the scheduler records here.

The scheduler (application/scheduler.py) picks due rows with ``FOR UPDATE SKIP
LOCKED``, so several server processes share the work without doing it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from domain.order import Order
from infrastructure.rebuild import StateLoader, Tagged


class _Placed(msgspec.Struct):
    """The fields of the states a bulk rebuild reads: an order's brand..."""

    brand: str


class _Paid(msgspec.Struct):
    """...and its payment's instant and settlement due time."""

    at: Tagged
    settle_due_at: Tagged | None = None  # absent (version 1) or null: derived when settled


class DueSettlements:
    name = "due_settlements"
    topics = (get_topic(Order.Placed), get_topic(Order.Paid))

    @staticmethod
    def batch_key(event: Any) -> Any:
        return event.originator_id  # one row per order

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS due_settlements (
                order_id uuid PRIMARY KEY, brand text NOT NULL, paid_at timestamptz,
                settled_at timestamptz, outcome text)"""
        )
        await conn.execute("ALTER TABLE due_settlements ADD COLUMN IF NOT EXISTS due_at timestamptz")
        await conn.execute("DROP INDEX IF EXISTS due_settlements_open")
        await conn.execute(
            "CREATE INDEX IF NOT EXISTS due_settlements_due ON due_settlements ((COALESCE(due_at, paid_at)))"
            " WHERE settled_at IS NULL"
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS due_settlements")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        if isinstance(event, Order.Placed):
            await conn.execute(
                "INSERT INTO due_settlements (order_id, brand) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                event.originator_id,
                event.brand,
            )
        else:
            await conn.execute(
                "UPDATE due_settlements SET paid_at = $2, due_at = $3 WHERE order_id = $1",
                event.originator_id,
                event.at,
                event.settle_due_at,
            )

    async def handle_bulk(self, conn: Any, rows: Sequence[Any], loads: StateLoader) -> None:
        """A rebuild batch: one INSERT of the orders placed in it, already carrying the payments that
        follow in the same batch, then one UPDATE for the payments of orders placed in earlier batches.

        The same rows as one-by-one: an order's Paid follows its Placed in the log, and an order is
        placed once (the event is its version 1), so no inserted order can already have a row.
        """
        placed_topic = self.topics[0]
        placed_fields, paid_fields = loads.fields(_Placed), loads.fields(_Paid)
        placed: dict[Any, list[Any]] = {}
        paid_before: dict[Any, tuple[datetime, datetime | None]] = {}
        for _, order_id, _, topic, state in rows:
            if topic == placed_topic:
                placed.setdefault(order_id, [placed_fields(state).brand, None, None])
                continue
            e = paid_fields(state)
            due = e.settle_due_at
            payment = (datetime.fromisoformat(e.at.data), datetime.fromisoformat(due.data) if due else None)
            row = placed.get(order_id)
            if row is None:
                paid_before[order_id] = payment
            else:
                row[1], row[2] = payment
        if placed:
            values = list(placed.values())
            await conn.execute(
                "INSERT INTO due_settlements (order_id, brand, paid_at, due_at)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[])"
                " ON CONFLICT DO NOTHING",
                list(placed),
                [v[0] for v in values],
                [v[1] for v in values],
                [v[2] for v in values],
            )
        if paid_before:
            await conn.execute(
                "UPDATE due_settlements d SET paid_at = u.at, due_at = u.due"
                " FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u(id, at, due)"
                " WHERE d.order_id = u.id",
                list(paid_before),
                [p[0] for p in paid_before.values()],
                [p[1] for p in paid_before.values()],
            )


async def claim_due(conn: Any, now: datetime, limit: int) -> list[UUID]:
    """Lock up to ``limit`` unsettled orders due by ``now`` (inside a transaction)."""
    rows = await conn.fetch(
        """SELECT order_id FROM due_settlements
           WHERE settled_at IS NULL AND COALESCE(due_at, paid_at) <= $1
           ORDER BY COALESCE(due_at, paid_at) LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [r["order_id"] for r in rows]


async def reschedule(conn: Any, order_id: UUID, due_at: datetime) -> None:
    """The order is not due yet (its due time was derived at settlement): try again then."""
    await conn.execute("UPDATE due_settlements SET due_at = $2 WHERE order_id = $1", order_id, due_at)


async def mark_settled(conn: Any, order_id: UUID, at: datetime, outcome: str) -> None:
    await conn.execute(
        "UPDATE due_settlements SET settled_at = $2, outcome = $3 WHERE order_id = $1", order_id, at, outcome
    )


async def members_with_expired_lots(pool: Any, now: datetime, limit: int) -> list[UUID]:
    """From the member points read model: members holding lots past their expiry, not yet swept."""
    rows = await pool.fetch(
        """SELECT DISTINCT member_id FROM points_lots
           WHERE points_remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2""",
        now,
        limit,
    )
    return [r["member_id"] for r in rows]


class DuePayments:
    """Orders placed with a payment time and neither paid nor cancelled yet (one row each, deleted when done)."""

    name = "due_payments"
    topics = (get_topic(Order.Placed), get_topic(Order.Paid), get_topic(Order.Cancelled))

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS due_payments (order_id uuid PRIMARY KEY, due_at timestamptz NOT NULL)"
        )
        await conn.execute("CREATE INDEX IF NOT EXISTS due_payments_due ON due_payments (due_at)")

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS due_payments")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        if isinstance(event, Order.Placed):
            due = getattr(event, "payment_due_at", None)
            if due is not None:
                await conn.execute(
                    "INSERT INTO due_payments VALUES ($1, $2) ON CONFLICT DO NOTHING", event.originator_id, due
                )
        else:
            await forget_payment(conn, event.originator_id)

    async def handle_many(self, conn: Any, events: list[Any], notification_ids: Sequence[int] = ()) -> None:
        """A batch at once, as ``handle`` would one by one (the runner prefers this): one DELETE and one INSERT
        per batch, not a statement per order holding stock (whose orders all have a payment time). Per order
        the end state is the same: deleted if paid or cancelled in the batch, inserted if placed after that."""
        rows: dict[UUID, list[Any]] = {}  # order id -> [deleted in the batch, due time of a later Placed]
        for event in events:
            row = rows.setdefault(event.originator_id, [False, None])
            if isinstance(event, Order.Placed):
                due = getattr(event, "payment_due_at", None)
                if due is not None and row[1] is None:  # ON CONFLICT DO NOTHING: the first insert stands
                    row[1] = due
            else:
                row[0], row[1] = True, None
        gone = [order_id for order_id, (deleted, _) in rows.items() if deleted]
        if gone:
            await conn.execute("DELETE FROM due_payments WHERE order_id = ANY($1::uuid[])", gone)
        due = [(order_id, at) for order_id, (_, at) in rows.items() if at is not None]
        if due:
            await conn.execute(
                "INSERT INTO due_payments SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) ON CONFLICT DO NOTHING",
                [order_id for order_id, _ in due],
                [at for _, at in due],
            )


async def claim_unpaid(conn: Any, now: datetime, limit: int) -> list[UUID]:
    """Lock up to ``limit`` orders whose payment time has run out (inside a transaction)."""
    rows = await conn.fetch(
        "SELECT order_id FROM due_payments WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [r["order_id"] for r in rows]


async def forget_payment(conn: Any, order_id: UUID) -> None:
    await conn.execute("DELETE FROM due_payments WHERE order_id = $1", order_id)
