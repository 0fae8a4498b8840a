"""Snapshots: every aggregate's full state survives the mapper with exact types.

A snapshot is ``vars(aggregate)``: unlike events it holds sets, Counters, dicts
keyed by UUIDs and dates, lists of tuples and the aggregates' private state
values. Each workload below drives one aggregate through its public commands
(test_event_round_trip reuses them, so they must trigger every event class).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid5

import pytest
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from application.repository import Repository
from domain.attribution import AttributionPolicy, EntryContext, GuideRef
from domain.cloud_store import CloudStore
from domain.drop import Drop, DropEntry, DropPool, EarlyAccess, InviteeFacts, commitment_of
from domain.geo import CoordSystem, Location
from domain.guide import Guide, HandoverKind
from domain.identity import IdentityIndex, IdentityKind
from domain.member import Member, merge
from domain.order import Order, OrderLine
from domain.programme import LoyaltyProgramme
from domain.routing import OrderFacts, decide
from domain.stock import Protection, StoreStock
from domain.store_values import FulfilmentMode, OpeningHours
from domain.tiers import Tier
from infrastructure.event_store import EventStore
from infrastructure.mapper import COMPACT, build_mapper, build_transcoder, domain_value_types, register_domain_types
from infrastructure.transcoder import (
    OrjsonTranscoder,
    default_transcodings,
)

T0 = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
BRAND = "acme"
PROGRAMME = LoyaltyProgramme(BRAND, version=3, referral_cap_per_period=1)
NS = UUID("0b0c5e7a-6a43-4b8e-9f3c-2f6f0f4d8a11")

A = TypeVar("A", bound=Aggregate)


def ids(name: str) -> UUID:
    """Stable ids, so failures reproduce."""
    return uuid5(NS, name)


# --- strict equality ---------------------------------------------------------------------


def difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where ``a`` and ``b`` differ in value or in type at any depth, else None.

    Stricter than ``==``: 1 != True != 1.0, "red" != Colour.RED, tuples != lists,
    set != frozenset, Counter != dict; dict keys are compared in order and by type.
    """
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        if len(a) != len(b):
            return f"{path}: {len(a)} keys != {len(b)} keys"
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            where = difference(ka, kb, f"{path}.keys()[{ka!r}]") or difference(va, vb, f"{path}[{ka!r}]")
            if where:
                return where
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if where := difference(x, y, f"{path}[{i}]"):
                return where
        return None
    if isinstance(a, (set, frozenset)):
        if a != b:
            return f"{path}: {a!r} != {b!r}"
        twins = {x: x for x in b}
        for x in a:
            if where := difference(x, twins[x], f"{path}{{{x!r}}}"):
                return where
        return None
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if where := difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}"):
                return where
        return None
    if isinstance(a, Aggregate):
        return difference(state_of(a), state_of(b), f"{path}<{type(a).__name__}>")
    return None if a == b else f"{path}: {a!r} != {b!r}"


def strictly_equal(a: Any, b: Any) -> bool:
    return difference(a, b) is None


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    """What defines an aggregate: its attributes (in name order: a snapshot restores
    ``_id`` and ``_version`` last) but not its not-yet-collected events."""
    return {k: v for k, v in sorted(vars(aggregate).items()) if k != "_pending_events"}


class Colour(str, Enum):
    RED = "red"


def test_strict_equality_sees_types_that_plain_equality_ignores() -> None:
    assert strictly_equal({ids("a"): [(1, {"x"})]}, {ids("a"): [(1, {"x"})]})
    assert not strictly_equal({"red": 1}, {Colour.RED: 1})
    assert not strictly_equal({1}, {True})
    assert not strictly_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not strictly_equal(Counter({"a": 1}), {"a": 1})
    assert not strictly_equal(frozenset({1}), {1})
    assert not strictly_equal([(1,)], [[1]])


# --- workloads: each returns aggregates with every event still pending ------------------


