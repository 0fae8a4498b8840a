"""Drops: early access, idempotent entries, the invitation bonus's anti-abuse rules, and a draw an auditor
recomputes."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.drop import (
    Drop,
    DropEntry,
    DropPool,
    EarlyAccess,
    InviteeFacts,
    commitment_of,
    draw_order,
    pool_decision,
)
from domain.errors import InvalidArgument, RuleViolation
from domain.tiers import Tier

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEED = bytes(range(32))
STORE = UUID(int=999)


def new_drop(units: int = 3, store_units: int = 0, limit: int = 1, seed: bytes = SEED, **kw) -> Drop:
    pools = [DropPool(None, units)] + ([DropPool(STORE, store_units)] if store_units else [])
    args = dict(
        brand="acme",
        name="Sneaker",
        sku="SNK-1",
        pools=pools,
        registration_opens_at=T0 + 60 * MIN,
        registration_closes_at=T0 + 120 * MIN,
        early_access=[EarlyAccess(Tier.CORE, 30), EarlyAccess(Tier.VALUE, 10)],
        purchase_window_minutes=30,
        per_member_limit=limit,
        tickets_per_invite=2,
        invite_ticket_cap=4,
        price_fen=1999,
        commitment=commitment_of(seed),
        at=T0,
    )
    return Drop.create(**{**args, **kw})


def member(n: int) -> UUID:
    return UUID(int=n + 1)


def test_higher_tiers_register_earlier_and_everyone_closes_together():
    drop = new_drop()
    assert drop.opens_for(Tier.CORE) == T0 + 30 * MIN
    assert drop.opens_for(Tier.VALUE) == T0 + 50 * MIN
    assert drop.opens_for(Tier.ORDINARY) == T0 + 60 * MIN
    DropEntry.register(drop=drop, member_id=member(1), tier=Tier.CORE, at=T0 + 31 * MIN)
    with pytest.raises(RuleViolation) as e:
        DropEntry.register(drop=drop, member_id=member(2), tier=Tier.ORDINARY, at=T0 + 59 * MIN)
    assert e.value.reason == "REGISTRATION_NOT_OPEN"
    with pytest.raises(RuleViolation) as e:
        DropEntry.register(drop=drop, member_id=member(3), tier=Tier.CORE, at=T0 + 120 * MIN)
    assert e.value.reason == "REGISTRATION_CLOSED"


def facts(invitee: UUID, inviter: UUID, *, since=T0 + MIN, paid=False, upline=()) -> InviteeFacts:
    return InviteeFacts(invitee, inviter, since, paid, tuple(upline))


def test_the_invitation_bonus_counts_only_genuinely_new_invitees_up_to_the_cap():
    drop = new_drop()
    a, b, c, d, e = (member(i) for i in range(5))
    entry = DropEntry.register(drop=drop, member_id=a, tier=Tier.ORDINARY, at=T0 + 61 * MIN)
    at = T0 + 62 * MIN
    assert entry.check_invitee(drop, facts(a, a)) == "SELF_INVITE"
    assert entry.check_invitee(drop, facts(b, a, upline=(b,))) == "INVITE_CYCLE"  # b referred a: b cannot be a's
    assert entry.check_invitee(drop, facts(b, c)) == "NOT_INVITED_BY_THIS_MEMBER"
    assert entry.check_invitee(drop, facts(b, a, paid=True)) == "NOT_A_NEW_MEMBER"  # an existing customer
    assert entry.check_invitee(drop, facts(b, a, since=T0 - MIN)) == "NOT_A_NEW_MEMBER"  # a member before the drop
    assert entry.grant_bonus(drop, facts(b, a), at) and entry.tickets == 3
    assert not entry.grant_bonus(drop, facts(b, a), at)  # once per invitee
    assert entry.grant_bonus(drop, facts(c, a), at) and entry.tickets == 5
    assert entry.check_invitee(drop, facts(d, a)) == "INVITE_CAP_REACHED"
    assert not entry.grant_bonus(drop, facts(e, a), at) and entry.tickets == 5


def test_the_draw_needs_the_committed_seed_and_closed_registration():
    drop = new_drop()
    with pytest.raises(RuleViolation):
        drop.draw(SEED, [], T0 + 119 * MIN)
    with pytest.raises(InvalidArgument) as e:
        drop.draw(bytes(32), [], T0 + 120 * MIN)
    assert e.value.reason == "SEED_MISMATCH"


# --- the auditor: recompute the draw from the events alone -------------------------------------------------------


def audit(events) -> dict:
    """Independent of domain.drop's functions: reads event attributes only, hashes with hashlib itself."""
    created = next(e for e in events if type(e).__qualname__ == "Drop.Created")
    drawn = next(e for e in events if type(e).__qualname__ == "Drop.Drawn")
    seed = bytes.fromhex(drawn.seed)
    assert hashlib.sha256(seed).hexdigest() == created.commitment, "the revealed seed is not the committed one"
    tickets: dict[UUID, int] = {}
    pools: dict[UUID, UUID | None] = {}
    owners: dict[UUID, UUID] = {}  # entry id -> member
    for e in events:
        name = type(e).__qualname__
        if name == "DropEntry.Registered":
            assert e.at < created.registration_closes_at
            tickets[e.member_id], pools[e.member_id] = 1, e.store_id
            owners[e.originator_id] = e.member_id
        elif name == "DropEntry.BonusGranted":
            tickets[owners[e.originator_id]] += e.tickets
    assert drawn.entry_count == len(tickets)
    expected_offers = []
    for pool in created.pools:
        scored = []
        for m, t in tickets.items():
            if pools[m] != pool.store_id:
                continue
            best = min(hashlib.sha256(seed + m.bytes + i.to_bytes(4, "big")).digest() for i in range(t))
            scored.append((best, m.bytes, m))
        scored.sort()
        left = pool.units
        for _, _, m in scored:
            if left == 0:
                break
            units = min(created.per_member_limit, left)
            left -= units
            expected_offers.append((m, pool.store_id, units))
    return {
        "offers": sorted(expected_offers, key=str),
        "recorded": sorted(((o.member_id, o.store_id, o.units) for o in drawn.offers), key=str),
    }


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 60),
    units=st.integers(1, 12),
    store_units=st.integers(0, 5),
    limit=st.integers(1, 3),
    seed=st.binary(min_size=16, max_size=32),
    rnd=st.randoms(use_true_random=False),
)
def test_an_auditor_recomputes_the_winners_from_the_events_alone(n, units, store_units, limit, seed, rnd):
    drop = new_drop(units, store_units, limit, seed)
    entries: list[DropEntry] = []
    for i in range(n):
        store = STORE if store_units and rnd.random() < 0.3 else None
        entry = DropEntry.register(
            drop=drop, member_id=member(i), tier=rnd.choice(list(Tier)), store_id=store, at=T0 + 61 * MIN
        )
        if entries and rnd.random() < 0.3:  # invited by an earlier entrant
            inviter = rnd.choice(entries)
            inviter.grant_bonus(drop, facts(entry.member_id, inviter.member_id), T0 + 62 * MIN)
        entries.append(entry)
    drop.draw(seed, [e.as_drawn() for e in entries], T0 + 121 * MIN)

    events = [ev for agg in (drop, *entries) for ev in agg.collect_events()]
    result = audit(events)
    assert result["offers"] == result["recorded"]
    assert sum(o.units for o in drop.offers.values()) <= units + store_units


