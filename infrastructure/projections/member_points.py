"""Member points read model: totals, statement, lots, and every lot movement with its time.

Availability is a function of time (a lot is available from ``available_at``
until ``expires_at``; no event marks the change), so nothing here stores
"available": ``points_lots`` keeps each lot's remainder and the queries compare
its dates with the ``at`` they are asked about, exactly as ``Member.balance``
and ``Member.pending`` do.

Tables (all written from the Member's own events, one row per event where a
row per event is kept, keyed by the event's version so a replay writes the
same rows):

- ``member_points``: the ``PointsTotals`` of one member (earned, redeemed,
  expired, reversed, adjusted, transferred, debt) plus brand and merge state.
- ``points_history``: the member's statement, one row per ``PointsMovement``.
- ``points_lots``: each lot with its dates and current remainder. A merge
  copies the absorbed member's lots (same lot ids) to the survivor, hence the
  key ``(member_id, lot_id)``.
- ``points_lot_moves`` and ``points_debt_moves``: every change of a lot's
  remainder and of the debt, with the event's business time ``at``. Summing
  the moves up to a date gives the lots as they were then, which is how
  :mod:`infrastructure.projections.points_liability` answers for past dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.member import Member
from domain.points import LotAllocation, PointsLot

TOTALS = ("earned", "redeemed", "expired", "reversed", "adjusted", "transferred")

EVENTS = (
    Member.Registered,
    Member.PointsEarned,
    Member.RedemptionDrawn,
    Member.PointsExpired,
    Member.OrderPointsReversed,
    Member.PointsAdjusted,
    Member.MemberAbsorbed,
    Member.MergedInto,
    Member.ReferralRewarded,
)

TABLES = ("member_points", "points_history", "points_lots", "points_lot_moves", "points_debt_moves")

DDL = (
    """CREATE TABLE IF NOT EXISTS member_points (
        member_id uuid PRIMARY KEY, brand text NOT NULL,
        earned bigint NOT NULL DEFAULT 0, redeemed bigint NOT NULL DEFAULT 0,
        expired bigint NOT NULL DEFAULT 0, reversed bigint NOT NULL DEFAULT 0,
        adjusted bigint NOT NULL DEFAULT 0, transferred bigint NOT NULL DEFAULT 0,
        debt bigint NOT NULL DEFAULT 0, merged_into uuid,
        version bigint NOT NULL, updated_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS points_history (
        member_id uuid NOT NULL, version bigint NOT NULL, kind text NOT NULL, points bigint NOT NULL,
        reference text NOT NULL, shortfall bigint NOT NULL, at timestamptz NOT NULL,
        PRIMARY KEY (member_id, version))""",
    """CREATE TABLE IF NOT EXISTS points_lots (
        member_id uuid NOT NULL, lot_id text NOT NULL, brand text NOT NULL, source text NOT NULL,
        reference text NOT NULL, points bigint NOT NULL, points_remaining bigint NOT NULL,
        earned_at timestamptz NOT NULL, available_at timestamptz NOT NULL, expires_at timestamptz,
        PRIMARY KEY (member_id, lot_id))""",
    "CREATE INDEX IF NOT EXISTS points_lots_brand ON points_lots (brand) WHERE points_remaining > 0",
    """CREATE TABLE IF NOT EXISTS points_lot_moves (
        member_id uuid NOT NULL, version bigint NOT NULL, lot_id text NOT NULL, brand text NOT NULL,
        at timestamptz NOT NULL, delta bigint NOT NULL,
        PRIMARY KEY (member_id, version, lot_id))""",
    "CREATE INDEX IF NOT EXISTS points_lot_moves_brand_at ON points_lot_moves (brand, at)",
    """CREATE TABLE IF NOT EXISTS points_debt_moves (
        member_id uuid NOT NULL, version bigint NOT NULL, brand text NOT NULL,
        at timestamptz NOT NULL, delta bigint NOT NULL, PRIMARY KEY (member_id, version))""",
    "CREATE INDEX IF NOT EXISTS points_debt_moves_brand_at ON points_debt_moves (brand, at)",
)


class MemberPoints:
    """The projection; mirrors the points bookkeeping of ``Member``'s event bodies."""

    name = "member_points"
    topics = tuple(get_topic(e) for e in EVENTS)

    @staticmethod
    def batch_key(event: Any) -> Any:
        return event.originator_id  # the member: every row of these tables is one member's

    async def setup(self, conn: Any) -> None:
        for statement in DDL:
            await conn.execute(statement)

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES))

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        if isinstance(event, Member.Registered):
            await conn.execute(
                """INSERT INTO member_points (member_id, brand, version, updated_at) VALUES ($1, $2, $3, $4)""",
                event.originator_id,
                event.brand,
                event.originator_version,
                event.at,
            )
            return
        move = _Move(conn, event)
        if isinstance(event, Member.PointsEarned):
            await move.new_lot(event.lot, event.lot.points - event.debt_repaid)
            await move.totals(debt=-event.debt_repaid, earned=event.lot.points)
            await move.history("EARNED", event.lot.points, event.lot.reference)
        elif isinstance(event, Member.ReferralRewarded):
            await move.new_lot(event.lot, event.lot.points - event.debt_repaid)
            await move.totals(debt=-event.debt_repaid, earned=event.lot.points)
            await move.history("EARNED", event.lot.points, f"referral:{event.invitee_id}")
        elif isinstance(event, Member.RedemptionDrawn):
            await move.take(event.allocations)
            await move.totals(redeemed=event.points)
            await move.history("REDEEMED", -event.points, event.reference)
        elif isinstance(event, Member.PointsExpired):
            await move.take((LotAllocation(event.lot_id, event.points),))
            await move.totals(expired=event.points)
            await move.history("EXPIRED", -event.points, event.lot_id)
        elif isinstance(event, Member.OrderPointsReversed):
            await move.take(event.allocations)
            await move.totals(debt=event.shortfall, reversed=event.points)
            await move.history("REVERSED", -(event.points - event.shortfall), event.order_id, event.shortfall)
        elif isinstance(event, Member.PointsAdjusted):
            if event.lot is not None:
                await move.new_lot(event.lot, event.lot.points - event.debt_repaid)
            await move.take(event.allocations)
            await move.totals(debt=-event.debt_repaid, adjusted=event.points)
            await move.history("ADJUSTED", event.points - event.debt_repaid, event.reason)
        elif isinstance(event, Member.MemberAbsorbed):
            moved = 0
            for carried in event.lots:
                await move.new_lot(carried.lot, carried.remaining)
                moved += carried.remaining
            await move.totals(debt=event.debt, transferred=moved - event.debt)
            await move.history("ABSORBED", moved, str(event.absorbed_id), event.debt)
        elif isinstance(event, Member.MergedInto):
            await move.take(event.lots)
            moved = sum(a.points for a in event.lots)
            await move.totals(debt=-event.debt, transferred=-(moved - event.debt), merged_into=event.survivor_id)
            await move.history("MERGED_OUT", -moved, str(event.survivor_id), -event.debt)


