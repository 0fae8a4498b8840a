"""Points liability (积分负债): what finance books as deferred revenue, per brand, as of any time.

Outstanding points are the lots' remainders that are still usable at the date:
*available* (``available_at <= as_of < expires_at``) and *pending* (inside the
return window, ``as_of < available_at``). Remainders of lots already past
``expires_at`` but not yet swept by a ``PointsExpired`` event are not owed
(the member can no longer spend them), exactly as ``Member.balance``/``pending``
judge them. ``debt`` is what refunds could not take back (points members owe).

As of a past date the lots' remainders must be as they were then: the
``member_points`` projection records every change of a remainder as a row of
``points_lot_moves`` with the event's business time, so the remainder of a lot
as of ``T`` is the sum of its moves with ``at <= T``. Lot dates never change,
so they come from ``points_lots``. Cost: one scan of the brand's moves up to
``T`` (indexed by brand and time); if that ever grows too slow, monthly
checkpoints of the remainders would bound it without changing the answer.

Expiry profile: outstanding points per *last usable month* (brand calendar, ``domain/calendar.py``),
i.e. the local month of the last instant before ``expires_at``: points of a
lot that expires at local midnight of 1 January show under December, the
month a reminder would name. Never-expiring points show under ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.calendar import BRAND_CALENDAR

_OUTSTANDING = """
    WITH lots AS (
        SELECT l.available_at, l.expires_at, sum(m.delta)::bigint AS remaining
        FROM points_lot_moves m JOIN points_lots l USING (member_id, lot_id)
        WHERE m.brand = $1 AND m.at <= $2
        GROUP BY m.member_id, m.lot_id, l.available_at, l.expires_at
    )
    SELECT available_at <= $2 AS available,
           to_char((expires_at - interval '1 microsecond' + make_interval(mins => $3)) AT TIME ZONE 'UTC',
                   'YYYY-MM') AS month,
           sum(remaining)::bigint AS points
    FROM lots WHERE remaining > 0 AND (expires_at IS NULL OR $2 < expires_at)
    GROUP BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class PointsLiability:
    brand: str
    as_of: datetime
    available: int
    pending: int
    debt: int
    expiring: tuple[tuple[str | None, int], ...]  # (last usable month "YYYY-MM" or None: never), points

    @property
    def outstanding(self) -> int:
        return self.available + self.pending


def last_usable_month(expires_at: datetime | None) -> str | None:
    """The bucket of the expiry profile, computed in Python (for callers and tests)."""
    if expires_at is None:
        return None
    local = BRAND_CALENDAR.local(expires_at - timedelta(microseconds=1))
    return f"{local.year:04d}-{local.month:02d}"


async def points_liability(pool: Any, brand: str, as_of: datetime) -> PointsLiability:
    """Outstanding available and pending points, debt and expiry profile of ``brand`` at ``as_of``."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    rows = await pool.fetch(_OUTSTANDING, brand, as_of, BRAND_CALENDAR.utc_offset_minutes)
    debt = await pool.fetchval(
        "SELECT coalesce(sum(delta), 0)::bigint FROM points_debt_moves WHERE brand = $1 AND at <= $2", brand, as_of
    )
    months: dict[str | None, int] = {}
    for r in rows:
        months[r["month"]] = months.get(r["month"], 0) + r["points"]
    return PointsLiability(
        brand=brand,
        as_of=as_of,
        available=sum(r["points"] for r in rows if r["available"]),
        pending=sum(r["points"] for r in rows if not r["available"]),
        debt=debt,
        expiring=tuple(sorted(months.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))),
    )
