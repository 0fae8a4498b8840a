from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import AlreadyExists, InvalidArgument, NotFound, RuleViolation
from domain.member import Member
from domain.points import LotSource
from domain.programme import LoyaltyProgramme

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PROGRAMME = LoyaltyProgramme.default("acme")


def referrer_with_invitee():
    referrer = Member.register("acme", "old", T0)
    invitee = Member.register("acme", "new", T0, referrer_id=referrer.id)
    referrer.record_referral(invitee.id, T0)
    referrer.collect_events()
    return referrer, invitee


def rejects(member, error, command, *args, **kwargs):
    with pytest.raises(error):
        command(*args, **kwargs)
    assert member.collect_events() == []


def test_invitee_remembers_who_referred_it():
    referrer, invitee = referrer_with_invitee()
    assert invitee.referred_by == referrer.id and referrer.invitees == (invitee.id,)


def test_recording_a_referral_is_an_event_on_the_referrer():
    referrer = Member.register("acme", "old", T0)
    referrer.collect_events()
    referrer.record_referral(uuid4(), T0)
    assert [type(e).__name__ for e in referrer.collect_events()] == ["ReferralRecorded"]


def test_self_referral_is_rejected_at_registration_and_on_record():
    me = uuid4()
    with pytest.raises(RuleViolation):
        Member.register("acme", "o", T0, referrer_id=me, member_id=me)
    member = Member.register("acme", "o", T0)
    member.collect_events()
    rejects(member, RuleViolation, member.record_referral, member.id, T0)


def test_the_same_invitee_cannot_be_recorded_twice():
    referrer, invitee = referrer_with_invitee()
    rejects(referrer, AlreadyExists, referrer.record_referral, invitee.id, T0)


def test_a_two_member_cycle_is_rejected():
    a = Member.register("acme", "a", T0)
    b = Member.register("acme", "b", T0, referrer_id=a.id)  # a referred b
    b.collect_events()
    rejects(b, RuleViolation, b.record_referral, a.id, T0)


def test_a_longer_cycle_is_rejected_with_the_upline():
    c = Member.register("acme", "c", T0)
    c.collect_events()
    grandparent = uuid4()
    rejects(c, RuleViolation, c.record_referral, grandparent, T0, upline=(uuid4(), grandparent))
    rejects(c, InvalidArgument, c.record_referral, uuid4(), T0, upline=["x"])


def test_reward_waits_for_the_first_orders_return_window():
    referrer, invitee = referrer_with_invitee()
    invitee.earn_points_for_order("order-1", 5_000, PROGRAMME, T0)
    first = invitee.first_paid_order
    assert [type(e).__name__ for e in invitee.collect_events()][-1] == "FirstOrderPaid"
    rejects(
        referrer,
        RuleViolation,
        referrer.release_referral_reward,
        invitee.id,
        first.order_id,
        first.paid_at + 7 * DAY,
        PROGRAMME,
        T0 + 6 * DAY,
    )
    lot = referrer.release_referral_reward(invitee.id, first.order_id, first.paid_at + 7 * DAY, PROGRAMME, T0 + 7 * DAY)
    assert lot.source is LotSource.REFERRAL and lot.points == PROGRAMME.referral_reward_points
    assert referrer.balance(T0 + 7 * DAY) == lot.points
    assert [type(e).__name__ for e in referrer.collect_events()] == ["ReferralRewarded"]


def test_a_referral_is_rewarded_once():
    referrer, invitee = referrer_with_invitee()
    referrer.release_referral_reward(invitee.id, "order-1", T0 + 7 * DAY, PROGRAMME, T0 + 8 * DAY)
    referrer.collect_events()
    rejects(
        referrer,
        AlreadyExists,
        referrer.release_referral_reward,
        invitee.id,
        "order-1",
        T0 + 7 * DAY,
        PROGRAMME,
        T0 + 9 * DAY,
    )


def test_rewarding_a_stranger_is_not_found():
    referrer, _ = referrer_with_invitee()
    rejects(
        referrer, NotFound, referrer.release_referral_reward, uuid4(), "order-1", T0 + 7 * DAY, PROGRAMME, T0 + 8 * DAY
    )


def test_rewards_beyond_the_monthly_cap_are_forfeited():
    capped = replace(PROGRAMME, version=4, referral_cap_per_period=1)
    referrer = Member.register("acme", "old", T0)
    first, second, third = uuid4(), uuid4(), uuid4()
    for invitee in (first, second, third):
        referrer.record_referral(invitee, T0)
    referrer.collect_events()
    assert referrer.release_referral_reward(first, "o1", T0 + 7 * DAY, capped, T0 + 8 * DAY) is not None
    assert referrer.release_referral_reward(second, "o2", T0 + 7 * DAY, capped, T0 + 9 * DAY) is None
    events = referrer.collect_events()
    assert [type(e).__name__ for e in events] == ["ReferralRewarded", "ReferralRewardForfeited"]
    assert events[1].reason == "REFERRAL_CAP_REACHED" and events[1].programme_version == 4
    assert referrer.release_referral_reward(third, "o3", T0 + 7 * DAY, capped, T0 + 40 * DAY) is not None  # next month


def test_a_referral_recorded_after_registration_gives_the_invitee_its_referrer():
    invitee = Member.register("acme", "o-late", T0)
    referrer_id = uuid4()
    invitee.accept_referrer(referrer_id, T0)
    assert invitee.referred_by == referrer_id
    with pytest.raises(RuleViolation) as e:
        invitee.accept_referrer(uuid4(), T0)
    assert e.value.reason == "ALREADY_REFERRED"


def test_a_member_who_already_paid_cannot_become_an_invitee():
    member = Member.register("acme", "o-paid", T0)
    member.earn_points_for_order("order-1", 10_000, LoyaltyProgramme.default("acme"), T0)
    with pytest.raises(RuleViolation) as e:
        member.accept_referrer(uuid4(), T0)
    assert e.value.reason == "REFERRAL_TOO_LATE"
    with pytest.raises(RuleViolation) as e:
        member.accept_referrer(member.id, T0)
    assert e.value.reason == "SELF_REFERRAL"