def member_workload() -> list[Aggregate]:
    """Earnings, redemption, refund, adjustments, tiers, referrals, guides, expiry, merge."""
    p = PROGRAMME
    member = Member.register(BRAND, "openid-old", T0, unionid="union-old", phone="+86 138-0013-8000")
    member.update_profile(T0 + HOUR, nickname="小王", birthday=date(1990, 5, 1))
    member.earn_points_for_order("order-1", 128_800, p, T0)
    member.earn_points("daily-sign-in", 50, p, T0)
    first, second = ids("invitee-1"), ids("invitee-2")
    member.record_referral(first, T0 + HOUR)
    member.record_referral(second, T0 + HOUR, upline=(ids("grand-referrer"),))
    member.release_referral_reward(first, "invitee-order-1", T0 + 7 * DAY, p, T0 + 8 * DAY)
    member.release_referral_reward(second, "invitee-order-2", T0 + 7 * DAY, p, T0 + 9 * DAY)  # over the cap
    member.redeem(300, "coupon-1", T0 + 8 * DAY)
    member.reverse_order_points("order-1", 28_800, T0 + 10 * DAY)
    member.adjust(20, "goodwill", "ops-1", p, T0 + 10 * DAY)
    member.adjust(-10, "duplicate sign-in", "ops-1", p, T0 + 10 * DAY, corrects=f"{member.id}:4")
    member.evaluate_tier(p, T0 + 10 * DAY)
    member.assign_tier_floor(Tier.VALUE, "ops-2", "VIP list", T0 + 11 * DAY)
    member.evaluate_tier(p, T0 + 11 * DAY)
    member.bind_guide(ids("guide-1"), ids("store-1"), p, T0 + 12 * DAY)
    member.bind_guide(ids("guide-2"), ids("store-2"), p, T0 + 50 * DAY)  # protection over
    member.hand_over(ids("guide-2"), ids("guide-3"), ids("store-3"), p, T0 + 60 * DAY)
    member.unbind_guide("DELETED_IN_WECOM", p, T0 + 70 * DAY)
    member.set_home_store(ids("store-4"), T0 + 71 * DAY)
    member.expire_due(datetime(2026, 1, 2, tzinfo=UTC))
    member.earn_points_for_order("order-2", 9_900, p, datetime(2026, 1, 3, tzinfo=UTC))
    duplicate = Member.register(BRAND, "openid-dup", T0 + HOUR)
    duplicate.accept_referrer(ids("late-referrer"), T0 + HOUR)
    duplicate.earn_points_for_order("order-9", 5_000, p, T0 + HOUR)
    duplicate.reverse_order_points("order-9", 5_000, T0 + 2 * HOUR)
    merge(member, duplicate, datetime(2026, 1, 4, tzinfo=UTC))
    member.record_marketing_consent(True, "miniprogram", datetime(2026, 1, 5, tzinfo=UTC))
    duplicate.erase_personal_data("member", "PIPL Art. 47", datetime(2026, 1, 5, tzinfo=UTC))
    return [member, duplicate]