def test_unclaimed_units_pass_to_the_next_in_draw_order():
    drop = new_drop(units=2)
    entries = [DropEntry.register(drop=drop, member_id=member(i), tier=Tier.NEW, at=T0 + 61 * MIN) for i in range(6)]
    drawn = [e.as_drawn() for e in entries]
    drop.draw(SEED, drawn, T0 + 120 * MIN)
    first = sorted(drop.offers)
    claimer, idler = first
    drop.claim(claimer, uuid4(), T0 + 130 * MIN)
    with pytest.raises(RuleViolation):
        drop.claim(idler, uuid4(), T0 + 150 * MIN)  # the window (30 minutes) has closed
    passed = drop.pass_on(drawn, T0 + 151 * MIN)

    assert len(passed) == 1 and passed[0].member_id not in first
    from domain.drop import draw_order

    order = draw_order(SEED, drawn)
    assert passed[0].member_id == order[2]  # the next in draw order
    assert drop.offers[idler].lapsed and drop.offers[claimer].claimed
    with pytest.raises(InvalidArgument):
        drop.pass_on(drawn[:-1], T0 + 200 * MIN)  # other entries than the drawn ones


def test_a_drop_of_a_thousand_units_and_twenty_thousand_entries_draws():
    drop = new_drop(units=1000)
    rnd = random.Random(7)
    drawn = [
        DropEntry.register(
            drop=drop, member_id=UUID(int=rnd.getrandbits(128)), tier=Tier.NEW, at=T0 + 61 * MIN
        ).as_drawn()
        for _ in range(20_000)
    ]
    drop.draw(SEED, drawn, T0 + 120 * MIN)
    assert len(drop.offers) == 1000 and drop.entry_count == 20_000


