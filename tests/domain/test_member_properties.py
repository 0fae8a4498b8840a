"""Invariants of the member's points ledger under arbitrary command sequences."""

import dataclasses
import enum
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.member import Member, merge
from domain.programme import ExpiryPolicy, LoyaltyProgramme

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PROGRAMME = replace(LoyaltyProgramme.default("acme"), expiry_policy=ExpiryPolicy.ROLLING_DAYS, expiry_days=30)

ops = st.one_of(
    st.tuples(st.just("order"), st.integers(0, 200_000)),
    st.tuples(st.just("rule"), st.integers(1, 500)),
    st.tuples(st.just("redeem"), st.integers(1, 300)),
    st.tuples(st.just("redeem_all"), st.just(0)),
    st.tuples(st.just("expire"), st.just(0)),
    st.tuples(st.just("refund"), st.integers(0, 10), st.integers(1, 200_000)),
    st.tuples(st.just("adjust"), st.integers(-800, 800).filter(bool)),
    st.tuples(st.just("wait"), st.integers(0, 24 * 45)),
    st.tuples(st.just("absorb"), st.integers(0, 100_000)),
    st.tuples(st.just("tier"), st.just(0)),
)


def apply(member: Member, op, at: datetime, step: int) -> datetime:
    kind = op[0]
    if kind == "order":
        member.earn_points_for_order(f"order-{step}", op[1], PROGRAMME, at)
    elif kind == "rule":
        member.earn_points("sign-in", op[1], PROGRAMME, at)
    elif kind == "redeem":
        member.redeem(op[1], f"coupon-{step}", at)
    elif kind == "redeem_all":
        member.redeem(member.balance(at), f"coupon-{step}", at)
    elif kind == "expire":
        member.expire_due(at)
    elif kind == "refund":
        orders = sorted(member._order_paid)
        if orders:
            order = orders[op[1] % len(orders)]
            left = member._order_paid[order] - member.order_refunded_fen(order)
            member.reverse_order_points(order, min(op[2], left) if left else op[2], at)
    elif kind == "adjust":
        member.adjust(op[1], "ops fix", "ops-1", PROGRAMME, at)
    elif kind == "wait":
        return at + timedelta(hours=op[1])
    elif kind == "absorb":
        other = Member.register("acme", f"other-{step}", at)
        other.earn_points_for_order(f"other-order-{step}", op[1], PROGRAMME, at)
        merge(member, other, at)
    elif kind == "tier":
        member.evaluate_tier(PROGRAMME, at)
    return at


def flows_from_events(events) -> int:
    """Net points (lots' remainder minus debt) recomputed from events alone."""
    total = 0
    for e in events:
        name = type(e).__name__
        if name in ("PointsEarned", "ReferralRewarded"):
            total += e.lot.points
        elif name in ("RedemptionDrawn", "PointsExpired", "OrderPointsReversed"):
            total -= e.points
        elif name == "PointsAdjusted":
            total += e.points
        elif name == "MemberAbsorbed":
            total += sum(c.remaining for c in e.lots) - e.debt
    return total


def run(sequence):
    member = Member.register("acme", "openid-1", T0)
    events = list(member.collect_events())
    at = T0
    for step, op in enumerate(sequence):
        version = member.version
        try:
            at = apply(member, op, at, step)
        except DomainError:
            assert member.version == version, "a rejected command changed the member"
        new = member.collect_events()
        assert len(new) == member.version - version
        events.extend(new)
        check_ledger(member, events, at)
    return member, events


def check_ledger(member, events, at):
    totals = member.totals()
    assert totals.conserved()
    assert flows_from_events(events) == totals.remaining - totals.debt
    assert all(remaining >= 0 for _, remaining in member.lots())
    assert member.debt >= 0
    assert member.balance(at) >= 0 and member.pending(at) >= 0
    assert member.balance(at) + member.pending(at) <= totals.remaining


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, min_size=10, max_size=50))
def test_points_are_conserved_and_balance_never_negative(sequence):
    run(sequence)


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, min_size=5, max_size=30))
def test_replaying_the_events_rebuilds_the_same_member(sequence):
    member, events = run(sequence)
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt.__dict__ == member.__dict__


def walk(value, path="event"):
    assert not isinstance(value, float), f"float at {path}"
    if isinstance(value, (str, int, bool, UUID, datetime, date, enum.Enum, type(None))):
        return
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            walk(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            walk(item, f"{path}[{k!r}]")
    else:
        raise AssertionError(f"unexpected type {type(value).__name__} at {path}")


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, min_size=5, max_size=30))
def test_no_event_carries_a_float(sequence):
    _, events = run(sequence)
    for e in events:
        walk(e, type(e).__name__)


def test_the_ledger_check_notices_a_tampered_lot():
    member, events = run([("rule", 10)])
    member._remaining[next(iter(member._remaining))] += 1
    try:
        check_ledger(member, events, T0)
    except AssertionError:
        return
    raise AssertionError("tampering went unnoticed")
