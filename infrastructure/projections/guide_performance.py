"""Guide performance (导购业绩): customers, credits, sales and commission per shopping guide.

Fed from the Guide's own events, so every number is what the guide aggregate
holds: ``customers`` counts the customers currently bound (``guide_customers``
lists them: added, inherited by an accepted handover, minus released or handed
away), ``customers_added`` and ``referrals`` count the credited additions and
referrals (老带新), ``sales_*`` the credited sales (gross paid, then refunded),
and the three commission columns mirror ``frozen_fen``, ``settled_fen`` and
``debt_fen`` (a refund after settlement claws back as debt).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.guide import CreditKind, Guide

EVENTS = (
    Guide.Hired,
    Guide.MovedToStore,
    Guide.Left,
    Guide.CustomerAdded,
    Guide.CustomerReleased,
    Guide.HandoverConcluded,
    Guide.HandoverAccepted,
    Guide.CreditEarned,
    Guide.SaleCredited,
    Guide.CommissionSettled,
    Guide.CommissionClawedBack,
)

COLUMNS = (
    "customers",
    "customers_added",
    "referrals",
    "credits",
    "sales_orders",
    "sales_fen",
    "refunded_fen",
    "commission_frozen_fen",
    "commission_settled_fen",
    "commission_debt_fen",
)


class GuidePerformance:
    name = "guide_performance"
    topics = tuple(get_topic(e) for e in EVENTS)

    @staticmethod
    def batch_key(event: Any) -> Any:
        return event.originator_id  # the guide: its row and its (guide, member) rows

    async def setup(self, conn: Any) -> None:
        counters = ", ".join(f"{c} bigint NOT NULL DEFAULT 0" for c in COLUMNS)
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS guide_performance (
                guide_id uuid PRIMARY KEY, brand text NOT NULL, store_id uuid NOT NULL, name text NOT NULL,
                hired_at timestamptz NOT NULL, left_at timestamptz, {counters},
                version bigint NOT NULL, updated_at timestamptz NOT NULL)"""
        )
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS guide_customers (
                guide_id uuid NOT NULL, member_id uuid NOT NULL, since timestamptz NOT NULL,
                PRIMARY KEY (guide_id, member_id))"""
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS guide_performance, guide_customers")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        guide_id = event.originator_id
        if isinstance(event, Guide.Hired):
            # The name column stays empty: a guide's name is personal data, sealed in the events under the
            # guide's key (infrastructure.privacy); GetGuide reads it from there. Nothing reads it here.
            await conn.execute(
                """INSERT INTO guide_performance (guide_id, brand, store_id, name, hired_at, version, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $5)""",
                guide_id,
                event.brand,
                event.store_id,
                "",
                event.at,
                event.originator_version,
            )
            return
        bump: dict[str, int] = {}
        if isinstance(event, Guide.MovedToStore):
            await conn.execute(
                "UPDATE guide_performance SET store_id = $2 WHERE guide_id = $1", guide_id, event.store_id
            )
        elif isinstance(event, Guide.Left):
            await conn.execute("UPDATE guide_performance SET left_at = $2 WHERE guide_id = $1", guide_id, event.at)
        elif isinstance(event, Guide.CustomerAdded):
            bump = await _gain(conn, guide_id, event.member_id, event.at) | {"customers_added": 1}
        elif isinstance(event, Guide.HandoverAccepted):
            bump = await _gain(conn, guide_id, event.member_id, event.at)
        elif isinstance(event, Guide.CustomerReleased) or (
            isinstance(event, Guide.HandoverConcluded) and event.accepted
        ):
            bump = await _lose(conn, guide_id, event.member_id)
        elif isinstance(event, Guide.CreditEarned):
            bump = {"credits": event.credits, "referrals": 1 if event.kind is CreditKind.REFERRAL else 0}
        elif isinstance(event, Guide.SaleCredited):
            bump = {"sales_orders": 1, "sales_fen": event.paid_fen, "commission_frozen_fen": event.commission_fen}
        elif isinstance(event, Guide.CommissionSettled):
            bump = {
                "commission_frozen_fen": -event.commission_fen,
                "commission_settled_fen": event.commission_fen - event.debt_offset_fen,
                "commission_debt_fen": -event.debt_offset_fen,
            }
        elif isinstance(event, Guide.CommissionClawedBack):
            bump = {
                "refunded_fen": event.refunded_fen,
                "commission_frozen_fen": -(event.commission_fen - event.debt_fen),
                "commission_debt_fen": event.debt_fen,
            }
        sets = "".join(f", {c} = {c} + ${i}" for i, c in enumerate(bump, start=4))
        await conn.execute(
            f"UPDATE guide_performance SET version = $2, updated_at = $3{sets} WHERE guide_id = $1",
            guide_id,
            event.originator_version,
            event.at,
            *bump.values(),
        )


async def _gain(conn: Any, guide_id: UUID, member_id: UUID, at: Any) -> dict[str, int]:
    await conn.execute("INSERT INTO guide_customers VALUES ($1, $2, $3)", guide_id, member_id, at)
    return {"customers": 1}


async def _lose(conn: Any, guide_id: UUID, member_id: UUID) -> dict[str, int]:
    await conn.execute("DELETE FROM guide_customers WHERE guide_id = $1 AND member_id = $2", guide_id, member_id)
    return {"customers": -1}


async def guide_performance(pool: Any, guide_id: UUID) -> Any:
    """One guide's row (a record with the columns above), or None."""
    return await pool.fetchrow("SELECT * FROM guide_performance WHERE guide_id = $1", guide_id)


async def store_guides(pool: Any, store_id: UUID) -> list[Any]:
    """The guides currently at a store, busiest first (for a store manager's leaderboard)."""
    return await pool.fetch(
        "SELECT * FROM guide_performance WHERE store_id = $1 ORDER BY sales_fen DESC, guide_id", store_id
    )
