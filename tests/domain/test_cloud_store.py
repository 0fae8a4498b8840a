import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import CoordSystem, Location, convert
from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

T0 = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 Shanghai
SHANGHAI_WGS = Location(31.2304, 121.4737)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def open_store(**changes) -> CloudStore:
    args: dict[str, Any] = dict(
        brand="acme",
        code="SH-001",
        name="Nanjing Road",
        location=SHANGHAI_WGS,
        service_radius_m=3000,
        modes=[FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP],
        dealer_id="dealer-a",
        hours=OpeningHours.every_day(9 * 60, 22 * 60),
        daily_capacity=0,
        at=T0,
    )
    args.update(changes)
    return CloudStore.open(**args)


def event_names(store: CloudStore) -> list[str]:
    return [type(e).__name__ for e in store.collect_events()]


def replayed(events) -> CloudStore:
    store = None
    for e in events:
        store = e.mutate(store)
    assert isinstance(store, CloudStore)
    return store


def test_opening_converts_the_location_to_wgs84_and_keeps_the_original():
    gcj = convert(SHANGHAI_WGS, CoordSystem.GCJ02)
    store = open_store(location=gcj)
    assert store.location.system is CoordSystem.WGS84
    assert store.location.lat == pytest.approx(SHANGHAI_WGS.lat, abs=1e-7)
    assert store.original_location == gcj
    assert store.status is StoreStatus.OPEN
    assert event_names(store) == ["Opened"]


def test_opening_with_an_explicit_id_uses_it():
    sid = uuid4()
    assert open_store(id=sid).id == sid


@pytest.mark.parametrize(
    "bad",
    [
        {"service_radius_m": 0},
        {"service_radius_m": 1.5},
        {"modes": []},
        {"modes": ["DELIVERY"]},
        {"dealer_id": ""},
        {"daily_capacity": -1},
        {"location": (31.0, 121.0)},
        {"at": datetime(2024, 1, 1)},
        {"online_orders_enabled": "yes"},
    ],
)
def test_opening_rejects_malformed_arguments(bad):
    with pytest.raises(InvalidArgument):
        open_store(**bad)


def test_suspend_reopen_close_lifecycle():
    store = open_store()
    store.suspend("renovation", T0 + hours(1))
    assert store.status is StoreStatus.SUSPENDED and store.suspension_reason == "renovation"
    store.reopen(T0 + hours(2))
    store.close(T0 + hours(3))
    assert store.status is StoreStatus.CLOSED
    assert event_names(store) == ["Opened", "Suspended", "Reopened", "Closed"]


def test_a_closed_store_refuses_every_change_and_records_nothing():
    store = open_store()
    store.close(T0)
    store.collect_events()
    attempts = [
        lambda: store.suspend("x", T0),
        lambda: store.reopen(T0),
        lambda: store.close(T0),
        lambda: store.relocate(SHANGHAI_WGS, T0),
        lambda: store.change_hours(OpeningHours.always(), T0),
        lambda: store.change_capacity(5, T0),
        lambda: store.toggle_online_orders(False, T0),
        lambda: store.transfer_to_dealer("dealer-b", T0 + hours(1), T0),
        lambda: store.accept_order(uuid4(), T0),
    ]
    for attempt in attempts:
        with pytest.raises(RuleViolation):
            attempt()
    assert store.collect_events() == []


def test_reopening_an_open_store_is_refused():
    with pytest.raises(RuleViolation) as e:
        open_store().reopen(T0)
    assert e.value.reason == "STORE_NOT_SUSPENDED"


def test_settings_changes_are_recorded():
    store = open_store()
    store.relocate(Location(31.3, 121.5, CoordSystem.BD09), T0)
    store.change_hours(OpeningHours.always(), T0)
    store.change_capacity(100, T0)
    store.change_service_area(5000, [FulfilmentMode.IN_STORE], T0)
    store.toggle_online_orders(False, T0)
    assert store.location.system is CoordSystem.WGS84
    assert store.daily_capacity == 100 and store.service_radius_m == 5000
    assert store.modes == (FulfilmentMode.IN_STORE,)
    assert not store.online_orders_enabled
    assert event_names(store)[1:] == [
        "Relocated",
        "HoursChanged",
        "CapacityChanged",
        "ServiceAreaChanged",
        "OnlineOrdersToggled",
    ]


