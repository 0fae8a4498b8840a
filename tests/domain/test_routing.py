import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attribution import (
    AttributionPolicy,
    AttributionSource,
    EntryContext,
    GuideCreditSource,
    GuideRef,
)
from domain.errors import InvalidArgument
from domain.geo import EARTH_MEAN_RADIUS_M, CoordSystem, Location, convert, haversine_m
from domain.routing import (
    OrderFacts,
    Rejection,
    StepOutcome,
    StepReason,
    StoreSnapshot,
    UnallocatedReason,
    assess,
    decide,
    decide_assessed,
)
from domain.store_values import DayHours, FulfilmentMode, OpeningHours, StoreStatus

NOON_SHANGHAI = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)  # Monday 12:00 in Asia/Shanghai
CUSTOMER = Location(31.2304, 121.4737)
POLICY = AttributionPolicy()
ALL_MODES = tuple(FulfilmentMode)


def store_at(north_m: float, *, sid: int | None = None, **changes) -> StoreSnapshot:
    """A store ``north_m`` metres due north of the customer (exact along a meridian)."""
    lat = CUSTOMER.lat + math.degrees(north_m / EARTH_MEAN_RADIUS_M)
    base = StoreSnapshot(
        store_id=UUID(int=sid) if sid is not None else uuid4(),
        dealer_id="dealer-a",
        lat=lat,
        lng=CUSTOMER.lng,
        service_radius_m=3000,
        modes=ALL_MODES,
        status=StoreStatus.OPEN,
        online_orders_enabled=True,
        hours=OpeningHours.every_day(9 * 60, 22 * 60),
    )
    return replace(base, **changes)


def facts(mode=FulfilmentMode.DELIVERY, **changes) -> OrderFacts:
    return replace(OrderFacts(order_id=uuid4(), mode=mode, customer=CUSTOMER), **changes)


def test_picks_the_nearest_eligible_store():
    near, far = store_at(500), store_at(1500)
    d = decide(facts(), [far, near], POLICY, NOON_SHANGHAI)
    assert d.store_id == near.store_id
    assert d.distance_m == 500
    assert d.attributed_by is AttributionSource.NEAREST
    assert [c.store_id for c in d.candidates] == [near.store_id, far.store_id]


def test_skips_a_suspended_store_and_reports_why():
    near = store_at(500, status=StoreStatus.SUSPENDED)
    far = store_at(1500)
    d = decide(facts(), [near, far], POLICY, NOON_SHANGHAI)
    assert d.store_id == far.store_id
    assert d.candidates[0].rejections == (Rejection.STORE_SUSPENDED,)


def test_reports_every_reason_a_store_is_refused():
    bad = store_at(
        5000,
        status=StoreStatus.CLOSED,
        online_orders_enabled=False,
        modes=(FulfilmentMode.PICKUP,),
        daily_capacity=1,
        orders_today=1,
    )
    d = decide(facts(), [bad], POLICY, NOON_SHANGHAI)
    assert set(d.candidates[0].rejections) == {
        Rejection.STORE_CLOSED,
        Rejection.ONLINE_ORDERS_DISABLED,
        Rejection.MODE_NOT_SUPPORTED,
        Rejection.OUTSIDE_SERVICE_RADIUS,
        Rejection.CAPACITY_REACHED,
    }


def test_a_customer_exactly_on_the_service_radius_is_inside():
    on_edge = store_at(3000)
    assert haversine_m(CUSTOMER.lat, CUSTOMER.lng, on_edge.lat, on_edge.lng) == pytest.approx(3000, abs=1e-6)
    assert decide(facts(), [on_edge], POLICY, NOON_SHANGHAI).store_id == on_edge.store_id


def test_a_customer_one_centimetre_beyond_the_radius_is_outside():
    beyond = store_at(3000.01)
    d = decide(facts(), [beyond], POLICY, NOON_SHANGHAI)
    assert not d.allocated
    assert d.candidates[0].rejections == (Rejection.OUTSIDE_SERVICE_RADIUS,)


def test_pickup_ignores_the_delivery_radius_but_respects_policy_max_distance():
    far = store_at(20_000)
    unlimited_pickup = AttributionPolicy(pickup_max_distance_m=0)
    assert decide(facts(FulfilmentMode.PICKUP), [far], unlimited_pickup, NOON_SHANGHAI).store_id == far.store_id
    capped = AttributionPolicy(max_distance_m=10_000, pickup_max_distance_m=0)
    d = decide(facts(FulfilmentMode.PICKUP), [far], capped, NOON_SHANGHAI)
    assert d.candidates[0].rejections == (Rejection.BEYOND_MAX_DISTANCE,)


