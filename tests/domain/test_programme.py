from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidArgument
from domain.programme import CapPeriod, ExpiryPolicy, LoyaltyProgramme, period_key
from domain.tiers import Tier, TierRule

UTC = UTC
DEFAULT = LoyaltyProgramme.default("acme")


def test_default_programme_is_valid_and_versioned():
    assert DEFAULT.brand == "acme" and DEFAULT.version == 1
    assert DEFAULT.points_for(12_345) == 123


def test_points_are_floored_per_whole_yuan():
    assert replace(DEFAULT, points_per_yuan=2).points_for(199) == 3


def test_commission_is_in_basis_points():
    assert DEFAULT.commission_fen(10_000) == 300


@pytest.mark.parametrize(
    "change",
    [
        {"brand": ""},
        {"version": 0},
        {"points_per_yuan": -1},
        {"points_per_yuan": 1.5},
        {"pending_days": True},
        {"expiry_policy": "NEVER"},
        {"expiry_policy": ExpiryPolicy.ROLLING_DAYS, "expiry_days": 7, "pending_days": 7},
        {"tier_rules": ()},
        {"tier_rules": tuple(reversed(DEFAULT.tier_rules))},
        {"guide_commission_bps": 10_001},
        {"handover_max_per_customer": 0},
        {"guide_customer_limit": 0},
        {"referral_cap_period": "MONTH"},
    ],
)
def test_rejects_invalid_settings(change):
    with pytest.raises(InvalidArgument):
        replace(DEFAULT, **change)


def test_rejects_decreasing_tier_thresholds():
    rules = (
        TierRule(Tier.ORDINARY, 1, 1),
        TierRule(Tier.SEED, 100, 10),
        TierRule(Tier.VALUE, 50, 10),
        TierRule(Tier.CORE, 1000, 100),
    )
    with pytest.raises(InvalidArgument):
        replace(DEFAULT, tier_rules=rules)


def test_year_lots_expire_at_the_end_of_the_following_shanghai_year():
    # 2024-12-31 20:00 Shanghai is still 2024 locally
    earned = datetime(2024, 12, 31, 12, 0, tzinfo=UTC)
    assert DEFAULT.lot_expires_at(earned) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_a_utc_evening_already_counts_as_the_next_shanghai_year():
    earned = datetime(2024, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 Jan 2025 in Shanghai
    assert DEFAULT.lot_expires_at(earned) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_month_lots_expire_at_the_end_of_the_following_month():
    monthly = replace(DEFAULT, expiry_policy=ExpiryPolicy.END_OF_MONTH)
    assert monthly.lot_expires_at(datetime(2024, 11, 15, tzinfo=UTC)) == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert monthly.lot_expires_at(datetime(2024, 12, 15, tzinfo=UTC)) == datetime(2025, 1, 31, 16, 0, tzinfo=UTC)


def test_rolling_and_never_policies():
    rolling = replace(DEFAULT, expiry_policy=ExpiryPolicy.ROLLING_DAYS, expiry_days=30)
    assert rolling.lot_expires_at(datetime(2024, 1, 1, tzinfo=UTC)) == datetime(2024, 1, 31, tzinfo=UTC)
    assert replace(DEFAULT, expiry_policy=ExpiryPolicy.NEVER).lot_expires_at(datetime(2024, 1, 1, tzinfo=UTC)) is None


def test_cap_periods_use_the_shanghai_calendar():
    at = datetime(2024, 1, 31, 16, 30, tzinfo=UTC)  # 1 Feb in Shanghai
    assert period_key(CapPeriod.CALENDAR_MONTH, at) == "2024-02"
    assert period_key(CapPeriod.CALENDAR_YEAR, at) == "2024"
