"""Read models equal a from-scratch recomputation from the aggregates after a random workload.

One seeded workload per module (through the application services, on a real
PostgreSQL); the projections then catch up and every read model is checked
against what the loaded aggregates say, now and at past checkpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from eventsourcing.utils import get_topic

from domain.guide import CreditKind, Guide
from domain.programme import SHANGHAI
from infrastructure.event_store import EventStore
from infrastructure.hash_chain import HashChainer
from infrastructure.mapper import build_mapper
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.projections import all_projections
from infrastructure.projections.dealer_ledger import DealerLedger, ledger_as_of
from infrastructure.projections.guide_performance import GuidePerformance, guide_performance
from infrastructure.projections.member_points import member_points, points_history
from infrastructure.projections.points_liability import points_liability
from tests.conftest import NAMES
from tests.infrastructure.workload import BRANDS, World

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_dsn: str) -> AsyncIterator[World]:
    store = await EventStore.open(module_dsn, NAMES)
    try:
        world = await World.build(store, seed=20261102)
        # The runner catches up halfway (checkpoints 1-2 lie behind it) and again at the end.
        runner = ProjectionRunner(store, all_projections(store), build_mapper({}), batch_size=37)
        await world.run(steps=300, checkpoints=2)
        await runner.catch_up()
        await world.run(steps=300, checkpoints=2)
        await runner.catch_up()
        yield world
    finally:
        await store.close()


async def test_the_workload_exercised_every_kind_of_points_and_guide_event(world: World) -> None:
    kinds = {r["kind"] for r in await world.store.pool.fetch("SELECT DISTINCT kind FROM points_history")}
    assert kinds == {"EARNED", "REDEEMED", "EXPIRED", "REVERSED", "ADJUSTED", "ABSORBED", "MERGED_OUT"}
    guides = await world.store.pool.fetchrow(
        """SELECT sum(commission_settled_fen) AS settled, sum(commission_debt_fen) AS debt, sum(referrals) AS referrals,
                  sum(refunded_fen) AS refunded FROM guide_performance"""
    )
    assert guides is not None
    assert all(v > 0 for v in guides.values()), dict(guides)
    assert await world.store.pool.fetchval("SELECT count(*) FROM points_debt_moves") > 0


async def test_member_points_equal_each_members_balance_pending_and_totals_at_several_times(world: World) -> None:
    now = world.clock.now()
    for member in await world.all_members():
        totals = member.totals()
        history = await points_history(world.store.pool, member.id)
        for at in (
            now,
            now + timedelta(days=2),
            now + timedelta(days=8),
            now + timedelta(days=45),
            now + timedelta(days=800),
        ):
            row = await member_points(world.store.pool, member.id, at)
            assert row is not None
            assert (row.available, row.pending) == (member.balance(at), member.pending(at)), (member.id, at)
            assert (
                row.earned,
                row.redeemed,
                row.expired,
                row.reversed,
                row.adjusted,
                row.transferred,
                row.debt,
                row.remaining,
            ) == (
                totals.earned,
                totals.redeemed,
                totals.expired,
                totals.reversed,
                totals.adjusted,
                totals.transferred,
                totals.debt,
                totals.remaining,
            )
            assert (row.brand, row.merged_into) == (member.brand, member.merged_into)
            assert row.version == max((h["version"] for h in history), default=1)  # its last points event


async def test_points_history_is_each_members_statement(world: World) -> None:
    for member in await world.all_members():
        rows = await points_history(world.store.pool, member.id)
        assert [(r["at"], r["kind"], r["points"], r["reference"], r["shortfall"]) for r in rows] == [
            (m.at, m.kind, m.points, m.reference, m.shortfall) for m in member.history()
        ]


async def test_points_lots_hold_each_lots_dates_and_remainder(world: World) -> None:
    for member in await world.all_members():
        rows = await world.store.pool.fetch(
            "SELECT lot_id, points, points_remaining, earned_at, available_at, expires_at FROM points_lots"
            " WHERE member_id = $1",
            member.id,
        )
        assert sorted(tuple(r) for r in rows) == sorted(
            (lot.lot_id, lot.points, remaining, lot.earned_at, lot.available_at, lot.expires_at)
            for lot, remaining in member.lots()
        )


async def test_guide_performance_equals_each_guides_customers_sales_and_commission(world: World) -> None:
    for guide in await world.all_guides():
        row = await guide_performance(world.store.pool, guide.id)
        topics = [s.topic for s in await world.store.select_events(guide.id)]
        added = topics.count(get_topic(Guide.CustomerAdded))
        last_read = max(v for v, t in enumerate(topics, start=1) if t in GuidePerformance.topics)
        sales = list(guide._sales.values())
        assert (row["store_id"], row["left_at"], row["version"]) == (guide.store_id, guide.left_at, last_read)
        assert row["customers"] == len(guide.customers) and row["customers_added"] == added
        assert row["referrals"] == sum(1 for kind, _ in guide._credit_refs if kind is CreditKind.REFERRAL)
        assert row["credits"] == guide.credits
        assert (row["sales_orders"], row["sales_fen"], row["refunded_fen"]) == (
            len(sales),
            sum(s.paid_fen for s in sales),
            sum(s.refunded_fen for s in sales),
        )
        assert (row["commission_frozen_fen"], row["commission_settled_fen"], row["commission_debt_fen"]) == (
            guide.frozen_fen,
            guide.settled_fen,
            guide.debt_fen,
        )
        listed = await world.store.pool.fetch("SELECT member_id FROM guide_customers WHERE guide_id = $1", guide.id)
        assert {r["member_id"] for r in listed} == set(guide.customers)


async def test_points_liability_as_of_each_past_checkpoint_equals_what_the_aggregates_said_then(world: World) -> None:
    assert len(world.checkpoints) == 4
    for expected in world.checkpoints:
        for brand in BRANDS:
            got = await points_liability(world.store.pool, brand, expected.at)
            assert (got.available, got.pending, got.debt, got.expiring) == expected.liability[brand], (
                brand,
                expected.at,
            )
    assert len({c.liability["brio"] for c in world.checkpoints}) > 1  # the dates really differ


async def test_points_liability_now_adds_up_the_member_balances(world: World) -> None:
    now = world.clock.now()
    members = await world.all_members()
    for brand in BRANDS:
        got = await points_liability(world.store.pool, brand, now)
        mine = [m for m in members if m.brand == brand]
        assert (got.available, got.pending, got.debt) == (
            sum(m.balance(now) for m in mine),
            sum(m.pending(now) for m in mine),
            sum(m.debt for m in mine),
        )
        assert sum(points for _, points in got.expiring) == got.outstanding


async def test_dealer_ledger_as_of_a_past_day_equals_the_stores_ledgers_that_evening(world: World) -> None:
    for expected in world.checkpoints:
        day = expected.at.astimezone(SHANGHAI).date()
        for brand in BRANDS:
            for dealer in ("D1", "D2"):  # the same dealer ids in both brands: two dealers each
                rows = await ledger_as_of(world.store.pool, brand, dealer, day)
                assert {r["store_id"]: (r["revenue_fen"], r["refunded_fen"]) for r in rows} == expected.ledgers.get(
                    (brand, dealer), {}
                )
                assert all(r["net_fen"] == r["revenue_fen"] - r["refunded_fen"] for r in rows)
    assert any(c.ledgers for c in world.checkpoints[:1])
    assert {brand for brand, _ in world.checkpoints[-1].ledgers} == set(BRANDS)


async def test_all_projections_names_the_chain_the_ledger_and_the_read_models() -> None:
    class FakeStore:
        names = NAMES

    projections = all_projections(FakeStore())  # type: ignore[arg-type]
    assert isinstance(projections[0], HashChainer) and any(isinstance(p, DealerLedger) for p in projections)
    assert {p.name for p in projections} >= {"event_chain", "dealer_ledger", "member_points", "guide_performance"}
    assert len({p.name for p in projections}) == len(projections)
