import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attribution import AttributionPolicy, EntryContext
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import CoordSystem, Location
from domain.order import Order, OrderLine, OrderStatus
from domain.programme import LoyaltyProgramme
from domain.routing import OrderFacts, StoreSnapshot, UnallocatedReason, decide
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

T0 = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)
CUSTOMER = Location(31.2304, 121.4737)
PROGRAMME = LoyaltyProgramme.default("brand-x")
STORE = StoreSnapshot(
    uuid4(), "dealer-a", 31.2310, 121.4740, 3000, tuple(FulfilmentMode), StoreStatus.OPEN, True, OpeningHours.always()
)


def place(**changes) -> Order:
    args: dict[str, Any] = dict(
        member_id=uuid4(),
        brand="brand-x",
        mode=FulfilmentMode.DELIVERY,
        customer_location=CUSTOMER,
        lines=[OrderLine("SKU-1", 2, 1_500), OrderLine("SKU-2", 1, 900)],
        at=T0,
    )
    args.update(changes)
    return Order.place(**args)


def routed(order: Order, stores=(STORE,)):
    facts = OrderFacts(order.id, order.mode, order.customer_location, order.entry)
    return decide(facts, list(stores), AttributionPolicy(fallback_target="brand-x-online"), T0)


def allocated_order(**changes) -> Order:
    order = place(**changes)
    order.allocate(routed(order), T0)
    return order


def paid_order() -> Order:
    order = allocated_order()
    order.pay(order.total_fen, PROGRAMME, T0)
    return order


def names(order: Order) -> list[str]:
    return [type(e).__name__ for e in order.collect_events()]


def test_the_total_is_the_sum_of_the_lines():
    assert place().total_fen == 3_900


def test_an_order_can_be_placed_with_a_total_only():
    assert place(lines=(), total_fen=1_234).total_fen == 1_234


@pytest.mark.parametrize(
    "bad",
    [
        {"lines": (), "total_fen": None},
        {"total_fen": 1},
        {"lines": (), "total_fen": 0},
        {"member_id": "m"},
        {"mode": "DELIVERY"},
        {"at": datetime(2024, 1, 1)},
        {"entry": "STORE_QR"},
    ],
)
def test_placing_rejects_malformed_orders(bad):
    with pytest.raises(InvalidArgument):
        place(**bad)


def test_order_lines_reject_non_positive_quantities():
    with pytest.raises(InvalidArgument):
        OrderLine("SKU", 0, 100)


def test_the_customer_location_is_stored_in_wgs84_with_the_original():
    gcj = Location(31.2284, 121.4781, CoordSystem.GCJ02)
    order = place(customer_location=gcj)
    assert order.customer_location.system is CoordSystem.WGS84
    assert order.original_customer_location == gcj


def test_the_happy_path_places_allocates_pays_and_fulfils():
    order = allocated_order(entry=EntryContext.store_qr(STORE.store_id))
    order.pay(3_900, PROGRAMME, T0)
    order.fulfil(T0)
    assert order.status is OrderStatus.FULFILLED
    assert order.store_id == STORE.store_id and order.dealer_id == "dealer-a"
    assert names(order) == ["Placed", "Allocated", "Paid", "Fulfilled"]


def test_an_unallocated_order_records_the_reason_and_fallback_and_can_still_be_paid():
    order = place()
    decision = routed(order, stores=[replace(STORE, status=StoreStatus.SUSPENDED)])
    order.leave_unallocated(decision, T0)
    assert order.status is OrderStatus.UNALLOCATED
    assert order.fallback_target == "brand-x-online"
    order.pay(order.total_fen, PROGRAMME, T0)
    events = order.collect_events()
    assert events[1].reason is UnallocatedReason.NO_ELIGIBLE_STORE


def test_an_unallocated_order_can_be_rerouted_later():
    order = place()
    order.leave_unallocated(routed(order, stores=[]), T0)
    order.allocate(routed(order), T0 + timedelta(minutes=5))
    assert order.status is OrderStatus.ALLOCATED and order.fallback_target is None


def test_a_decision_for_another_order_is_refused():
    order, other = place(), place()
    with pytest.raises(InvalidArgument):
        order.allocate(routed(other), T0)


def test_payment_before_routing_is_refused():
    with pytest.raises(RuleViolation) as e:
        place().pay(3_900, PROGRAMME, T0)
    assert e.value.reason == "ORDER_PLACED"


def test_payment_must_equal_the_total():
    order = allocated_order()
    with pytest.raises(RuleViolation) as e:
        order.pay(3_899, PROGRAMME, T0)
    assert e.value.reason == "PAYMENT_AMOUNT_MISMATCH"