def guide_workload() -> list[Aggregate]:
    """Customers, credits, commission settled and clawed back, a handover, leaving, erasure."""
    p, small = PROGRAMME, dataclasses.replace(PROGRAMME, version=4, guide_customer_limit=2)
    giver = Guide.hire(BRAND, ids("store-1"), "wecom-li", "李导购", T0)
    receiver = Guide.hire(BRAND, ids("store-1"), "wecom-wang", "王导购", T0)
    customers = tuple(ids(f"customer-{i}") for i in range(4))
    for member_id in customers:
        giver.add_customer(member_id, p, T0 + HOUR)
    giver.release_customer(customers[3], "CUSTOMER_LEFT", T0 + 2 * HOUR)
    giver.credit_referral(ids("invitee-1"), p, T0 + 2 * HOUR)
    for n, order_id in enumerate(("order-1", "order-2", "order-3")):
        giver.credit_sale(
            order_id,
            ids("store-1"),
            100_000 + n,
            p.commission_fen(100_000 + n),
            p,
            T0 + 3 * HOUR,
            settle_after=T0 + 3 * HOUR + 7 * DAY,
        )
    giver.settle_commission("order-1", T0 + 8 * DAY)
    giver.claw_back("order-1", 40_000, T0 + 9 * DAY)  # after settlement: debt
    giver.claw_back("order-2", 10_000, T0 + 9 * DAY)
    giver.settle_commission("order-3", T0 + 10 * DAY)  # repays the debt first
    giver.move_to_store(ids("store-2"), T0 + 11 * DAY)
    giver.leave(T0 + 12 * DAY)
    giver.start_handover(customers[:3], receiver.id, HandoverKind.RESIGNATION, T0 + 12 * DAY)
    refused = receiver.offer_handover(giver.id, customers[:3], HandoverKind.RESIGNATION, small, T0 + 12 * DAY)
    receiver.accept_handover(customers[0], T0 + 13 * DAY)
    receiver.complete_due_handovers(T0 + 14 * DAY)
    giver.conclude_handover(customers[0], True, "ACCEPTED", T0 + 14 * DAY)
    giver.conclude_handover(customers[1], True, "AUTO_ACCEPTED", T0 + 14 * DAY)
    giver.conclude_handover(refused[0], False, "RECEIVER_AT_CUSTOMER_LIMIT", T0 + 14 * DAY)
    receiver.offer_handover(ids("guide-9"), (ids("customer-9"),), HandoverKind.REASSIGNMENT, p, T0 + 15 * DAY)
    receiver.refuse_handover(ids("customer-9"), "NOT_MY_AREA", T0 + 15 * DAY)
    giver.erase_personal_data("ops-1", "PIPL Art. 47", T0 + 16 * DAY)  # left: its WeCom id and name forgotten
    return [giver, receiver]


def identity_workload() -> list[Aggregate]:
    index = IdentityIndex.claim(BRAND, IdentityKind.PHONE, "+86 138-0013-8000", ids("member-1"), T0)
    index.reassign(ids("member-2"), T0 + DAY)
    index.release(T0 + 2 * DAY)
    index.reclaim(ids("member-3"), T0 + 3 * DAY)
    return [index]


def open_store(
    code: str, dealer: str, location: Location, modes: tuple[FulfilmentMode, ...] = tuple(FulfilmentMode)
) -> CloudStore:
    return CloudStore.open(
        brand="acme",
        code=code,
        name=f"云店 {code}",
        location=location,
        service_radius_m=5_000,
        modes=modes,
        dealer_id=dealer,
        hours=OpeningHours.every_day(9 * 60, 22 * 60),
        daily_capacity=100,
        at=T0,
        id=ids(code),
    )


def cloud_store_workload() -> list[Aggregate]:
    """Orders accepted across a dealer transfer, attributed and refunded; every setting changed."""
    store = open_store("SH-001", "dealer-a", Location(31.2304, 121.4737, CoordSystem.GCJ02))
    before, after = ids("order-before"), ids("order-after")
    store.accept_order(before, T0 + HOUR)
    store.attribute_order(before, "dealer-a", 12_800, T0 + 2 * HOUR)
    store.transfer_to_dealer("dealer-b", T0 + DAY, T0 + 3 * HOUR)
    store.accept_order(after, T0 + DAY + HOUR)
    store.accept_order(ids("order-unpaid"), T0 + DAY + HOUR)
    store.accept_order(ids("order-next-day"), T0 + 2 * DAY + HOUR)  # the first day leaves the count
    store.accept_order(ids("order-cancelled"), T0 + 2 * DAY + HOUR)
    store.release_order(ids("order-cancelled"), T0 + 2 * DAY + HOUR, T0 + 2 * DAY + 2 * HOUR)
    store.attribute_order(after, "dealer-b", 5_000, T0 + DAY + 2 * HOUR)
    store.attribute_refund(before, "dealer-a", 2_800, T0 + 2 * DAY)
    store.attribute_refund(after, "dealer-b", 5_000, T0 + 2 * DAY)
    store.relocate(Location(31.2310, 121.4740), T0 + 3 * DAY)
    store.change_hours(OpeningHours.every_day(8 * 60, 23 * 60 + 30), T0 + 3 * DAY)
    store.change_capacity(50, T0 + 3 * DAY)
    store.change_service_area(3_000, [FulfilmentMode.PICKUP], T0 + 3 * DAY)
    store.toggle_online_orders(False, T0 + 4 * DAY)
    store.toggle_online_orders(True, T0 + 4 * DAY + HOUR)
    store.suspend("RENOVATION", T0 + 5 * DAY)
    store.reopen(T0 + 6 * DAY)
    store.close(T0 + 7 * DAY)
    return [store]


