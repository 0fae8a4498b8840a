"""Guide binding, handover history and merges on the member."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import AlreadyExists, InvalidArgument, RuleViolation
from domain.member import Member, merge
from domain.programme import BindingMode, LoyaltyProgramme

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
LATEST = LoyaltyProgramme.default("acme")  # LATEST_GUIDE_WINS, 30 protection days
FIRST = replace(LATEST, version=2, binding_mode=BindingMode.FIRST_GUIDE_KEEPS)
GUIDE_A, GUIDE_B, GUIDE_C, STORE_1, STORE_2 = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()


def bound_member(programme=LATEST) -> Member:
    member = Member.register("acme", "o", T0)
    member.bind_guide(GUIDE_A, STORE_1, programme, T0)
    member.collect_events()
    return member


def names(member):
    return [type(e).__name__ for e in member.collect_events()]


def rejects(member, error, command, *args, **kwargs):
    with pytest.raises(error):
        command(*args, **kwargs)
    assert member.collect_events() == []


def test_first_binding_sets_guide_and_home_store():
    member = Member.register("acme", "o", T0)
    member.collect_events()
    member.bind_guide(GUIDE_A, STORE_1, LATEST, T0)
    events = member.collect_events()
    assert [type(e).__name__ for e in events] == ["GuideBound", "HomeStoreSet"]
    assert events[0].programme_version == 1
    assert (member.guide_id, member.home_store_id) == (GUIDE_A, STORE_1)


def test_binding_the_same_guide_again_is_rejected():
    member = bound_member()
    rejects(member, AlreadyExists, member.bind_guide, GUIDE_A, STORE_1, LATEST, T0)


def test_first_guide_keeps_the_customer():
    member = bound_member(FIRST)
    rejects(member, RuleViolation, member.bind_guide, GUIDE_B, STORE_2, FIRST, T0 + 400 * DAY)


def test_latest_guide_waits_for_the_protection_period():
    member = bound_member()
    rejects(member, RuleViolation, member.bind_guide, GUIDE_B, STORE_2, LATEST, T0 + 29 * DAY)
    member.bind_guide(GUIDE_B, STORE_2, LATEST, T0 + 30 * DAY)
    assert names(member) == ["GuideUnbound", "GuideBound", "HomeStoreSet"]
    assert member.guide_id == GUIDE_B


def test_unbinding_and_home_store():
    member = bound_member()
    member.unbind_guide("DELETED_IN_WECOM", LATEST, T0)
    assert names(member) == ["GuideUnbound"] and member.guide_id is None
    rejects(member, RuleViolation, member.unbind_guide, "again", LATEST, T0)
    rejects(member, RuleViolation, member.set_home_store, STORE_1, T0)
    member.set_home_store(STORE_2, T0)
    assert names(member) == ["HomeStoreSet"]


def test_binding_rejects_non_uuid_ids():
    member = bound_member()
    rejects(member, InvalidArgument, member.bind_guide, "guide-b", STORE_1, LATEST, T0)


def test_a_customer_is_handed_over_at_most_twice_in_ninety_days():
    member = bound_member()
    member.hand_over(GUIDE_A, GUIDE_B, STORE_1, LATEST, T0)
    member.hand_over(GUIDE_B, GUIDE_C, STORE_2, LATEST, T0 + DAY)
    assert names(member) == ["CustomerHandedOver", "CustomerHandedOver", "HomeStoreSet"]
    assert member.handovers_within(90, T0 + DAY) == 2
    assert not member.can_be_handed_over(LATEST, T0 + 89 * DAY)
    rejects(member, RuleViolation, member.hand_over, GUIDE_C, GUIDE_A, STORE_1, LATEST, T0 + 89 * DAY)
    assert member.can_be_handed_over(LATEST, T0 + 90 * DAY)


def test_handover_needs_the_giving_guide_to_hold_the_customer():
    member = bound_member()
    rejects(member, RuleViolation, member.hand_over, GUIDE_B, GUIDE_C, STORE_1, LATEST, T0)
    rejects(member, RuleViolation, member.hand_over, GUIDE_A, GUIDE_A, STORE_1, LATEST, T0)


def test_profile_update_changes_only_given_fields():
    member = Member.register("acme", "o", T0, phone="13800138000")
    member.collect_events()
    member.update_profile(T0, nickname="Xiao Li")
    assert (member.nickname, member.phone) == ("Xiao Li", "13800138000")
    assert names(member) == ["ProfileUpdated"]
    rejects(member, InvalidArgument, member.update_profile, T0)


def test_merge_carries_lots_as_they_are_and_retires_the_absorbed_member():
    survivor = Member.register("acme", "o-1", T0)
    absorbed = Member.register("acme", "o-2", T0)
    lot = absorbed.earn_points_for_order("order-9", 10_000, LATEST, T0)
    survivor.collect_events(), absorbed.collect_events()
    merge(survivor, absorbed, T0 + DAY)
    (absorbed_event,) = survivor.collect_events()
    (merged_event,) = absorbed.collect_events()
    assert type(absorbed_event).__name__ == "MemberAbsorbed" and absorbed_event.absorbed_id == absorbed.id
    assert absorbed_event.lots[0].lot == lot and absorbed_event.lots[0].remaining == 100
    assert type(merged_event).__name__ == "MergedInto" and merged_event.survivor_id == survivor.id
    assert survivor.pending(T0 + DAY) == 100 and absorbed.pending(T0 + DAY) == 0
    assert survivor.totals().conserved() and absorbed.totals().conserved()
    # the survivor can now reverse the absorbed member's order
    survivor.reverse_order_points("order-9", 10_000, T0 + 2 * DAY)
    assert survivor.pending(T0 + 2 * DAY) == 0


def test_a_merged_member_rejects_further_commands():
    survivor = Member.register("acme", "o-1", T0)
    absorbed = Member.register("acme", "o-2", T0)
    merge(survivor, absorbed, T0)
    survivor.collect_events(), absorbed.collect_events()
    rejects(absorbed, RuleViolation, absorbed.earn_points, "sign-in", 1, LATEST, T0)
    rejects(survivor, RuleViolation, survivor.absorb, absorbed, T0)
    rejects(survivor, RuleViolation, survivor.merge_into, survivor.id, T0)


def test_members_of_different_brands_cannot_merge():
    a, b = Member.register("acme", "o", T0), Member.register("other", "o", T0)
    a.collect_events()
    rejects(a, RuleViolation, a.absorb, b, T0)
