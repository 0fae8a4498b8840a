"""An order's return window is fixed once, at payment, by the programme in force then.

``Order.Paid`` records ``settle_due_at``; the guide's commission and the referrer's
reward become due at that instant and no other, whatever the brand publishes later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidArgument, RuleViolation
from domain.guide import Guide
from domain.member import Member
from domain.order import Order
from domain.programme import LoyaltyProgramme
from tests.domain.test_order import T0, allocated_order

THIRTY_DAYS = replace(LoyaltyProgramme.default("brand-x"), version=2, return_window_days=30)
SEVEN_DAYS = replace(LoyaltyProgramme.default("brand-x"), version=3, return_window_days=7)


def test_paying_fixes_the_settle_due_time_from_the_programme_in_force():
    order = allocated_order()
    order.pay(order.total_fen, THIRTY_DAYS, T0)
    assert order.settle_due_at == T0 + timedelta(days=30)
    paid = order.collect_events()[-1]
    assert isinstance(paid, Order.Paid)
    assert (paid.settle_due_at, paid.programme_version) == (T0 + timedelta(days=30), 2)


def test_an_order_is_paid_only_under_its_own_brands_programme():
    order = allocated_order()
    with pytest.raises(InvalidArgument) as e:
        order.pay(order.total_fen, LoyaltyProgramme.default("brand-y"), T0)
    assert e.value.reason == "PROGRAMME_BRAND_MISMATCH"


def test_a_commission_is_due_when_the_order_says_not_when_the_current_programme_would():
    guide = Guide.hire("brand-x", uuid4(), "wx-1", "Li", T0)
    guide.credit_sale("o-1", guide.store_id, 10_000, 300, SEVEN_DAYS, T0, settle_after=T0 + timedelta(days=30))
    with pytest.raises(RuleViolation) as early:
        guide.settle_commission("o-1", T0 + timedelta(days=8))
    assert early.value.reason == "COMMISSION_NOT_YET_DUE"
    assert guide.settle_commission("o-1", T0 + timedelta(days=30)) == 300


def referrer_with_invitee() -> tuple[Member, Member]:
    referrer = Member.register("brand-x", "o-referrer", T0)
    invitee = Member.register("brand-x", "o-invitee", T0, referrer_id=referrer.id)
    referrer.record_referral(invitee.id, T0)
    return referrer, invitee


def test_a_referral_reward_is_due_at_the_orders_due_time_even_after_the_brand_lengthened_the_window():
    referrer, invitee = referrer_with_invitee()
    due = T0 + timedelta(days=7)  # paid under a 7-day window; the brand now runs 30 days
    lot = referrer.release_referral_reward(invitee.id, "o-1", due, THIRTY_DAYS, due)
    assert lot is not None and lot.points == THIRTY_DAYS.referral_reward_points


def test_a_referral_reward_is_not_released_before_the_orders_due_time_even_after_the_brand_shortened_it():
    referrer, invitee = referrer_with_invitee()
    due = T0 + timedelta(days=30)  # paid under a 30-day window; the brand now runs 7 days
    with pytest.raises(RuleViolation) as early:
        referrer.release_referral_reward(invitee.id, "o-1", due, SEVEN_DAYS, T0 + timedelta(days=8))
    assert early.value.reason == "REWARD_NOT_YET_DUE"


def test_the_programme_in_force_at_a_time_is_the_last_published_by_then():
    from domain.brand_programme import BrandProgramme

    programme = BrandProgramme.publish_first(THIRTY_DAYS, T0)
    programme.publish(SEVEN_DAYS, T0 + timedelta(days=10))
    assert programme.in_force_at(T0 - timedelta(seconds=1)) is None  # still the defaults
    assert programme.in_force_at(T0) == THIRTY_DAYS
    assert programme.in_force_at(T0 + timedelta(days=10)) == SEVEN_DAYS