def order_workload() -> list[Aggregate]:
    """One order routed by a real decision, paid, fulfilled, refunded; one unallocated then cancelled.

    The first comes from a share link of a guide whose store cannot deliver, so
    another store fulfils it and both are credited (业绩双计).
    """
    near = open_store("SH-002", "dealer-a", Location(31.2304, 121.4737))
    pickup_only = open_store("SH-003", "dealer-b", Location(31.2404, 121.4837), (FulfilmentMode.PICKUP,))
    policy = AttributionPolicy(fallback_target="acme-online")
    customer = Location(31.2290, 121.4720, CoordSystem.GCJ02)
    at = T0 + HOUR

    shared = Order.place(
        member_id=ids("member-1"),
        brand=BRAND,
        mode=FulfilmentMode.DELIVERY,
        customer_location=customer,
        entry=EntryContext.guide_share(ids("guide-1"), pickup_only.id),
        lines=[OrderLine("SKU-1", 2, 1_500), OrderLine("SKU-2", 1, 900)],
        at=at,
        id=ids("order-shared"),
    )
    facts = OrderFacts(shared.id, shared.mode, customer, shared.entry, GuideRef(ids("guide-2"), near.id), near.id)
    shared.allocate(decide(facts, [near.snapshot(at), pickup_only.snapshot(at)], policy, at), at)
    shared.pay(shared.total_fen, PROGRAMME, at + HOUR)
    shared.fulfil(at + 2 * HOUR)
    shared.refund("refund-1", 1_000, at + DAY)
    shared.refund("refund-2", shared.total_fen - 1_000, at + 2 * DAY)

    late = Order.place(
        member_id=ids("member-2"),
        brand=BRAND,
        mode=FulfilmentMode.PICKUP,
        customer_location=customer,
        total_fen=4_200,
        at=at,
        id=ids("order-late"),
    )
    night = T0 + 14 * HOUR  # midnight in Shanghai: no store open for pickup
    facts = OrderFacts(late.id, late.mode, customer)
    late.leave_unallocated(decide(facts, [near.snapshot(night), pickup_only.snapshot(night)], policy, night), night)
    late.allocate(decide(facts, [near.snapshot(at + DAY)], policy, at + DAY), at + DAY)
    late.cancel("CUSTOMER_CHANGED_MIND", at + DAY + HOUR)
    return [shared, late]


def stock_workload() -> list[Aggregate]:
    """Every StoreStock event: an import, protection, holds paid, consumed, released, expired, a till sale."""
    stock = StoreStock.open(brand="acme", store_id=ids("stock-store"), sku="SKU-1", at=T0)
    stock.adjust("import-1", T0, count=20, reason="opening count")
    stock.protect(Protection(floor_units=2, share_bp=1_000), T0)
    paid, cancelled, lapsed, held = ids("s-paid"), ids("s-cancel"), ids("s-lapse"), ids("s-held")
    for n, order in enumerate((paid, cancelled, lapsed, held)):
        stock.reserve(order, 2, T0 + HOUR, T0 + n * timedelta(minutes=1))
    stock.commit(paid, T0 + 10 * timedelta(minutes=1))
    stock.consume(paid, T0 + 2 * HOUR)
    stock.release(cancelled, "CANCELLED_BY_CUSTOMER", T0 + 20 * timedelta(minutes=1))
    stock.expire(lapsed, T0 + 2 * HOUR)
    stock.sell_in_store(3, T0 + 3 * HOUR)
    return [stock]