def test_a_full_store_overflows_to_the_next_eligible_one():
    full = store_at(100, daily_capacity=50, orders_today=50)
    spare = store_at(900, daily_capacity=50, orders_today=49)
    d = decide(facts(), [full, spare], POLICY, NOON_SHANGHAI)
    assert d.store_id == spare.store_id
    assert d.candidates[0].rejections == (Rejection.CAPACITY_REACHED,)


def test_zero_capacity_means_unlimited():
    busy = store_at(100, daily_capacity=0, orders_today=10_000)
    assert decide(facts(), [busy], POLICY, NOON_SHANGHAI).store_id == busy.store_id


def test_all_stores_suspended_gives_an_unallocated_outcome_with_the_fallback():
    stores = [store_at(m, status=StoreStatus.SUSPENDED) for m in (100, 200, 300)]
    policy = AttributionPolicy(fallback_target="brand-x-online")
    d = decide(facts(), stores, policy, NOON_SHANGHAI)
    assert not d.allocated
    assert d.unallocated_reason is UnallocatedReason.NO_ELIGIBLE_STORE
    assert d.fallback_target == "brand-x-online"
    assert d.explanation[-1].reason is StepReason.NO_ELIGIBLE_STORE


def test_no_candidates_at_all_is_unallocated_not_an_exception():
    d = decide(facts(), [], POLICY, NOON_SHANGHAI)
    assert d.unallocated_reason is UnallocatedReason.NO_CANDIDATES
    assert d.store_id is None and d.dealer_id is None


def test_pickup_outside_opening_hours_is_refused():
    night = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, store shut at 22:00
    store = store_at(100)
    pickup = decide(facts(FulfilmentMode.PICKUP), [store], POLICY, night)
    assert pickup.candidates[0].rejections == (Rejection.OUTSIDE_OPENING_HOURS,)


def test_delivery_goes_to_an_open_store_rather_than_a_nearer_closed_one():
    ten_am = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    evening_only = store_at(200, hours=OpeningHours.every_day(18 * 60, 23 * 60))
    open_now = store_at(2_900)
    d = decide(facts(FulfilmentMode.DELIVERY), [evening_only, open_now], POLICY, ten_am)
    assert d.store_id == open_now.store_id
    assert d.candidates[0].rejections == (Rejection.OUTSIDE_OPENING_HOURS,)


def test_a_brand_may_let_delivery_ignore_opening_hours():
    night = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, store shut at 22:00
    relaxed = AttributionPolicy(delivery_ignores_opening_hours=True)
    assert decide(facts(FulfilmentMode.DELIVERY), [store_at(100)], relaxed, night).allocated
    assert not decide(facts(FulfilmentMode.PICKUP), [store_at(100)], relaxed, night).allocated


def test_pickup_is_refused_beyond_the_pickup_distance_and_the_explanation_says_so():
    far = store_at(10_500, service_radius_m=200_000)
    d = decide(facts(FulfilmentMode.PICKUP), [far], POLICY, NOON_SHANGHAI)
    assert POLICY.pickup_max_distance_m == 10_000
    assert not d.allocated and d.candidates[0].rejections == (Rejection.BEYOND_PICKUP_DISTANCE,)
    assert d.explanation[-1].reason is StepReason.NO_ELIGIBLE_STORE
    assert decide(facts(FulfilmentMode.PICKUP), [store_at(9_900)], POLICY, NOON_SHANGHAI).allocated
    unlimited = AttributionPolicy(pickup_max_distance_m=0)
    assert decide(facts(FulfilmentMode.PICKUP), [far], unlimited, NOON_SHANGHAI).allocated
    assert decide(
        facts(FulfilmentMode.DELIVERY), [store_at(10_500, service_radius_m=20_000)], POLICY, NOON_SHANGHAI
    ).allocated


@pytest.mark.parametrize("bad", [-1, True, 1.5, 1_000_001])
def test_the_pickup_distance_is_a_bounded_whole_number_of_metres(bad):
    with pytest.raises(InvalidArgument) as e:
        AttributionPolicy(pickup_max_distance_m=bad)
    assert e.value.reason == "INVALID_POLICY"


def test_opening_hours_are_judged_on_the_local_day_across_utc_midnight():
    tuesday_breakfast = OpeningHours((DayHours(1, 7 * 60, 10 * 60),))  # Tuesdays 07:00-10:00 Shanghai
    store = store_at(100, hours=tuesday_breakfast)
    monday_2330_utc = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)  # Tuesday 07:30 local
    monday_0100_utc = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)  # Monday 09:00 local
    assert decide(facts(FulfilmentMode.IN_STORE), [store], POLICY, monday_2330_utc).allocated
    assert not decide(facts(FulfilmentMode.IN_STORE), [store], POLICY, monday_0100_utc).allocated


