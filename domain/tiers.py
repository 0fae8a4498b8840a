"""Member tiers (会员分层): new, ordinary, seed, value, core.

A member qualifies for a tier on paid spend (fen) OR points *earned* (never
the balance, which redemption would lower) inside a rolling window. The rules
are brand data (``TierRule`` inside ``LoyaltyProgramme``); this module holds
the pure arithmetic so ``Member`` only records facts and decisions.

NEW means "never paid": once a member has paid an order, qualification never
falls below ORDINARY, however old the spend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Tier(str, enum.Enum):
    NEW = "NEW"
    ORDINARY = "ORDINARY"
    SEED = "SEED"
    VALUE = "VALUE"
    CORE = "CORE"

    @property
    def rank(self) -> int:
        return TIER_ORDER.index(self)


TIER_ORDER: tuple[Tier, ...] = (Tier.NEW, Tier.ORDINARY, Tier.SEED, Tier.VALUE, Tier.CORE)
RULED_TIERS: tuple[Tier, ...] = TIER_ORDER[1:]


class DowngradePolicy(str, enum.Enum):
    """ONE_STEP drops one tier per evaluation (gentler); RECOMPUTE jumps to the qualified tier."""

    ONE_STEP = "ONE_STEP"
    RECOMPUTE = "RECOMPUTE"


class TierChangeReason(str, enum.Enum):
    QUALIFIED = "QUALIFIED"  # upgrade on spend/points in the window
    LAPSED = "LAPSED"  # downgrade: the window no longer supports the tier
    FLOOR = "FLOOR"  # an operator-assigned floor lifted the tier


@dataclass(frozen=True, slots=True)
class TierRule:
    """Either threshold qualifies: paid spend OR points earned in the window."""

    tier: Tier
    min_paid_fen: int
    min_points_earned: int


@dataclass(frozen=True, slots=True)
class TierFact:
    """One spend fact in the window; refunds are negative facts dated at the order."""

    at: datetime
    paid_fen: int
    points_earned: int


def window_totals(facts: tuple[TierFact, ...] | list[TierFact], start: datetime, end: datetime) -> tuple[int, int]:
    """Sums (paid_fen, points_earned) of facts with start < at <= end."""
    paid = sum(f.paid_fen for f in facts if start < f.at <= end)
    points = sum(f.points_earned for f in facts if start < f.at <= end)
    return max(paid, 0), max(points, 0)


def qualified_tier(rules: tuple[TierRule, ...], paid_fen: int, points_earned: int, *, ever_paid: bool) -> Tier:
    best = Tier.ORDINARY if ever_paid else Tier.NEW
    for rule in rules:
        qualifies = paid_fen >= rule.min_paid_fen or points_earned >= rule.min_points_earned
        if qualifies and rule.tier.rank > best.rank:
            best = rule.tier
    return best


def next_tier(
    current: Tier, qualified: Tier, policy: DowngradePolicy, floor: Tier | None
) -> tuple[Tier, TierChangeReason]:
    """The tier after an evaluation, and why. Upgrades jump; downgrades follow the policy."""
    if qualified.rank >= current.rank:
        target, reason = qualified, TierChangeReason.QUALIFIED
    elif policy is DowngradePolicy.ONE_STEP:
        target, reason = TIER_ORDER[current.rank - 1], TierChangeReason.LAPSED
    else:
        target, reason = qualified, TierChangeReason.LAPSED
    if floor is not None and floor.rank > target.rank:
        target, reason = floor, TierChangeReason.FLOOR
    return target, reason


VALUE_TYPES = (Tier, DowngradePolicy, TierChangeReason, TierRule, TierFact)