def drop_workload() -> list[Aggregate]:
    """Every Drop and DropEntry event: created, entries with a bonus, drawn, claimed, a claim released, passed on."""
    seed = bytes(range(32))
    drop = Drop.create(
        brand="acme",
        name="Sneaker",
        sku="SNK-1",
        pools=[DropPool(None, 2), DropPool(ids("d-s"), 1)],
        registration_opens_at=T0 + HOUR,
        registration_closes_at=T0 + 2 * HOUR,
        early_access=[EarlyAccess(Tier.CORE, 30)],
        purchase_window_minutes=30,
        per_member_limit=1,
        price_fen=59_900,
        tickets_per_invite=2,
        invite_ticket_cap=4,
        commitment=commitment_of(seed),
        at=T0,
    )
    entries = [
        DropEntry.register(
            drop=drop, member_id=ids(f"d-m{i}"), tier=Tier.CORE, store_id=ids("d-s") if i == 4 else None, at=T0 + HOUR
        )
        for i in range(5)
    ]
    for invitee in ("d-m1", "d-m2"):
        entries[0].grant_bonus(drop, InviteeFacts(ids(invitee), ids("d-m0"), T0 + HOUR, False), T0 + HOUR)
    drawn = [e.as_drawn() for e in entries]
    drop.draw(seed, drawn, T0 + 2 * HOUR)
    winner, other = [m for m, o in drop.offers.items() if o.store_id is None]
    drop.claim(winner, ids("d-o1"), T0 + 2 * HOUR)
    drop.claim(other, ids("d-o2"), T0 + 2 * HOUR)
    drop.release_claim(ids("d-o2"), "CANCELLED", T0 + 2 * HOUR)  # its order was cancelled
    drop.pass_on(drawn, T0 + 3 * HOUR)
    for e in entries[1:]:
        e.collect_events()  # every event class is covered by the first entry
    return [drop, entries[0]]


WORKLOADS: dict[str, Callable[[], list[Aggregate]]] = {
    "Member": member_workload,
    "Guide": guide_workload,
    "IdentityIndex": identity_workload,
    "CloudStore": cloud_store_workload,
    "Order": order_workload,
    "StoreStock": stock_workload,
    "Drop": lambda: drop_workload()[:1],
    "DropEntry": lambda: drop_workload()[1:],
}


def test_the_order_workload_covers_dual_credit_and_a_real_unallocated_decision() -> None:
    shared, late = order_workload()
    assert isinstance(shared, Order)
    assert shared.decision is not None and shared.decision.dual_credit
    unallocated: Any = late.collect_events()[1]
    assert unallocated.decision.unallocated_reason is not None


# --- the snapshot round trip -------------------------------------------------------------


def through_mapper(aggregate: A, env: dict[str, str] | None = None) -> A:
    mapper = build_mapper(env or {})
    snapshot = mapper.to_domain_event(mapper.to_stored_event(Snapshot.take(aggregate)))
    assert isinstance(snapshot, Snapshot)
    restored = snapshot.mutate(None)
    assert isinstance(restored, type(aggregate))
    return restored


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_a_snapshot_rebuilds_the_aggregate_with_exactly_its_state(workload: Any) -> None:
    for aggregate in workload():
        copy = through_mapper(aggregate)
        assert type(copy) is type(aggregate)
        assert difference(state_of(copy), state_of(aggregate)) is None


def snapshot_bytes(aggregate: Aggregate) -> int:
    return len(build_mapper({}).to_stored_event(Snapshot.take(aggregate)).state)