def test_toggling_online_orders_to_the_current_state_is_refused():
    with pytest.raises(RuleViolation):
        open_store().toggle_online_orders(True, T0)


def test_dealer_at_follows_the_ownership_history():
    store = open_store()
    store.transfer_to_dealer("dealer-b", T0 + hours(10), T0 + hours(1))
    assert store.dealer_at(T0 + hours(5)) == "dealer-a"
    assert store.dealer_at(T0 + hours(10)) == "dealer-b"  # effective instant inclusive
    assert store.dealer_at(T0 - hours(5)) == "dealer-a"
    assert store.dealer_id == "dealer-b"


def test_a_transfer_cannot_be_backdated_before_the_last_transfer():
    store = open_store()
    store.transfer_to_dealer("dealer-b", T0 + hours(10), T0)
    with pytest.raises(RuleViolation) as e:
        store.transfer_to_dealer("dealer-c", T0 + hours(9), T0)
    assert e.value.reason == "TRANSFER_BEFORE_LAST_TRANSFER"


def test_a_transfer_cannot_reassign_an_order_already_accepted():
    store = open_store()
    store.accept_order(uuid4(), T0 + hours(5))
    with pytest.raises(RuleViolation) as e:
        store.transfer_to_dealer("dealer-b", T0 + hours(4), T0 + hours(6))
    assert e.value.reason == "TRANSFER_BEFORE_ACCEPTED_ORDER"


def test_a_transfer_to_the_current_owner_is_refused():
    with pytest.raises(RuleViolation):
        open_store().transfer_to_dealer("dealer-a", T0 + hours(1), T0)


def test_accepting_an_order_records_the_dealer_owning_the_store_then():
    store = open_store()
    before, after = uuid4(), uuid4()
    store.accept_order(before, T0 + hours(1))
    store.transfer_to_dealer("dealer-b", T0 + hours(2), T0 + hours(1.5))
    store.accept_order(after, T0 + hours(3))
    accepted = [e for e in store.collect_events() if type(e).__name__ == "OrderAccepted"]
    assert [(e.order_id, e.dealer_id) for e in accepted] == [(before, "dealer-a"), (after, "dealer-b")]


def test_revenue_and_refunds_are_booked_to_the_dealer_named_even_after_a_transfer():
    store = open_store()
    order = uuid4()
    store.accept_order(order, T0 + hours(1))
    store.transfer_to_dealer("dealer-b", T0 + hours(2), T0 + hours(1.5))
    store.attribute_order(order, "dealer-a", 10_000, T0 + hours(4))  # paid after the transfer
    store.attribute_order(uuid4(), "dealer-b", 3_000, T0 + hours(4))
    store.attribute_refund(order, "dealer-a", 4_000, T0 + hours(5))
    assert store.ledger()["dealer-a"].net_fen == 6_000
    assert store.revenue_fen("dealer-b") == 3_000 and store.refunds_fen("dealer-b") == 0
    assert store.revenue_fen() == 13_000 and store.net_fen() == 9_000
    refund_event = store.collect_events()[-1]
    assert type(refund_event).__name__ == "RefundAttributed" and refund_event.dealer_id == "dealer-a"


def test_revenue_for_a_dealer_who_never_owned_the_store_is_refused_and_records_nothing():
    store = open_store()
    store.collect_events()
    with pytest.raises(RuleViolation) as e:
        store.attribute_order(uuid4(), "dealer-z", 100, T0)
    assert e.value.reason == "DEALER_NEVER_OWNED_STORE"
    assert store.collect_events() == [] and store.ledger() == {}