def test_an_overnight_shift_is_open_after_local_midnight():
    late = OpeningHours((DayHours(0, 18 * 60, 26 * 60),))  # Monday 18:00 to Tuesday 02:00
    tuesday_0130_local = datetime(2024, 3, 4, 17, 30, tzinfo=UTC)
    tuesday_0230_local = datetime(2024, 3, 4, 18, 30, tzinfo=UTC)
    assert late.is_open_at(tuesday_0130_local)
    assert not late.is_open_at(tuesday_0230_local)


def test_equidistant_stores_share_orders_fairly_and_deterministically():
    a, b = store_at(1000, sid=1), store_at(1000.5, sid=2)  # within the 1 m tie tolerance
    wins = Counter()
    for _ in range(2000):
        f = facts()
        first = decide(f, [a, b], POLICY, NOON_SHANGHAI)
        assert decide(f, [b, a], POLICY, NOON_SHANGHAI).store_id == first.store_id  # input order irrelevant
        wins[first.store_id] += 1
    assert 900 < wins[a.store_id] < 1100
    step = first.explanation[-1]
    assert step.reason is StepReason.TIE_ROTATION and step.tied_store_ids == (a.store_id, b.store_id)


def test_stores_at_identical_coordinates_are_tied():
    a, b, c = (store_at(700, sid=i) for i in (1, 2, 3))
    chosen = {decide(facts(), [a, b, c], POLICY, NOON_SHANGHAI).store_id for _ in range(200)}
    assert chosen == {a.store_id, b.store_id, c.store_id}


def test_stores_more_than_a_metre_apart_are_not_tied():
    a, b = store_at(1000), store_at(1002)
    assert {decide(facts(), [a, b], POLICY, NOON_SHANGHAI).store_id for _ in range(100)} == {a.store_id}


def test_store_qr_entry_attributes_to_that_store_even_if_another_is_nearer():
    near, qr_store = store_at(100), store_at(2000)
    d = decide(facts(entry=EntryContext.store_qr(qr_store.store_id)), [near, qr_store], POLICY, NOON_SHANGHAI)
    assert d.store_id == qr_store.store_id
    assert d.attributed_by is AttributionSource.ENTRY_CONTEXT


def test_an_ineligible_qr_store_falls_back_down_the_precedence_list():
    home, qr_store = store_at(2500), store_at(200, status=StoreStatus.SUSPENDED)
    f = facts(entry=EntryContext.store_qr(qr_store.store_id), home_store_id=home.store_id)
    d = decide(f, [qr_store, home], POLICY, NOON_SHANGHAI)
    assert d.store_id == home.store_id
    assert d.attributed_by is AttributionSource.HOME_STORE
    assert [(s.source, s.outcome, s.reason) for s in d.explanation] == [
        (AttributionSource.ENTRY_CONTEXT, StepOutcome.SKIPPED, StepReason.INELIGIBLE),
        (AttributionSource.BOUND_GUIDE_STORE, StepOutcome.SKIPPED, StepReason.NO_BOUND_GUIDE),
        (AttributionSource.HOME_STORE, StepOutcome.CHOSEN, StepReason.ELIGIBLE),
    ]
    assert d.explanation[0].rejections == (Rejection.STORE_SUSPENDED,)


def test_a_named_store_not_offered_as_candidate_is_skipped_with_a_reason():
    near = store_at(300)
    d = decide(facts(home_store_id=uuid4()), [near], POLICY, NOON_SHANGHAI)
    assert d.store_id == near.store_id
    assert d.explanation[2].reason is StepReason.NOT_A_CANDIDATE


def test_precedence_is_configurable():
    near, home = store_at(100), store_at(2000)
    f = facts(home_store_id=home.store_id)
    nearest_first = AttributionPolicy(precedence=(AttributionSource.NEAREST, AttributionSource.HOME_STORE))
    assert decide(f, [near, home], nearest_first, NOON_SHANGHAI).store_id == near.store_id
    assert decide(f, [near, home], POLICY, NOON_SHANGHAI).store_id == home.store_id


def test_without_nearest_in_the_precedence_an_order_naming_no_store_is_unallocated():
    policy = AttributionPolicy(precedence=(AttributionSource.ENTRY_CONTEXT,))
    d = decide(facts(), [store_at(100)], policy, NOON_SHANGHAI)
    assert d.unallocated_reason is UnallocatedReason.PRECEDENCE_EXHAUSTED