# --- the claim: an order holds the units; its cancellation returns them --------------------------------------------


def drawn_drop(units: int = 2, entrants: int = 6, **kw) -> tuple[Drop, list]:
    drop = new_drop(units=units, **kw)
    entries = [
        DropEntry.register(drop=drop, member_id=member(i), tier=Tier.NEW, at=T0 + 61 * MIN) for i in range(entrants)
    ]
    drawn = [e.as_drawn() for e in entries]
    drop.draw(SEED, drawn, T0 + 120 * MIN)
    return drop, drawn


def test_a_drop_has_a_price_and_a_winners_order_stays_within_an_orders_bound():
    with pytest.raises(InvalidArgument) as e:
        new_drop(price_fen=0)
    assert e.value.details["field"] == "price_fen"
    with pytest.raises(InvalidArgument) as e:
        new_drop(price_fen=10**12 // 2 + 1, limit=2)  # 2 units of it exceed an order's 10^12 fen
    assert e.value.reason == "OUT_OF_RANGE"
    with pytest.raises(InvalidArgument):
        new_drop(limit=100_001)  # more than an order line's quantity
    assert new_drop(price_fen=10**12 // 2, limit=2).price_fen == 10**12 // 2


def test_a_claim_names_its_order_and_a_second_claim_is_refused_naming_it():
    drop, _ = drawn_drop()
    winner = sorted(drop.offers)[0]
    order_id = uuid4()
    assert drop.offers[winner].holding_order is None  # won, not claimed: no order holds the units
    offer = drop.claim(winner, order_id, T0 + 125 * MIN)
    assert offer.claimed and offer.order_id == order_id and drop.claim_of(order_id) == offer
    assert offer.holding_order == order_id
    with pytest.raises(RuleViolation) as e:
        drop.claim(winner, uuid4(), T0 + 126 * MIN)
    assert e.value.reason == "OFFER_CLAIMED" and e.value.details["order_id"] == str(order_id)
    with pytest.raises(RuleViolation) as e:
        drop.claim(member(99), uuid4(), T0 + 126 * MIN)
    assert e.value.reason == "NO_OFFER"


def test_a_drop_created_before_drops_had_a_price_cannot_be_claimed():
    drop, _ = drawn_drop()
    del vars(drop)["price_fen"]  # as a Created event without the field decodes: the class default
    assert drop.price_fen == 0
    with pytest.raises(RuleViolation) as e:
        drop.check_claim(sorted(drop.offers)[0], T0 + 125 * MIN)
    assert e.value.reason == "DROP_HAS_NO_PRICE"


def test_a_cancelled_claims_units_go_to_the_next_in_draw_order():
    drop, drawn = drawn_drop(units=2)
    order = draw_order(SEED, drawn)
    first, second = order[0], order[1]
    a, b = uuid4(), uuid4()
    drop.claim(first, a, T0 + 125 * MIN)
    drop.claim(second, b, T0 + 126 * MIN)
    assert not drop.to_pass_on(T0 + 200 * MIN)  # both claimed: nothing lapses, nothing to pass on

    assert drop.release_claim(a, "CANCELLED", T0 + 130 * MIN)
    assert drop.offers[first].lapsed and not drop.offers[first].claimed and drop.offers[first].order_id == a
    assert drop.offers[first].holding_order is None and drop.offers[second].holding_order == b  # kept: the record
    assert drop.to_pass_on(T0 + 130 * MIN) and drop.claim_of(a) is None
    assert not drop.release_claim(a, "CANCELLED", T0 + 131 * MIN)  # released once; never refuses a cancellation
    assert not drop.release_claim(uuid4(), "CANCELLED", T0 + 131 * MIN)
    with pytest.raises(RuleViolation) as e:
        drop.claim(first, uuid4(), T0 + 132 * MIN)  # the units left this member with the cancelled order
    assert e.value.reason == "NO_OFFER"

    passed = drop.pass_on(drawn, T0 + 133 * MIN)
    assert [o.member_id for o in passed] == [order[2]] and passed[0].units == 1
    assert drop.offers[first].holding_order is None and passed[0].holding_order is None
    assert passed[0].expires_at == T0 + 163 * MIN  # a fresh purchase window
    assert drop.returned == () and not drop.to_pass_on(T0 + 133 * MIN)
    drop.check_units()
    events = drop.collect_events()
    assert [type(e).__name__ for e in events[-2:]] == ["ClaimReleased", "PassedOn"]
    assert first in events[-1].lapsed


def test_a_store_pools_order_is_collected_at_its_store():
    from domain.geo import CoordSystem, Location
    from domain.routing import StepReason, StoreSnapshot
    from domain.store_values import FulfilmentMode, OpeningHours, StoreStatus

    store = StoreSnapshot(
        STORE, "D1", 31.23, 121.47, 5000, (FulfilmentMode.PICKUP,), StoreStatus.OPEN, True, OpeningHours.always()
    )
    order_id = uuid4()
    far = Location(31.33, 121.47, CoordSystem.WGS84)  # about 11 km north: beyond any radius, still this store
    decision = pool_decision(order_id, store, far, T0, programme_version=3)
    assert decision.allocated and decision.store_id == STORE and decision.dealer_id == "D1"
    assert decision.mode is FulfilmentMode.PICKUP and decision.programme_version == 3
    assert 10_000 < decision.distance_m < 12_000 and decision.needs == ()
    assert decision.explanation[-1].reason is StepReason.DROP_POOL


@settings(max_examples=60, deadline=None)
@given(
    units=st.integers(1, 6),
    store_units=st.integers(0, 3),
    limit=st.integers(1, 2),
    entrants=st.integers(0, 14),
    steps=st.lists(st.tuples(st.sampled_from(["claim", "release", "pass", "wait"]), st.integers(0, 20)), max_size=40),
)
def test_units_are_never_offered_beyond_the_drop_nor_held_by_two_orders(units, store_units, limit, entrants, steps):
    """Any interleaving of claims, cancellations of the claims' orders, pass-ons and time: per pool the units of
    live offers never exceed its units, an order holds at most one offer, a released member is never offered
    again, and free units are offered whenever someone in the draw order is left."""
    drop = new_drop(units=units, store_units=store_units, limit=limit)
    entries = [
        DropEntry.register(
            drop=drop,
            member_id=member(i),
            tier=Tier.NEW,
            store_id=STORE if store_units and i % 3 == 0 else None,
            at=T0 + 61 * MIN,
        )
        for i in range(entrants)
    ]
    drawn = [e.as_drawn() for e in entries]
    now = T0 + 120 * MIN
    drop.draw(SEED, drawn, now)
    released: set[UUID] = set()
    for action, n in steps:
        live = [o for o in drop.offers.values() if not o.lapsed]
        if action == "claim" and live:
            o = live[n % len(live)]
            try:
                drop.claim(o.member_id, uuid4(), now)
            except RuleViolation as e:
                assert e.reason in ("OFFER_CLAIMED", "OFFER_EXPIRED")
        elif action == "release":
            claimed = [o for o in drop.offers.values() if o.claimed]
            if claimed:
                o = claimed[n % len(claimed)]
                assert drop.release_claim(o.order_id, "CANCELLED", now)
                released.add(o.member_id)
        elif action == "pass":
            for o in drop.pass_on(drawn, now):
                assert o.member_id not in released
        else:
            now += n * 3 * MIN
        drop.check_units()
        orders = [o.order_id for o in drop.offers.values() if o.claimed]
        assert len(orders) == len(set(orders))
        for o in drop.offers.values():  # an offer names the order holding it exactly while that order's claim lives
            assert o.holding_order == (o.order_id if o.claimed else None)
            assert o.holding_order is None or drop.claim_of(o.holding_order) == o
        for pool in drop.pools:
            held = sum(o.units for o in drop.offers.values() if not o.lapsed and o.store_id == pool.store_id)
            assert held <= pool.units
    drop.pass_on(drawn, now + 24 * 60 * MIN)  # everything unclaimed lapses; what is free goes down the order
    for pool in drop.pools:
        in_pool = [e.member_id for e in drawn if e.store_id == pool.store_id]
        held = sum(o.units for o in drop.offers.values() if not o.lapsed and o.store_id == pool.store_id)
        never_offered = [m for m in in_pool if m not in drop.offers]
        assert held == pool.units or not never_offered  # units stay free only when nobody is left to offer them