def test_a_dealers_refunds_never_exceed_that_dealers_revenue_here():
    store = open_store()
    store.transfer_to_dealer("dealer-b", T0 + hours(1), T0)
    store.attribute_order(uuid4(), "dealer-a", 1_000, T0)
    store.attribute_order(uuid4(), "dealer-b", 5_000, T0 + hours(2))
    order = uuid4()
    store.attribute_refund(order, "dealer-a", 600, T0)
    with pytest.raises(RuleViolation) as e:
        store.attribute_refund(order, "dealer-a", 401, T0)  # dealer-b's revenue does not cover it
    assert e.value.reason == "REFUND_EXCEEDS_REVENUE" and e.value.details["remaining_fen"] == "400"
    store.attribute_refund(order, "dealer-a", 400, T0)
    assert store.net_fen("dealer-a") == 0 and store.net_fen() == 5_000


@pytest.mark.parametrize(
    "attempt",
    [
        lambda s: s.attribute_order("not-a-uuid", "dealer-a", 100, T0),
        lambda s: s.attribute_order(uuid4(), "", 100, T0),
        lambda s: s.attribute_order(uuid4(), "dealer-a", 0, T0),
        lambda s: s.attribute_order(uuid4(), "dealer-a", 100, datetime(2024, 3, 4)),
        lambda s: s.attribute_refund(uuid4(), None, 1, T0),
        lambda s: s.attribute_refund(uuid4(), "dealer-a", -1, T0),
    ],
)
def test_booking_rejects_malformed_arguments(attempt):
    with pytest.raises(InvalidArgument):
        attempt(open_store())


def test_capacity_counts_orders_per_local_day_and_refuses_the_overflow():
    store = open_store(daily_capacity=2)
    late_monday_local = datetime(2024, 3, 4, 15, 30, tzinfo=UTC)  # 23:30 Monday Shanghai
    store.accept_order(uuid4(), late_monday_local)
    store.accept_order(uuid4(), late_monday_local)
    with pytest.raises(RuleViolation) as e:
        store.accept_order(uuid4(), late_monday_local)
    assert e.value.reason == "CAPACITY_REACHED"
    tuesday_local = late_monday_local + hours(1)  # 00:30 Tuesday Shanghai, still Monday in UTC
    store.accept_order(uuid4(), tuesday_local)
    assert store.orders_on_local_day(date(2024, 3, 4)) == 2
    assert store.orders_on_local_day(date(2024, 3, 5)) == 1
    assert store.snapshot(tuesday_local).orders_today == 1


def test_only_the_latest_two_local_days_are_counted():
    store = open_store()
    for day in range(5):
        store.accept_order(uuid4(), T0 + timedelta(days=day))
    assert store.orders_on_local_day(date(2024, 3, 8)) == 1
    assert store.orders_on_local_day(date(2024, 3, 7)) == 1
    assert store.orders_on_local_day(date(2024, 3, 6)) == 0  # forgotten
    assert len(store._recent_days) == 2


def test_a_late_acceptance_for_yesterday_still_counts():
    store = open_store(daily_capacity=1)
    store.accept_order(uuid4(), T0 + timedelta(days=1))
    with pytest.raises(RuleViolation) as e:  # yesterday (another process's clock) is still counted
        store.accept_order(uuid4(), T0 + timedelta(days=1) - hours(1))
    assert e.value.reason == "CAPACITY_REACHED"
    store.accept_order(uuid4(), T0 - hours(1))
    assert store.orders_on_local_day(date(2024, 3, 4)) == 1


def test_an_acceptance_for_a_forgotten_day_is_refused_when_capacity_is_limited_and_not_counted_otherwise():
    capped = open_store(daily_capacity=5)
    capped.accept_order(uuid4(), T0 + timedelta(days=3))
    with pytest.raises(RuleViolation) as e:
        capped.accept_order(uuid4(), T0)
    assert e.value.reason == "CAPACITY_DAY_PAST"
    unlimited = open_store()
    unlimited.accept_order(uuid4(), T0 + timedelta(days=3))
    unlimited.accept_order(uuid4(), T0)
    assert unlimited.orders_on_local_day(date(2024, 3, 4)) == 0
    assert unlimited.orders_on_local_day(date(2024, 3, 7)) == 1