def test_a_guide_share_credits_the_guide_and_dual_credits_when_another_store_fulfils():
    guide_id, guide_store = uuid4(), store_at(9000)  # too far to deliver
    near = store_at(400)
    f = facts(entry=EntryContext.guide_share(guide_id, guide_store.store_id))
    d = decide(f, [near, guide_store], POLICY, NOON_SHANGHAI)
    assert d.revenue_store_id == near.store_id
    assert d.guide_credit.guide_id == guide_id
    assert d.guide_credit.guide_store_id == guide_store.store_id
    assert d.guide_credit.source is GuideCreditSource.GUIDE_SHARE
    assert d.dual_credit


def test_a_bound_guide_store_that_can_serve_gets_revenue_without_dual_credit():
    guide_store = store_at(1500)
    bound = GuideRef(uuid4(), guide_store.store_id)
    d = decide(facts(bound_guide=bound), [store_at(100), guide_store], POLICY, NOON_SHANGHAI)
    assert d.store_id == guide_store.store_id
    assert d.attributed_by is AttributionSource.BOUND_GUIDE_STORE
    assert d.guide_credit.source is GuideCreditSource.BOUND_GUIDE
    assert not d.dual_credit


def test_a_share_link_guide_outranks_the_bound_guide_for_credit():
    sharer, sharer_store = uuid4(), store_at(200)
    bound = GuideRef(uuid4(), uuid4())
    f = facts(entry=EntryContext.guide_share(sharer, sharer_store.store_id), bound_guide=bound)
    assert decide(f, [sharer_store], POLICY, NOON_SHANGHAI).guide_credit.guide_id == sharer


def test_bound_guide_credit_can_be_switched_off():
    policy = AttributionPolicy(credit_bound_guide=False)
    d = decide(facts(bound_guide=GuideRef(uuid4(), uuid4())), [store_at(100)], policy, NOON_SHANGHAI)
    assert d.guide_credit is None


def test_the_customer_location_is_converted_from_gcj02_before_measuring():
    store = store_at(0)
    gcj = convert(CUSTOMER, CoordSystem.GCJ02)
    assert decide(facts(customer=gcj), [store], POLICY, NOON_SHANGHAI).distance_m == 0


def test_the_decision_names_the_dealer_of_the_snapshot():
    store = store_at(100, dealer_id="dealer-z")
    assert decide(facts(), [store], POLICY, NOON_SHANGHAI).dealer_id == "dealer-z"


def test_the_decision_records_the_programme_version_that_decided_it_allocated_or_not():
    assert decide(facts(), [store_at(100)], POLICY, NOON_SHANGHAI, programme_version=7).programme_version == 7
    unallocated = decide(facts(), [], POLICY, NOON_SHANGHAI, programme_version=3)
    assert not unallocated.allocated and unallocated.programme_version == 3


def test_without_a_programme_version_the_decision_is_of_the_default_programme():
    assert decide(facts(), [store_at(100)], POLICY, NOON_SHANGHAI).programme_version == 1


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2", None])
def test_a_malformed_programme_version_is_refused(bad):
    with pytest.raises(InvalidArgument):
        decide(facts(), [store_at(100)], POLICY, NOON_SHANGHAI, programme_version=bad)


@given(st.lists(st.tuples(st.floats(0, 5000), st.sampled_from(list(StoreStatus)), st.booleans()), max_size=12))
def test_an_allocated_store_is_always_an_eligible_candidate_and_the_nearest_such(specs):
    stores = [store_at(m, status=s, online_orders_enabled=o) for m, s, o in specs]
    d = decide(facts(), stores, POLICY, NOON_SHANGHAI)
    eligible = [c for c in d.candidates if c.eligible]
    assert d.allocated == bool(eligible)
    if d.allocated:
        chosen = next(c for c in d.candidates if c.store_id == d.store_id)
        assert chosen.eligible
        assert chosen.distance_m <= min(c.distance_m for c in eligible) + 1


@given(
    st.lists(st.tuples(st.floats(0, 5000), st.sampled_from(list(StoreStatus)), st.booleans()), max_size=12),
    st.sampled_from(ALL_MODES),
)
def test_deciding_over_stores_weighed_beforehand_is_deciding_over_the_stores(specs, mode):
    """The directory weighs each store once, to choose the candidates, and hands the weights on: same decision."""
    stores = [store_at(m, status=s, online_orders_enabled=o) for m, s, o in specs]
    order = facts(mode)
    weighed = [assess(store, order, CUSTOMER, NOON_SHANGHAI, POLICY, None) for store in stores]
    assert decide_assessed(order, weighed, POLICY, NOON_SHANGHAI) == decide(order, stores, POLICY, NOON_SHANGHAI)
