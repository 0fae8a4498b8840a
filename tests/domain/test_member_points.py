"""Points lots on the member: earning, pending, redemption, expiry, refunds, adjustments."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import AlreadyExists, InvalidArgument, NotFound, RuleViolation
from domain.member import Member
from domain.points import LotAllocation, LotSource
from domain.programme import ExpiryPolicy, LoyaltyProgramme

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PROGRAMME = LoyaltyProgramme.default("acme")
ROLLING = replace(PROGRAMME, version=2, expiry_policy=ExpiryPolicy.ROLLING_DAYS, expiry_days=30)


def new_member() -> Member:
    member = Member.register("acme", "openid-1", T0)
    member.collect_events()
    return member


def names(member: Member) -> list[str]:
    return [type(e).__name__ for e in member.collect_events()]


def rejects(member: Member, error: type, command, *args, **kwargs) -> None:
    version = member.version
    with pytest.raises(error):
        command(*args, **kwargs)
    assert member.version == version and not member.collect_events()


def test_registration_records_identities():
    member = Member.register("acme", "openid-1", T0, unionid="u-1", phone="+86 13800138000")
    assert names(member) == ["Registered"]
    assert {k.kind.value: k.value for k in member.identity_keys()} == {
        "openid": "openid-1",
        "unionid": "u-1",
        "phone": "13800138000",
    }


@pytest.mark.parametrize("kwargs", [{"brand": ""}, {"openid": ""}, {"at": datetime(2024, 1, 1)}, {"phone": "abc"}])
def test_registration_rejects_bad_input(kwargs):
    args = {"brand": "acme", "openid": "o", "at": T0} | kwargs
    with pytest.raises(InvalidArgument):
        Member.register(**args)


def test_order_points_are_pending_through_the_return_window():
    member = new_member()
    lot = member.earn_points_for_order("order-1", 12_345, PROGRAMME, T0)
    assert (lot.points, lot.source, lot.programme_version) == (123, LotSource.ORDER, 1)
    assert member.pending(T0) == 123 and member.balance(T0) == 0
    assert member.balance(T0 + 7 * DAY) == 123 and member.pending(T0 + 7 * DAY) == 0
    assert names(member) == ["PointsEarned", "FirstOrderPaid"]


def test_only_the_first_paid_order_is_recorded_as_first():
    member = new_member()
    member.earn_points_for_order("order-1", 100, PROGRAMME, T0)
    member.earn_points_for_order("order-2", 100, PROGRAMME, T0 + DAY)
    assert member.first_paid_order.order_id == "order-1"
    assert names(member) == ["PointsEarned", "FirstOrderPaid", "PointsEarned"]


def test_earning_twice_for_one_order_is_rejected():
    member = new_member()
    member.earn_points_for_order("order-1", 100, PROGRAMME, T0)
    member.collect_events()
    rejects(member, AlreadyExists, member.earn_points_for_order, "order-1", 100, PROGRAMME, T0)


@pytest.mark.parametrize("paid", [-1, 1.0, True, "100"])
def test_earning_rejects_non_integer_or_negative_fen(paid):
    member = new_member()
    rejects(member, InvalidArgument, member.earn_points_for_order, "order-1", paid, PROGRAMME, T0)


def test_earning_rejects_another_brands_programme_and_naive_times():
    member = new_member()
    rejects(member, InvalidArgument, member.earn_points_for_order, "o", 100, LoyaltyProgramme.default("other"), T0)
    rejects(member, InvalidArgument, member.earn_points, "sign-in", 5, PROGRAMME, datetime(2024, 3, 1))
    rejects(member, InvalidArgument, member.earn_points, "sign-in", 0, PROGRAMME, T0)


def test_rule_points_are_available_at_once():
    member = new_member()
    member.earn_points("sign-in", 5, PROGRAMME, T0)
    assert member.balance(T0) == 5
    assert names(member) == ["PointsEarned"]


def test_redemption_draws_the_soonest_expiring_lots_first():
    member = new_member()
    late = member.earn_points("sign-in", 10, PROGRAMME, T0)  # expires end of next year
    soon = member.earn_points("birthday", 10, ROLLING, T0)  # expires in 30 days
    member.collect_events()
    allocations = member.redeem(15, "coupon-1", T0)
    assert allocations == (LotAllocation(soon.lot_id, 10), LotAllocation(late.lot_id, 5))
    assert member.balance(T0) == 5
    assert names(member) == ["RedemptionDrawn"]


def test_redemption_cannot_use_pending_points():
    member = new_member()
    member.earn_points_for_order("order-1", 10_000, PROGRAMME, T0)
    member.collect_events()
    rejects(member, RuleViolation, member.redeem, 1, "coupon-1", T0)


def test_a_redemption_reference_is_used_once():
    member = new_member()
    member.earn_points("sign-in", 10, PROGRAMME, T0)
    member.redeem(1, "coupon-1", T0)
    member.collect_events()
    rejects(member, AlreadyExists, member.redeem, 1, "coupon-1", T0)
    rejects(member, InvalidArgument, member.redeem, 0, "coupon-2", T0)


def test_expire_due_expires_each_lot_remainder_once():
    member = new_member()
    member.earn_points("a", 10, ROLLING, T0)
    member.earn_points("b", 7, ROLLING, T0 + DAY)
    member.redeem(4, "coupon", T0 + DAY)
    member.collect_events()
    assert member.expire_due(T0 + 30 * DAY) == 6
    assert names(member) == ["PointsExpired"]
    assert member.expire_due(T0 + 31 * DAY) == 7
    assert member.expire_due(T0 + 400 * DAY) == 0
    assert names(member) == ["PointsExpired"]
    assert member.balance(T0 + 31 * DAY) == 0


def test_expired_lots_are_not_available_even_before_the_sweep():
    member = new_member()
    member.earn_points("a", 10, ROLLING, T0)
    assert member.balance(T0 + 30 * DAY) == 0


def test_points_expiring_between_serves_pre_expiry_reminders():
    member = new_member()
    member.earn_points("a", 10, ROLLING, T0)
    member.earn_points("b", 20, PROGRAMME, T0)
    assert member.points_expiring_between(T0 + 29 * DAY, T0 + 31 * DAY) == 10
    assert member.points_expiring_between(T0, T0 + DAY) == 0


def test_full_refund_reverses_the_order_lot():
    member = new_member()
    member.earn_points_for_order("order-1", 10_000, PROGRAMME, T0)
    member.collect_events()
    assert member.reverse_order_points("order-1", 10_000, T0 + DAY) == 0
    assert member.pending(T0 + DAY) == 0
    assert names(member) == ["OrderPointsReversed"]


def test_partial_refunds_are_proportional_and_never_exceed_the_earning():
    member = new_member()
    member.earn_points_for_order("order-1", 999, PROGRAMME, T0)  # 9 points
    member.reverse_order_points("order-1", 333, T0)  # 9*333//999 = 3
    member.reverse_order_points("order-1", 333, T0)  # 9*666//999 - 3 = 3
    member.reverse_order_points("order-1", 333, T0)  # 9 - 6 = 3
    assert member.totals().reversed == 9 and member.pending(T0) == 0
    member.collect_events()
    rejects(member, RuleViolation, member.reverse_order_points, "order-1", 1, T0)


def test_refund_after_redemption_takes_from_other_lots_then_records_debt():
    member = new_member()
    member.earn_points_for_order("order-1", 10_000, PROGRAMME, T0)  # 100 points
    member.earn_points("sign-in", 30, PROGRAMME, T0)
    later = T0 + 8 * DAY
    member.redeem(120, "coupon", later)  # 120 of the 130 points
    member.collect_events()
    shortfall = member.reverse_order_points("order-1", 10_000, later)
    assert member.balance(later) == 0
    assert shortfall == 90 and member.debt == 90
    member.earn_points("sign-in", 100, PROGRAMME, later)
    assert member.debt == 0 and member.balance(later) == 10


def test_reversal_of_an_unknown_order_is_not_found():
    member = new_member()
    rejects(member, NotFound, member.reverse_order_points, "nope", 1, T0)


def test_positive_adjustment_creates_an_available_lot():
    member = new_member()
    member.adjust(50, "compensation", "ops-1", PROGRAMME, T0, corrects="event-7")
    assert member.balance(T0) == 50
    events = member.collect_events()
    assert [type(e).__name__ for e in events] == ["PointsAdjusted"]
    assert events[0].corrects == "event-7" and events[0].programme_version == 1


def test_negative_adjustment_cannot_go_below_zero():
    member = new_member()
    member.earn_points("sign-in", 10, PROGRAMME, T0)
    member.adjust(-4, "fraud", "ops-1", PROGRAMME, T0)
    assert member.balance(T0) == 6
    member.collect_events()
    rejects(member, RuleViolation, member.adjust, -7, "fraud", "ops-1", PROGRAMME, T0)
    rejects(member, InvalidArgument, member.adjust, 0, "noop", "ops-1", PROGRAMME, T0)
    rejects(member, InvalidArgument, member.adjust, 1, "x", "", PROGRAMME, T0)


def test_history_lists_every_movement():
    member = new_member()
    member.earn_points("sign-in", 10, PROGRAMME, T0)
    member.redeem(3, "coupon", T0)
    assert [(m.kind, m.points) for m in member.history()] == [("EARNED", 10), ("REDEEMED", -3)]
