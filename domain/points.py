"""Points (积分) as lots: each earning is a lot with its own availability and expiry.

Lots make the hard questions answerable from history alone: which points a
redemption used, which expire next month (pre-expiry reminders), what a
refund must take back. Redemptions and debits draw soonest-expiring first, so
members lose as little as possible to expiry.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class LotSource(str, enum.Enum):
    ORDER = "ORDER"  # reference = order id
    RULE = "RULE"  # reference = rule name (sign-in, birthday...)
    REFERRAL = "REFERRAL"  # reference = invitee member id
    ADJUSTMENT = "ADJUSTMENT"  # reference = operator reason


@dataclass(frozen=True, slots=True)
class PointsLot:
    lot_id: str
    source: LotSource
    reference: str
    points: int
    earned_at: datetime
    available_at: datetime  # pending until then (return window)
    expires_at: datetime | None  # None: never expires
    programme_version: int

    def is_available(self, at: datetime) -> bool:
        return self.available_at <= at and not self.is_expired(at)

    def is_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and at >= self.expires_at

    def draw_order(self) -> tuple[bool, datetime, datetime, str]:
        """Soonest-expiring first; never-expiring last; ties by earning time then id."""
        if self.expires_at is None:
            return True, self.earned_at, self.earned_at, self.lot_id
        return False, self.expires_at, self.earned_at, self.lot_id


@dataclass(frozen=True, slots=True)
class LotAllocation:
    """How many points one debit took from one lot."""

    lot_id: str
    points: int


@dataclass(frozen=True, slots=True)
class CarriedLot:
    """A lot moved by a merge, with what was left of it and its order's refund state."""

    lot: PointsLot
    remaining: int
    order_paid_fen: int
    order_refunded_fen: int
    order_reversed_points: int


@dataclass(frozen=True, slots=True)
class PointsTotals:
    """Ledger totals; ``conserved()`` is the conservation invariant."""

    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int  # signed
    transferred: int  # signed: absorbed lots (+) and debt (-), merged-out lots (-) and debt (+)
    debt: int
    remaining: int  # sum of all lots' remainders (available + pending + expired-not-swept)

    def conserved(self) -> bool:
        flows = self.earned - self.redeemed - self.expired - self.reversed + self.adjusted + self.transferred
        return flows == self.remaining - self.debt


def draw(lots: Iterable[tuple[PointsLot, int]], points: int) -> tuple[tuple[LotAllocation, ...], int]:
    """Take ``points`` from (lot, remaining) pairs soonest-expiring first.

    Returns the allocations and the part that could not be covered.
    """
    allocations = []
    still = points
    for lot, remaining in sorted(lots, key=lambda pair: pair[0].draw_order()):
        if still == 0:
            break
        take = min(still, remaining)
        if take > 0:
            allocations.append(LotAllocation(lot.lot_id, take))
            still -= take
    return tuple(allocations), still


@dataclass(frozen=True, slots=True)
class PointsMovement:
    """One line of a member's points statement (query only, derived from events)."""

    at: datetime
    kind: str  # EARNED, REDEEMED, EXPIRED, REVERSED, ADJUSTED, ABSORBED, MERGED_OUT
    points: int  # signed change of the lots' total
    reference: str
    shortfall: int = 0  # points a reversal could not take (became debt)


VALUE_TYPES = (LotSource, PointsLot, LotAllocation, CarriedLot, PointsMovement, PointsTotals)
