"""The shopping guide: employment, customers, handover, credits, commission."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import AlreadyExists, InvalidArgument, NotFound, RuleViolation
from domain.guide import CreditKind, Guide, HandoverKind
from domain.programme import LoyaltyProgramme

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PROGRAMME = LoyaltyProgramme.default("acme")
SMALL = replace(PROGRAMME, version=5, guide_customer_limit=2)
STORE_1, STORE_2 = uuid4(), uuid4()


def hired(name="Li") -> Guide:
    guide = Guide.hire("acme", STORE_1, f"wecom-{name}", name, T0)
    guide.collect_events()
    return guide


def names(guide):
    return [type(e).__name__ for e in guide.collect_events()]


def rejects(guide, error, command, *args, **kwargs):
    with pytest.raises(error):
        command(*args, **kwargs)
    assert guide.collect_events() == []


def test_hiring_records_store_and_wecom_id():
    guide = Guide.hire("acme", STORE_1, "zhangsan", "Zhang", T0)
    assert names(guide) == ["Hired"] and guide.wecom_userid == "zhangsan"


@pytest.mark.parametrize(
    "kwargs", [{"store_id": "s1"}, {"wecom_userid": ""}, {"name": ""}, {"at": datetime(2024, 1, 1)}]
)
def test_hiring_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        Guide.hire(**({"brand": "acme", "store_id": STORE_1, "wecom_userid": "w", "name": "n", "at": T0} | kwargs))


def test_moving_and_leaving():
    guide = hired()
    rejects(guide, RuleViolation, guide.move_to_store, STORE_1, T0)
    guide.move_to_store(STORE_2, T0)
    guide.leave(T0 + DAY)
    assert names(guide) == ["MovedToStore", "Left"] and not guide.employed
    rejects(guide, RuleViolation, guide.leave, T0 + DAY)
    rejects(guide, RuleViolation, guide.add_customer, uuid4(), PROGRAMME, T0)


def test_adding_a_customer_earns_a_credit():
    guide = hired()
    member = uuid4()
    guide.add_customer(member, PROGRAMME, T0)
    events = guide.collect_events()
    assert [type(e).__name__ for e in events] == ["CustomerAdded", "CreditEarned"]
    assert events[1].kind is CreditKind.CUSTOMER_ADDED and guide.credits == 1
    rejects(guide, AlreadyExists, guide.add_customer, member, PROGRAMME, T0)


def test_customer_limit():
    guide = hired()
    guide.add_customer(uuid4(), SMALL, T0)
    guide.add_customer(uuid4(), SMALL, T0)
    guide.collect_events()
    rejects(guide, RuleViolation, guide.add_customer, uuid4(), SMALL, T0)


def test_releasing_a_customer():
    guide = hired()
    member = uuid4()
    guide.add_customer(member, PROGRAMME, T0)
    guide.collect_events()
    guide.release_customer(member, "DELETED_IN_WECOM", T0)
    assert names(guide) == ["CustomerReleased"]
    rejects(guide, NotFound, guide.release_customer, member, "again", T0)


def test_referral_credit_is_earned_once_per_invitee():
    guide = hired()
    invitee = uuid4()
    guide.credit_referral(invitee, PROGRAMME, T0)
    assert names(guide) == ["CreditEarned"] and guide.credits == PROGRAMME.guide_credit_referral
    rejects(guide, AlreadyExists, guide.credit_referral, invitee, PROGRAMME, T0)


# ---------------------------------------------------------------- handover


def giver_with(customers):
    giver = hired("giver")
    for member in customers:
        giver.add_customer(member, PROGRAMME, T0)
    giver.collect_events()
    return giver


def test_a_leaving_guide_hands_customers_over_and_they_leave_on_acceptance():
    a, b = uuid4(), uuid4()
    giver, receiver = giver_with([a, b]), hired("receiver")
    giver.leave(T0)
    giver.start_handover((a, b), receiver.id, HandoverKind.RESIGNATION, T0)
    assert names(giver) == ["Left", "HandoverStarted"]
    assert receiver.offer_handover(giver.id, (a, b), HandoverKind.RESIGNATION, PROGRAMME, T0) == ()
    offered = receiver.collect_events()
    assert [type(e).__name__ for e in offered] == ["HandoverOffered"]
    assert offered[0].due_at == T0 + timedelta(hours=24)
    receiver.accept_handover(a, T0 + timedelta(hours=1))
    receiver.refuse_handover(b, "NOT_MY_AREA", T0 + timedelta(hours=2))
    assert names(receiver) == ["HandoverAccepted", "HandoverRefused"]
    assert a in receiver.customers and b not in receiver.customers
    giver.conclude_handover(a, True, "ACCEPTED", T0 + DAY)
    giver.conclude_handover(b, False, "NOT_MY_AREA", T0 + DAY)
    assert names(giver) == ["HandoverConcluded", "HandoverConcluded"]
    assert set(giver.customers) == {b}


def test_offers_auto_complete_after_the_waiting_period():
    a, b = uuid4(), uuid4()
    receiver = hired("receiver")
    giver_id = uuid4()
    receiver.offer_handover(giver_id, (a,), HandoverKind.REASSIGNMENT, PROGRAMME, T0)
    receiver.offer_handover(giver_id, (b,), HandoverKind.REASSIGNMENT, PROGRAMME, T0 + DAY)
    receiver.collect_events()
    assert receiver.complete_due_handovers(T0 + timedelta(hours=23)) == ()
    assert receiver.complete_due_handovers(T0 + timedelta(hours=24)) == (a,)
    (accepted,) = receiver.collect_events()
    assert type(accepted).__name__ == "HandoverAccepted" and accepted.automatic is True


def test_a_receiver_at_its_limit_refuses_the_overflow_with_a_reason():
    receiver = hired("receiver")
    receiver.add_customer(uuid4(), SMALL, T0)
    receiver.collect_events()
    a, b = uuid4(), uuid4()
    assert receiver.offer_handover(uuid4(), (a, b), HandoverKind.RESIGNATION, SMALL, T0) == (b,)
    events = receiver.collect_events()
    assert [type(e).__name__ for e in events] == ["HandoverOffered", "HandoverRefused"]
    assert events[1].reason == "RECEIVER_AT_CUSTOMER_LIMIT" and events[1].member_id == b


def test_handover_commands_are_checked():
    a = uuid4()
    giver, receiver = giver_with([a]), hired("receiver")
    rejects(giver, NotFound, giver.start_handover, (uuid4(),), receiver.id, HandoverKind.REASSIGNMENT, T0)
    rejects(giver, InvalidArgument, giver.start_handover, (), receiver.id, HandoverKind.REASSIGNMENT, T0)
    rejects(giver, InvalidArgument, giver.start_handover, (a, a), receiver.id, HandoverKind.REASSIGNMENT, T0)
    rejects(giver, RuleViolation, giver.start_handover, (a,), giver.id, HandoverKind.REASSIGNMENT, T0)
    giver.start_handover((a,), receiver.id, HandoverKind.REASSIGNMENT, T0)
    giver.collect_events()
    rejects(giver, RuleViolation, giver.start_handover, (a,), receiver.id, HandoverKind.REASSIGNMENT, T0)
    rejects(giver, RuleViolation, giver.release_customer, a, "x", T0)
    rejects(giver, NotFound, giver.conclude_handover, uuid4(), True, "x", T0)
    rejects(receiver, NotFound, receiver.accept_handover, a, T0)
    rejects(receiver, NotFound, receiver.refuse_handover, a, "x", T0)
    rejects(
        receiver, RuleViolation, receiver.offer_handover, receiver.id, (a,), HandoverKind.REASSIGNMENT, PROGRAMME, T0
    )


def test_reassignment_needs_an_employed_giver():
    a = uuid4()
    giver = giver_with([a])
    giver.leave(T0)
    giver.collect_events()
    rejects(giver, RuleViolation, giver.start_handover, (a,), uuid4(), HandoverKind.REASSIGNMENT, T0)


# ---------------------------------------------------------------- commission


def invariant(guide, credited, clawed):
    return credited - clawed == guide.frozen_fen + guide.settled_fen - guide.debt_fen


def test_a_sale_is_frozen_then_settled_after_the_return_window():
    guide = hired()
    guide.credit_sale("order-1", STORE_1, 10_000, 300, PROGRAMME, T0, settle_after=T0 + 7 * DAY)
    events = guide.collect_events()
    assert [type(e).__name__ for e in events] == ["SaleCredited", "CreditEarned"]
    assert events[1].kind is CreditKind.SALES and guide.frozen_fen == 300
    rejects(guide, RuleViolation, guide.settle_commission, "order-1", T0 + 6 * DAY)
    assert guide.settle_commission("order-1", T0 + 7 * DAY) == 300
    assert names(guide) == ["CommissionSettled"]
    assert (guide.frozen_fen, guide.settled_fen) == (0, 300)
    rejects(guide, AlreadyExists, guide.settle_commission, "order-1", T0 + 8 * DAY)


def test_claw_back_before_settlement_reduces_the_frozen_amount():
    guide = hired()
    guide.credit_sale("order-1", STORE_1, 10_000, 300, PROGRAMME, T0, settle_after=T0 + 7 * DAY)
    assert guide.claw_back("order-1", 5_000, T0 + DAY) == 150
    assert guide.settle_commission("order-1", T0 + 7 * DAY) == 150
    assert invariant(guide, 300, 150)


def test_claw_back_after_settlement_becomes_debt_offset_by_later_settlements():
    guide = hired()
    guide.credit_sale("order-1", STORE_1, 10_000, 300, PROGRAMME, T0, settle_after=T0 + 7 * DAY)
    guide.credit_sale("order-2", STORE_1, 10_000, 300, PROGRAMME, T0 + DAY, settle_after=T0 + 8 * DAY)
    guide.settle_commission("order-1", T0 + 7 * DAY)
    guide.collect_events()
    assert guide.claw_back("order-1", 10_000, T0 + 8 * DAY) == 300
    (event,) = guide.collect_events()
    assert type(event).__name__ == "CommissionClawedBack" and event.debt_fen == 300
    assert guide.debt_fen == 300
    assert guide.settle_commission("order-2", T0 + 8 * DAY) == 0
    assert guide.debt_fen == 0 and invariant(guide, 600, 300)


def test_commission_commands_are_checked():
    guide = hired()
    rejects(
        guide,
        InvalidArgument,
        guide.credit_sale,
        "order-1",
        STORE_1,
        100,
        101,
        PROGRAMME,
        T0,
        settle_after=T0 + 7 * DAY,
    )
    rejects(
        guide,
        InvalidArgument,
        guide.credit_sale,
        "order-1",
        STORE_1,
        100.0,
        1,
        PROGRAMME,
        T0,
        settle_after=T0 + 7 * DAY,
    )
    guide.credit_sale("order-1", STORE_1, 100, 3, PROGRAMME, T0, settle_after=T0 + 7 * DAY)
    guide.collect_events()
    rejects(
        guide, AlreadyExists, guide.credit_sale, "order-1", STORE_1, 100, 3, PROGRAMME, T0, settle_after=T0 + 7 * DAY
    )
    rejects(guide, NotFound, guide.settle_commission, "order-x", T0)
    rejects(guide, RuleViolation, guide.claw_back, "order-1", 101, T0)
