"""The loyalty programme: every rule a brand tunes, as one versioned value.

Aggregates never hold constants for points per yuan, lifetimes, tier
thresholds, referral rewards or guide rules: commands take the programme, and
every decision event records ``programme.version`` so history stays
explainable after the brand changes its rules.

Local calendar: the brand's periods (expiry, referral caps) are on
``domain.calendar.BRAND_CALENDAR`` (Asia/Shanghai, the fixed offset UTC+08:00),
so the domain needs no tz database (and tzdata versions never change stored results).

Expiry (积分有效期): END_OF_MONTH / END_OF_YEAR lots live until the end of the
period *after* the one they were earned in (points earned on 31 December do
not vanish the next day), i.e. they expire at local midnight starting the
second following period, stored in UTC. ROLLING_DAYS lots expire
``expiry_days`` after earning; NEVER lots carry ``expires_at=None``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise

from domain.attribution import AttributionPolicy, AttributionSource
from domain.calendar import BRAND_CALENDAR
from domain.errors import InvalidArgument
from domain.loyalty_args import check_brand, check_enum, check_int, check_utc
from domain.tiers import RULED_TIERS, DowngradePolicy, Tier, TierRule

SHANGHAI = BRAND_CALENDAR.tzinfo  # kept for readers of this name; the calendar module decides
DEFAULT_VERSION = 1  # LoyaltyProgramme.default: in force for every brand until it publishes its own


class ExpiryPolicy(str, enum.Enum):
    ROLLING_DAYS = "ROLLING_DAYS"
    END_OF_MONTH = "END_OF_MONTH"
    END_OF_YEAR = "END_OF_YEAR"
    NEVER = "NEVER"


class BindingMode(str, enum.Enum):
    """Who keeps a customer two guides both added (企业微信加好友)."""

    FIRST_GUIDE_KEEPS = "FIRST_GUIDE_KEEPS"
    LATEST_GUIDE_WINS = "LATEST_GUIDE_WINS"  # after the protection period


class CapPeriod(str, enum.Enum):
    """Calendar period (Shanghai local) for the referral reward cap."""

    CALENDAR_MONTH = "CALENDAR_MONTH"
    CALENDAR_YEAR = "CALENDAR_YEAR"


def period_key(period: CapPeriod, at: datetime) -> str:
    local = BRAND_CALENDAR.local(at)
    return f"{local.year:04d}" if period is CapPeriod.CALENDAR_YEAR else f"{local.year:04d}-{local.month:02d}"


def _default_tier_rules() -> tuple[TierRule, ...]:
    return (
        TierRule(Tier.ORDINARY, min_paid_fen=1, min_points_earned=1),
        TierRule(Tier.SEED, min_paid_fen=100_000, min_points_earned=1_000),
        TierRule(Tier.VALUE, min_paid_fen=500_000, min_points_earned=5_000),
        TierRule(Tier.CORE, min_paid_fen=2_000_000, min_points_earned=20_000),
    )


@dataclass(frozen=True, slots=True)
class LoyaltyProgramme:
    brand: str
    version: int
    points_per_yuan: int = 1  # points per 100 fen paid
    pending_days: int = 7  # earned order points stay pending this long (return window)
    expiry_policy: ExpiryPolicy = ExpiryPolicy.END_OF_YEAR
    expiry_days: int = 365  # only for ROLLING_DAYS
    tier_window_days: int = 365
    tier_rules: tuple[TierRule, ...] = field(default_factory=_default_tier_rules)
    downgrade_policy: DowngradePolicy = DowngradePolicy.ONE_STEP
    referral_reward_points: int = 200
    referral_cap_per_period: int = 20
    referral_cap_period: CapPeriod = CapPeriod.CALENDAR_MONTH
    binding_mode: BindingMode = BindingMode.LATEST_GUIDE_WINS
    protection_days: int = 30
    handover_waiting_hours: int = 24  # WeCom auto-accepts after 24h
    handover_max_per_customer: int = 2
    handover_limit_days: int = 90
    guide_customer_limit: int = 5_000
    guide_commission_bps: int = 300
    guide_credit_customer_added: int = 1
    guide_credit_referral: int = 5
    guide_credit_per_yuan_sales: int = 1
    return_window_days: int = 7
    attribution: AttributionPolicy = AttributionPolicy()
    payment_timeout_minutes: int = 120  # unpaid this long after placing: no longer payable, cancelled (0: never)

    @classmethod
    def default(cls, brand: str) -> LoyaltyProgramme:
        return cls(brand=brand, version=DEFAULT_VERSION)

    def __post_init__(self) -> None:
        check_brand(self.brand)
        check_int("version", self.version, minimum=1)
        check_int("points_per_yuan", self.points_per_yuan, maximum=10_000)
        check_enum("expiry_policy", self.expiry_policy, ExpiryPolicy)
        check_int("expiry_days", self.expiry_days, minimum=1, maximum=36_500)
        check_int("pending_days", self.pending_days, maximum=28)
        if self.expiry_policy is ExpiryPolicy.ROLLING_DAYS and self.expiry_days <= self.pending_days:
            raise InvalidArgument("lots must become available before they expire", reason="EXPIRY_BEFORE_AVAILABLE")
        check_int("tier_window_days", self.tier_window_days, minimum=1, maximum=3_650)
        self._check_tier_rules()
        check_enum("downgrade_policy", self.downgrade_policy, DowngradePolicy)
        check_int("referral_reward_points", self.referral_reward_points, maximum=10_000_000)
        check_int("referral_cap_per_period", self.referral_cap_per_period, maximum=1_000_000)
        check_enum("referral_cap_period", self.referral_cap_period, CapPeriod)
        check_enum("binding_mode", self.binding_mode, BindingMode)
        check_int("protection_days", self.protection_days, maximum=3_650)
        check_int("handover_waiting_hours", self.handover_waiting_hours, maximum=24 * 90)
        check_int("handover_max_per_customer", self.handover_max_per_customer, minimum=1, maximum=100)
        check_int("handover_limit_days", self.handover_limit_days, minimum=1, maximum=3_650)
        check_int("guide_customer_limit", self.guide_customer_limit, minimum=1, maximum=1_000_000)
        check_int("guide_commission_bps", self.guide_commission_bps, maximum=10_000)
        check_int("guide_credit_customer_added", self.guide_credit_customer_added, maximum=1_000_000)
        check_int("guide_credit_referral", self.guide_credit_referral, maximum=1_000_000)
        check_int("guide_credit_per_yuan_sales", self.guide_credit_per_yuan_sales, maximum=10_000)
        check_int("return_window_days", self.return_window_days, maximum=365)
        check_int("payment_timeout_minutes", self.payment_timeout_minutes, maximum=7 * 24 * 60)
        if not isinstance(self.attribution, AttributionPolicy):
            raise InvalidArgument(
                "attribution must be an AttributionPolicy", reason="INVALID_POLICY", field="attribution"
            )

    def _check_tier_rules(self) -> None:
        rules = self.tier_rules
        if not isinstance(rules, tuple) or not all(isinstance(r, TierRule) for r in rules):
            raise InvalidArgument("tier_rules must be a tuple of TierRule", reason="INVALID_TIER_RULES")
        if tuple(r.tier for r in rules) != RULED_TIERS:
            raise InvalidArgument("one rule per tier ORDINARY..CORE, in order", reason="INVALID_TIER_RULES")
        for rule in rules:
            check_int("min_paid_fen", rule.min_paid_fen, minimum=1)
            check_int("min_points_earned", rule.min_points_earned, minimum=1)
        for lower, higher in pairwise(rules):
            if higher.min_paid_fen < lower.min_paid_fen or higher.min_points_earned < lower.min_points_earned:
                raise InvalidArgument("tier thresholds must not decrease", reason="INVALID_TIER_RULES")

    # --- arithmetic the aggregates share -------------------------------------------------
    def points_for(self, paid_fen: int) -> int:
        return paid_fen * self.points_per_yuan // 100

    def commission_fen(self, paid_fen: int) -> int:
        return paid_fen * self.guide_commission_bps // 10_000

    def sales_credits(self, paid_fen: int) -> int:
        return paid_fen * self.guide_credit_per_yuan_sales // 100

    def payment_due_at(self, placed_at: datetime) -> datetime | None:
        """When an order placed at ``placed_at`` stops being payable (None: never)."""
        check_utc("placed_at", placed_at)
        return placed_at + timedelta(minutes=self.payment_timeout_minutes) if self.payment_timeout_minutes else None

    def lot_expires_at(self, earned_at: datetime) -> datetime | None:
        check_utc("earned_at", earned_at)
        if self.expiry_policy is ExpiryPolicy.NEVER:
            return None
        if self.expiry_policy is ExpiryPolicy.ROLLING_DAYS:
            return earned_at + timedelta(days=self.expiry_days)
        local = BRAND_CALENDAR.local(earned_at)
        if self.expiry_policy is ExpiryPolicy.END_OF_YEAR:
            return BRAND_CALENDAR.start_of(date(local.year + 2, 1, 1))
        months = local.year * 12 + (local.month - 1) + 2
        return BRAND_CALENDAR.start_of(date(months // 12, months % 12 + 1, 1))


VALUE_TYPES = (
    ExpiryPolicy,
    BindingMode,
    CapPeriod,
    Tier,
    DowngradePolicy,
    TierRule,
    AttributionSource,
    AttributionPolicy,
    LoyaltyProgramme,
)