def test_a_suspended_store_does_not_accept_orders():
    store = open_store()
    store.suspend("stocktake", T0)
    with pytest.raises(RuleViolation):
        store.accept_order(uuid4(), T0)


def test_snapshot_carries_the_dealer_at_that_time():
    store = open_store()
    store.transfer_to_dealer("dealer-b", T0 + hours(10), T0)
    assert store.snapshot(T0 + hours(1)).dealer_id == "dealer-a"
    assert store.snapshot(T0 + hours(11)).dealer_id == "dealer-b"
    assert store.snapshot(T0).store_id == store.id


ACCEPTANCES = st.lists(st.integers(0, 10 * 24 * 60), max_size=40)  # minutes after T0, any order
BOOKINGS = st.lists(
    st.tuples(
        st.sampled_from(["dealer-a", "dealer-b"]), st.integers(1, 10_000), st.lists(st.integers(1, 5_000), max_size=3)
    ),
    max_size=8,
)


@given(ACCEPTANCES, BOOKINGS)
def test_the_state_stays_bounded_and_replays_to_the_same_counts_and_ledger(minutes, bookings):
    store = open_store()
    store.transfer_to_dealer("dealer-b", T0 + timedelta(days=20), T0)
    for m in minutes:
        store.accept_order(uuid4(), T0 + timedelta(minutes=m))
    for i, (dealer, amount, refunds) in enumerate(bookings):
        oid = uuid4()
        store.attribute_order(oid, dealer, amount, T0 + timedelta(minutes=i))
        for r in refunds:
            with contextlib.suppress(RuleViolation):
                store.attribute_refund(oid, dealer, r, T0 + timedelta(minutes=i))
    assert len(store._recent_days) <= 2 and len(store.ledger()) <= 2
    for totals in store.ledger().values():
        assert 0 <= totals.refunds_fen <= totals.revenue_fen
    days = [store.hours.local_date(T0 + timedelta(minutes=m)) for m in minutes]
    for day in set(days):  # the latest day and the one before count every acceptance, whatever its order
        expected = days.count(day) if day >= max(days) - timedelta(days=1) else 0
        assert store.orders_on_local_day(day) == expected
    again = replayed(store.collect_events())
    assert again._recent_days == store._recent_days
    assert again.ledger() == store.ledger()
    assert again.net_fen() == store.net_fen()


def test_a_cancelled_order_releases_its_slot_on_the_day_it_was_accepted():
    store = open_store(daily_capacity=1)
    first = uuid4()
    store.accept_order(first, T0)
    with pytest.raises(RuleViolation):
        store.accept_order(uuid4(), T0 + hours(1))
    store.release_order(first, T0, T0 + hours(1))
    store.accept_order(uuid4(), T0 + hours(2))
    assert event_names(store)[-2:] == ["OrderReleased", "OrderAccepted"]
    assert store.orders_on_local_day(store.hours.local_date(T0)) == 1


def test_releasing_on_a_day_no_longer_counted_changes_nothing_and_never_goes_below_zero():
    store = open_store(daily_capacity=5)
    store.release_order(uuid4(), T0, T0)
    assert store.orders_on_local_day(store.hours.local_date(T0)) == 0
    assert replayed(store.collect_events()).orders_on_local_day(store.hours.local_date(T0)) == 0


def test_a_store_opens_for_one_brand_recorded_in_its_opened_event() -> None:
    store = open_store(brand="beta")
    assert store.brand == "beta" and getattr(store.pending_events[0], "brand", None) == "beta"
    with pytest.raises(InvalidArgument):
        open_store(brand="")