class _Move:
    """Writes of one event: the event's member, version and time go on every row."""

    def __init__(self, conn: Any, event: Any) -> None:
        self.conn = conn
        self.member_id: UUID = event.originator_id
        self.version: int = event.originator_version
        self.at: datetime = event.at

    async def new_lot(self, lot: PointsLot, remaining: int) -> None:
        await self.conn.execute(
            """INSERT INTO points_lots (member_id, lot_id, brand, source, reference, points, points_remaining,
                                        earned_at, available_at, expires_at)
               SELECT $1, $2, m.brand, $3, $4, $5, $6, $7, $8, $9 FROM member_points m WHERE m.member_id = $1
               ON CONFLICT (member_id, lot_id) DO UPDATE SET points_remaining = EXCLUDED.points_remaining""",
            self.member_id,
            lot.lot_id,
            lot.source.value,
            lot.reference,
            lot.points,
            remaining,
            lot.earned_at,
            lot.available_at,
            lot.expires_at,
        )
        await self._lot_moved(lot.lot_id, remaining)

    async def take(self, allocations: tuple[LotAllocation, ...]) -> None:
        for a in allocations:
            await self.conn.execute(
                "UPDATE points_lots SET points_remaining = points_remaining - $3 WHERE member_id = $1 AND lot_id = $2",
                self.member_id,
                a.lot_id,
                a.points,
            )
            await self._lot_moved(a.lot_id, -a.points)

    async def _lot_moved(self, lot_id: str, delta: int) -> None:
        await self.conn.execute(
            """INSERT INTO points_lot_moves AS m (member_id, version, lot_id, brand, at, delta)
               SELECT $1, $2, $3, p.brand, $4, $5 FROM member_points p WHERE p.member_id = $1
               ON CONFLICT (member_id, version, lot_id) DO UPDATE SET delta = m.delta + EXCLUDED.delta""",
            self.member_id,
            self.version,
            lot_id,
            self.at,
            delta,
        )

    async def totals(self, *, debt: int = 0, merged_into: UUID | None = None, **flows: int) -> None:
        sets = ", ".join(f"{k} = {k} + ${i}" for i, k in enumerate(flows, start=6))
        await self.conn.execute(
            f"""UPDATE member_points SET debt = debt + $2, version = $3, updated_at = $4,
                   merged_into = coalesce($5, merged_into){", " + sets if sets else ""}
                WHERE member_id = $1""",
            self.member_id,
            debt,
            self.version,
            self.at,
            merged_into,
            *flows.values(),
        )
        if debt:
            await self.conn.execute(
                """INSERT INTO points_debt_moves (member_id, version, brand, at, delta)
                   SELECT $1, $2, brand, $3, $4 FROM member_points WHERE member_id = $1""",
                self.member_id,
                self.version,
                self.at,
                debt,
            )

    async def history(self, kind: str, points: int, reference: str, shortfall: int = 0) -> None:
        await self.conn.execute(
            "INSERT INTO points_history VALUES ($1, $2, $3, $4, $5, $6, $7)",
            self.member_id,
            self.version,
            kind,
            points,
            reference,
            shortfall,
            self.at,
        )