def test_an_order_is_paid_only_once():
    order = paid_order()
    with pytest.raises(RuleViolation):
        order.pay(order.total_fen, PROGRAMME, T0)


def test_cancel_is_allowed_before_payment_only():
    order = allocated_order()
    order.cancel("changed my mind", T0)
    assert order.status is OrderStatus.CANCELLED
    with pytest.raises(RuleViolation) as e:
        paid_order().cancel("too late", T0)
    assert e.value.reason == "ORDER_PAID"


def test_fulfilment_needs_payment():
    with pytest.raises(RuleViolation):
        allocated_order().fulfil(T0)


def test_partial_refunds_keep_the_order_paid_and_a_full_refund_marks_it_refunded():
    order = paid_order()
    order.refund("r1", 1_000, T0)
    assert order.status is OrderStatus.PAID
    order.fulfil(T0)
    order.refund("r2", 2_900, T0)
    assert order.status is OrderStatus.REFUNDED and order.refunded_fen == 3_900


def test_refunds_never_exceed_what_was_paid():
    order = paid_order()
    order.refund("r1", 3_000, T0)
    order.collect_events()
    with pytest.raises(RuleViolation) as e:
        order.refund("r2", 901, T0)
    assert e.value.reason == "REFUND_EXCEEDS_PAID"
    assert order.collect_events() == []


def test_a_refund_id_is_used_once():
    order = paid_order()
    order.refund("r1", 100, T0)
    with pytest.raises(RuleViolation) as e:
        order.refund("r1", 100, T0)
    assert e.value.reason == "DUPLICATE_REFUND"


def test_refund_before_payment_is_refused():
    with pytest.raises(RuleViolation):
        allocated_order().refund("r1", 100, T0)


@given(st.lists(st.integers(1, 4_000), max_size=10))
def test_cumulative_refunds_never_exceed_the_paid_amount(amounts):
    order = paid_order()
    for i, amount in enumerate(amounts):
        with contextlib.suppress(RuleViolation):
            order.refund(f"r{i}", amount, T0)
    assert 0 <= order.refunded_fen <= order.paid_fen
    assert (order.status is OrderStatus.REFUNDED) == (order.refunded_fen == order.paid_fen)
    replay = None
    for e in order.collect_events():
        replay = e.mutate(replay)
    assert replay.refunded_fen == order.refunded_fen and replay.status is order.status


def test_a_refund_keeps_the_reason_given_and_an_empty_one_means_none() -> None:
    order = paid_order()
    order.refund("r-1", 100, T0, "arrived damaged")
    order.refund("r-2", 100, T0)
    assert [(r.refund_id, r.amount_fen, r.reason) for r in order.refunds] == [
        ("r-1", 100, "arrived damaged"),
        ("r-2", 100, ""),
    ]
    refunded: Any = order.collect_events()[-2]
    assert refunded.reason == "arrived damaged"


def test_an_order_past_its_payment_time_cannot_be_paid_and_the_server_may_cancel_it() -> None:
    order = place(payment_due_at=T0 + timedelta(minutes=120))
    order.allocate(routed(order), T0)
    order.collect_events()
    with pytest.raises(RuleViolation) as e:
        order.cancel_unpaid(T0 + timedelta(minutes=119))
    assert e.value.reason == "PAYMENT_NOT_YET_DUE"
    with pytest.raises(RuleViolation) as e:
        order.pay(order.total_fen, PROGRAMME, T0 + timedelta(minutes=120))
    assert e.value.reason == "PAYMENT_TIMED_OUT"
    order.cancel_unpaid(T0 + timedelta(minutes=121))
    assert order.status is OrderStatus.CANCELLED
    assert [(type(e).__name__, getattr(e, "reason", None)) for e in order.collect_events()] == [
        ("Cancelled", "PAYMENT_TIMED_OUT")
    ]


def test_an_order_paid_in_time_is_paid_and_one_without_a_timeout_is_never_cancelled_by_it() -> None:
    order = place(payment_due_at=T0 + timedelta(minutes=120))
    order.allocate(routed(order), T0)
    order.pay(order.total_fen, PROGRAMME, T0 + timedelta(minutes=119))
    assert order.status is OrderStatus.PAID
    forever = allocated_order()
    with pytest.raises(RuleViolation) as e:
        forever.cancel_unpaid(T0 + timedelta(days=3650))
    assert e.value.reason == "PAYMENT_NOT_YET_DUE"