def test_a_hot_store_snapshot_stays_the_same_size_however_many_orders_it_took() -> None:
    store = open_store("SH-HOT", "dealer-a", Location(31.2304, 121.4737))
    sizes = []
    for day in range(30):  # 60 orders a day, each paid; every fifth refunded in part
        for n in range(60):
            order_id, at = ids(f"hot-{day}-{n}"), T0 + day * DAY + n * timedelta(minutes=5)
            store.accept_order(order_id, at)
            store.attribute_order(order_id, "dealer-a", 12_800, at)
            if n % 5 == 0:
                store.attribute_refund(order_id, "dealer-a", 800, at + HOUR)
        sizes.append(snapshot_bytes(store))
    assert store.orders_on_local_day(store.hours.local_date(T0 + 29 * DAY)) == 60
    assert store.revenue_fen() == 30 * 60 * 12_800
    assert max(sizes) - sizes[1] <= 8  # a few more digits in the totals, nothing per order or per day


def test_a_compressed_and_encrypted_snapshot_round_trips_too() -> None:
    key = "0123456789abcdef0123456789abcdef"
    env = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor", "CIPHER_KEY": key}
    for aggregate in member_workload():
        assert difference(state_of(through_mapper(aggregate, env)), state_of(aggregate)) is None


def test_a_restored_aggregate_keeps_working_like_the_original() -> None:
    member = member_workload()[0]
    assert isinstance(member, Member)
    copy = through_mapper(member)
    later = datetime(2026, 1, 20, tzinfo=UTC)
    for m in (member, copy):
        m.collect_events()
        m.redeem(5, "coupon-2", later)
    assert copy.balance(later) == member.balance(later) and copy.totals() == member.totals()
    assert copy.invitees == member.invitees


def stock_transcoder() -> JSONTranscoder:
    """A stock JSONTranscoder given our default transcodings and value types."""
    transcoder = JSONTranscoder()
    for transcoding in default_transcodings():
        transcoder.register(transcoding)
    register_domain_types(transcoder, (*domain_value_types(), Colour))
    return transcoder


def ours() -> OrjsonTranscoder:
    return build_transcoder((*domain_value_types(), Colour))


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=WORKLOADS.keys())
def test_stock_eventsourcing_reads_our_snapshots_with_exact_types(workload: Any) -> None:
    for aggregate in workload():
        state = state_of(aggregate)
        assert difference(stock_transcoder().decode(build_transcoder().encode(state)), state) is None


def test_equal_states_encode_to_equal_bytes_whatever_the_set_order() -> None:
    transcoder = build_transcoder()
    words = [f"refund-{i}" for i in range(50)]
    forwards, backwards = set(), set()
    for w in words:
        forwards.add(w)
    for w in reversed(words):
        backwards.add(w)
    assert transcoder.encode({"s": forwards}) == transcoder.encode({"s": backwards})
    assert transcoder.encode({"s": {"b", "c", "a"}}) == (b'{"s":{"_type_":"set_as_list","_data_":["a","b","c"]}}')


def test_a_dict_with_a_non_str_key_is_written_as_tagged_items() -> None:
    day = date(2024, 3, 4)
    assert build_transcoder().encode({"per_day": Counter({day: 2}), "by_id": {7: "x"}}) == (
        b'{"per_day":{"_type_":"counter_as_items","_data_":[[{"_type_":"date_iso","_data_":"2024-03-04"},2]]},'
        b'"by_id":{"_type_":"dict_as_items","_data_":[[7,"x"]]}}'
    )


@dataclasses.dataclass(frozen=True)
class Tally:
    per_member: dict[UUID, int]
    days: frozenset[date]


def test_a_non_str_keyed_dict_inside_a_value_object_keeps_its_keys() -> None:
    transcoder = build_transcoder((Tally,))
    state = {"tally": Tally({ids("m"): 2}, frozenset({date(2024, 3, 4)}))}
    assert difference(transcoder.decode(transcoder.encode(state)), state) is None


def test_plain_str_keyed_dicts_stay_plain_json_objects() -> None:
    assert build_transcoder().encode({"a": {"b": 1}}) == b'{"a":{"b":1}}'


def test_a_non_str_key_without_dict_as_items_registered_fails_loudly() -> None:
    transcoder = OrjsonTranscoder(register_defaults=False)
    with pytest.raises(TranscodingNotRegisteredError, match="Dict key"):
        transcoder.encode({"outer": {1: "one"}})