# --- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointsBalance:
    """What ``Member.balance/pending/totals`` say, read from the projection."""

    member_id: UUID
    brand: str
    at: datetime
    available: int
    pending: int
    debt: int
    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    transferred: int
    remaining: int  # all lots' remainders, including expired-not-swept
    merged_into: UUID | None
    version: int
    updated_at: datetime


async def member_points(pool: Any, member_id: UUID, at: datetime) -> PointsBalance | None:
    """One member's balance as of ``at`` (current remainders; availability judged at ``at``)."""
    row = await pool.fetchrow(
        """SELECT m.*,
             coalesce(sum(l.points_remaining) FILTER (WHERE l.available_at <= $2
                 AND (l.expires_at IS NULL OR $2 < l.expires_at)), 0)::bigint AS available,
             coalesce(sum(l.points_remaining) FILTER (WHERE $2 < l.available_at
                 AND (l.expires_at IS NULL OR $2 < l.expires_at)), 0)::bigint AS pending,
             coalesce(sum(l.points_remaining), 0)::bigint AS remaining
           FROM member_points m LEFT JOIN points_lots l ON l.member_id = m.member_id AND l.points_remaining > 0
           WHERE m.member_id = $1 GROUP BY m.member_id""",
        member_id,
        at,
    )
    if row is None:
        return None
    return PointsBalance(
        member_id=row["member_id"],
        brand=row["brand"],
        at=at,
        available=row["available"],
        pending=row["pending"],
        debt=row["debt"],
        remaining=row["remaining"],
        merged_into=row["merged_into"],
        version=row["version"],
        updated_at=row["updated_at"],
        **{k: row[k] for k in TOTALS},
    )


async def points_history(pool: Any, member_id: UUID) -> list[Any]:
    """The member's statement in event order (kind, signed points, reference, shortfall, at)."""
    return await pool.fetch(
        "SELECT version, kind, points, reference, shortfall, at FROM points_history"
        " WHERE member_id = $1 ORDER BY version",
        member_id,
    )
