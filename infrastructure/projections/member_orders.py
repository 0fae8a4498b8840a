"""Member orders: which orders each member placed, newest first ("my orders" in the mini-program).

One row per Order.Placed (order id, brand, member, placed time); OrderService.ListOrders pages through a
member's rows newest first by (placed_at, order_id) and loads each order for its current state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.order import Order


class MemberOrders:
    name = "member_orders"
    topics = (get_topic(Order.Placed),)

    @staticmethod
    def batch_key(event: Any) -> Any:
        return event.originator_id  # one row per order

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS member_orders (
                order_id uuid PRIMARY KEY, brand text NOT NULL, member_id uuid NOT NULL,
                placed_at timestamptz NOT NULL);
               CREATE INDEX IF NOT EXISTS member_orders_newest
                 ON member_orders (member_id, placed_at DESC, order_id DESC)"""
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS member_orders")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        await conn.execute(
            "INSERT INTO member_orders VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            event.originator_id,
            event.brand,
            event.member_id,
            event.at,
        )


async def member_orders(
    pool: Any, brand: str, member_id: UUID, *, before: tuple[datetime, UUID] | None, limit: int
) -> list[Any]:
    """Up to ``limit`` rows (order_id, placed_at) of the member's orders, newest first, older than ``before``."""
    if before is None:
        return await pool.fetch(
            """SELECT order_id, placed_at FROM member_orders WHERE member_id = $1 AND brand = $2
               ORDER BY placed_at DESC, order_id DESC LIMIT $3""",
            member_id,
            brand,
            limit,
        )
    return await pool.fetch(
        """SELECT order_id, placed_at FROM member_orders WHERE member_id = $1 AND brand = $2
             AND (placed_at, order_id) < ($3, $4) ORDER BY placed_at DESC, order_id DESC LIMIT $5""",
        member_id,
        brand,
        before[0],
        before[1],
        limit,
    )


async def every_order_of(store: Any, mapper: Any, brand: str, member_ids: Sequence[UUID]) -> list[UUID]:
    """Every order the members placed, in any status, oldest first, however far this read model lags.

    The read model's position is read first, then its rows (everything up to that position at least), then the
    ``Order.Placed`` events after the position straight from the log: an order placed a moment ago, not projected
    yet, is still found (a data export must be complete, PIPL Art. 45).
    """
    wanted = set(member_ids)
    position = await store.max_tracking_id(MemberOrders.name)
    rows = await store.pool.fetch(
        """SELECT order_id FROM member_orders WHERE member_id = ANY($1::uuid[]) AND brand = $2
           ORDER BY placed_at, order_id""",
        list(wanted),
        brand,
    )
    found = [UUID(bytes=r["order_id"].bytes) for r in rows]
    seen = set(found)
    head = await store.max_notification_id()
    after = position
    while head is not None and (after is None or after < head):
        batch = await store.select_notifications(
            after, 500, stop=head, topics=MemberOrders.topics, inclusive_of_start=False
        )
        if not batch:
            break
        for n in batch:
            event = mapper.to_domain_event(n)
            if event.member_id in wanted and event.brand == brand and n.originator_id not in seen:
                seen.add(n.originator_id)
                found.append(n.originator_id)
        after = batch[-1].id
    return found
