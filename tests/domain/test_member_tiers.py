from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidArgument, RuleViolation
from domain.member import Member
from domain.programme import LoyaltyProgramme
from domain.tiers import DowngradePolicy, Tier, TierChangeReason

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PROGRAMME = LoyaltyProgramme.default("acme")  # SEED 1000 yuan / 1000 pts, VALUE 5000 yuan, CORE 20000 yuan
RECOMPUTE = replace(PROGRAMME, version=3, downgrade_policy=DowngradePolicy.RECOMPUTE)


def member_with_spend(paid_fen: int) -> Member:
    member = Member.register("acme", "openid-1", T0)
    member.earn_points_for_order("order-1", paid_fen, PROGRAMME, T0)
    member.collect_events()
    return member


def tier_events(member):
    return [e for e in member.collect_events() if type(e).__name__ == "TierChanged"]


def test_a_new_member_stays_new_without_an_event():
    member = Member.register("acme", "o", T0)
    member.collect_events()
    assert member.evaluate_tier(PROGRAMME, T0) is Tier.NEW
    assert member.collect_events() == []


def test_spend_in_the_window_upgrades_directly():
    member = member_with_spend(600_000)
    assert member.evaluate_tier(PROGRAMME, T0) is Tier.VALUE
    (changed,) = tier_events(member)
    assert (changed.from_tier, changed.to_tier, changed.reason) == (Tier.NEW, Tier.VALUE, TierChangeReason.QUALIFIED)
    assert changed.paid_fen_in_window == 600_000 and changed.programme_version == 1


def test_points_earned_qualify_even_after_they_are_redeemed():
    member = Member.register("acme", "o", T0)
    member.earn_points("campaign", 1_000, PROGRAMME, T0)
    member.redeem(1_000, "coupon", T0)
    assert member.evaluate_tier(PROGRAMME, T0) is Tier.SEED


def test_unchanged_tier_records_nothing():
    member = member_with_spend(600_000)
    member.evaluate_tier(PROGRAMME, T0)
    member.collect_events()
    member.evaluate_tier(PROGRAMME, T0 + DAY)
    assert member.collect_events() == []


def test_one_step_downgrade_after_the_window_lapses():
    member = member_with_spend(600_000)
    member.evaluate_tier(PROGRAMME, T0)
    later = T0 + 400 * DAY
    assert member.evaluate_tier(PROGRAMME, later) is Tier.SEED
    assert member.evaluate_tier(PROGRAMME, later) is Tier.ORDINARY
    assert member.evaluate_tier(PROGRAMME, later) is Tier.ORDINARY  # a payer never falls back to NEW


def test_recompute_downgrade_jumps_to_the_qualified_tier():
    member = member_with_spend(600_000)
    member.evaluate_tier(RECOMPUTE, T0)
    member.collect_events()
    assert member.evaluate_tier(RECOMPUTE, T0 + 400 * DAY) is Tier.ORDINARY
    (changed,) = tier_events(member)
    assert changed.reason is TierChangeReason.LAPSED and changed.programme_version == 3


def test_refunds_reduce_the_qualifying_spend():
    member = member_with_spend(600_000)
    member.reverse_order_points("order-1", 300_000, T0)
    assert member.evaluate_tier(PROGRAMME, T0) is Tier.SEED


def test_an_operator_floor_holds_the_tier_up():
    member = member_with_spend(100)
    member.assign_tier_floor(Tier.CORE, "ops-1", "VIP list", T0)
    assert [type(e).__name__ for e in member.collect_events()] == ["TierFloorAssigned"]
    assert member.evaluate_tier(PROGRAMME, T0) is Tier.CORE
    (changed,) = tier_events(member)
    assert changed.reason is TierChangeReason.FLOOR


def test_floor_commands_are_validated():
    member = member_with_spend(100)
    with pytest.raises(InvalidArgument):
        member.assign_tier_floor("CORE", "ops", "x", T0)
    with pytest.raises(RuleViolation):
        member.assign_tier_floor(None, "ops", "x", T0)
    assert member.collect_events() == []