def test_registered_type_names_are_module_and_qualname() -> None:
    """Each value type is written under its module:qualname, or its compact form's own name, and every
    module:qualname still decodes (events written before a compact form existed)."""
    transcoder = build_transcoder()
    compact = {c.type: c.name for c in COMPACT}
    for cls in domain_value_types():
        qualified = f"{cls.__module__}:{cls.__qualname__}"
        assert transcoder.types[cls].name == compact.get(cls, qualified)
        assert transcoder.names[qualified].type is cls


def test_a_class_topic_alias_does_not_change_the_stored_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Aliased:
        TOPIC = "somewhere.else:Other"
        x: int

    transcoder = build_transcoder((Aliased,))
    assert transcoder.types[Aliased].name == f"{__name__}:{Aliased.__qualname__}"


def test_a_mutable_dataclass_still_cannot_be_registered() -> None:
    @dataclasses.dataclass
    class Loose:
        x: int

    with pytest.raises(TypeError, match="frozen"):
        build_transcoder((Loose,))


# Any nesting of the snapshot containers round-trips, through ours and the stock decoder.

_keys = (
    st.text(max_size=4)
    | st.integers(-5, 5)
    | st.uuids()
    | st.dates()
    | st.sampled_from(Colour)
    | st.sampled_from(FulfilmentMode)
    | st.tuples(st.integers(0, 3), st.text(max_size=2))
)
_leaves = st.none() | st.booleans() | _keys | st.floats(allow_nan=False, allow_infinity=False)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), children, max_size=3)
        | st.dictionaries(_keys, children, max_size=3)
        | st.sets(_keys, max_size=4)
        | st.frozensets(_keys, max_size=4)
        | st.dictionaries(_keys, st.integers(-3, 3), max_size=3).map(Counter)
    )


_nested = st.recursive(_leaves, _containers, max_leaves=10)


@given(_nested)
def test_any_nesting_of_snapshot_containers_round_trips_with_exact_types(obj: Any) -> None:
    transcoder = ours()
    assert difference(transcoder.decode(transcoder.encode({"state": obj})), {"state": obj}) is None


@given(_nested)
def test_the_stock_transcoder_reads_any_nesting_of_snapshot_containers(obj: Any) -> None:
    data = ours().encode({"state": obj})
    assert difference(stock_transcoder().decode(data), {"state": obj}) is None


# --- through the real store --------------------------------------------------------------


async def test_a_member_reloads_from_snapshot_and_later_events_with_exactly_its_state(
    store: EventStore,
) -> None:
    repository = Repository(store, build_mapper({}), snapshot_interval=3)
    member = Member.register(BRAND, "openid-db", T0)
    await repository.save(member)
    for n in range(6):
        at = T0 + n * DAY
        member.earn_points_for_order(f"order-{n}", 10_000 + n, PROGRAMME, at)
        member.record_referral(ids(f"invitee-db-{n}"), at)
        await repository.save(member)
    member.redeem(10, "coupon-db", T0 + 9 * DAY)
    await repository.save(member)
    member.bind_guide(ids("guide-db"), ids("store-db"), PROGRAMME, T0 + 9 * DAY)
    await repository.save(member)
    assert member.version > 10

    snapshot = await store.latest_snapshot(member.id)
    assert snapshot is not None and 3 < snapshot.originator_version < member.version

    loaded = await Repository(store, build_mapper({}), snapshot_interval=3).get(member.id, Member)
    assert difference(state_of(loaded), state_of(member)) is None


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=WORKLOADS.keys())
async def test_every_aggregate_reloads_from_its_stored_snapshot(store: EventStore, workload: Any) -> None:
    aggregates = workload()
    await Repository(store, build_mapper({}), snapshot_interval=3).save(*aggregates)
    fresh = Repository(store, build_mapper({}), snapshot_interval=3)
    for aggregate in aggregates:
        assert await store.latest_snapshot(aggregate.id) is not None
        assert difference(state_of(await fresh.get(aggregate.id)), state_of(aggregate)) is None
