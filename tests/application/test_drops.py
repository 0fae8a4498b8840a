"""Drop use cases against the in-memory ports: idempotent entries, the invitation bonus, draw, claim, pass on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest

from application.clock import ManualClock
from application.drops import ClaimRequest, DropEntryIndex, DropService, DropSpec
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner
from domain.drop import DropPool, EntryTickets, draw_order
from domain.errors import DomainError, InvalidArgument, RuleViolation
from domain.order import Order, OrderStatus
from domain.routing import StepReason
from domain.store_values import FulfilmentMode
from infrastructure.drop_seeds import HmacSeedSource
from infrastructure.mapper import build_mapper
from tests.application.conftest import START
from tests.application.fakes import InMemoryStore
from tests.application.test_orders import CUSTOMER, NEAR
from tests.application.test_orders import spec as store_spec

HOUR = timedelta(hours=1)


@dataclass
class DropApp:
    store: InMemoryStore
    clock: ManualClock
    members: MemberService
    drops: DropService
    seeds: HmacSeedSource
    orders: OrderService
    stores: StoreService
    directory: StoreDirectory


@pytest.fixture
async def app() -> DropApp:
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper))
    programmes = ProgrammeCatalog(runner, clock)
    seeds = HmacSeedSource(b"k" * 32)
    directory = StoreDirectory(store, mapper)
    await directory.load()
    orders = OrderService(runner, clock, programmes, directory)
    return DropApp(
        store,
        clock,
        MemberService(runner, clock, programmes),
        DropService(runner, clock, programmes, seeds, mapper, DropEntryIndex(store, mapper), orders),
        seeds,
        orders,
        StoreService(runner, clock, programmes),
        directory,
    )


def spec(units: int = 2, **kw) -> DropSpec:
    args = dict(
        name="Sneaker",
        sku="SNK-1",
        pools=(DropPool(None, units),),
        registration_opens_at=START + HOUR,
        registration_closes_at=START + 2 * HOUR,
        purchase_window_minutes=30,
        per_member_limit=1,
        tickets_per_invite=3,
        invite_ticket_cap=3,
        price_fen=59_900,
    )
    return DropSpec(**{**args, **kw})


ONLINE = ClaimRequest(FulfilmentMode.DELIVERY, CUSTOMER)


async def test_the_commitment_is_the_hash_of_the_seed_the_draw_reveals(app):
    old = await app.members.register("acme", "o-old")  # a member before the drop
    drop = await app.drops.create("acme", spec())
    assert drop.commitment == hashlib.sha256(app.seeds.seed_for(drop.id)).hexdigest()
    app.clock.advance(hours=1)
    inviter = await app.members.register("acme", "o-inviter")
    new = await app.members.register("acme", "o-new", referrer_id=inviter.id)
    first = await app.drops.register(drop.id, inviter.id)
    again = await app.drops.register(drop.id, inviter.id)
    assert first.id == again.id and first.version == again.version  # idempotent
    await app.drops.register(drop.id, new.id, invited_by=inviter.id)
    await app.drops.register(drop.id, old.id, invited_by=inviter.id)  # not new, not the inviter's invitee: no bonus
    assert (await app.drops.entry(drop.id, inviter.id)).tickets == 4

    with pytest.raises(RuleViolation):
        await app.drops.draw(drop.id)
    app.clock.advance(hours=1, minutes=1)
    drawn = await app.drops.draw(drop.id)

    assert bytes.fromhex(drawn.seed) == app.seeds.seed_for(drop.id)
    entries = [EntryTickets(inviter.id, None, 4), EntryTickets(new.id, None, 1), EntryTickets(old.id, None, 1)]
    assert set(drawn.offers) == set(draw_order(app.seeds.seed_for(drop.id), entries)[:2])


async def test_another_brand_neither_sees_nor_enters_a_drop(app):
    drop = await app.drops.create("acme", spec())
    other = await app.members.register("other", "o-1")
    app.clock.advance(hours=1)
    with pytest.raises(DomainError) as e:
        await app.drops.register(drop.id, other.id, brand="other")
    assert e.value.reason.endswith("NOT_FOUND")
    with pytest.raises(DomainError) as e:
        await app.drops.register(drop.id, other.id)  # the member is another brand's
    assert e.value.reason.endswith("NOT_FOUND")


async def test_winners_claim_and_unclaimed_units_pass_on(app):
    drop = await app.drops.create("acme", spec(units=1))
    app.clock.advance(hours=1)
    members = [await app.members.register("acme", f"o-{i}") for i in range(5)]
    for m in members:
        await app.drops.register(drop.id, m.id)
    app.clock.advance(hours=1, minutes=1)
    drawn = await app.drops.draw(drop.id)
    (winner,) = drawn.offers
    app.clock.advance(minutes=31)
    with pytest.raises(RuleViolation):
        await app.drops.claim(drop.id, winner, ONLINE)
    passed = await app.drops.pass_on(drop.id)
    (second,) = [m for m, o in passed.offers.items() if not o.lapsed]
    assert second != winner
    order = draw_order(app.seeds.seed_for(drop.id), [EntryTickets(m.id, None, 1) for m in members])
    assert order[:2] == [winner, second]
    await app.drops.claim(drop.id, second, ONLINE)
    assert (await app.drops.get(drop.id)).offers[second].claimed


async def drawn(app: DropApp, pools, n: int = 4, at_store=None):
    drop = await app.drops.create("acme", spec(pools=pools))
    app.clock.advance(hours=1)
    members = [await app.members.register("acme", f"w-{i}") for i in range(n)]
    for m in members:
        await app.drops.register(drop.id, m.id, store_id=at_store)
    app.clock.advance(hours=1, minutes=1)
    drop = await app.drops.draw(drop.id)
    order = draw_order(app.seeds.seed_for(drop.id), [EntryTickets(m.id, at_store, 1) for m in members])
    return drop, order


async def test_an_online_claim_places_a_routed_order_holding_the_units_and_it_pays(app):
    store = await app.stores.open("acme", store_spec("S-1", NEAR))
    await app.directory.catch_up()
    drop, order = await drawn(app, (DropPool(None, 1),))
    winner = order[0]
    with pytest.raises(InvalidArgument) as e:
        await app.drops.claim(drop.id, winner, ClaimRequest(None, CUSTOMER))
    assert e.value.reason == "FULFILMENT_MODE_REQUIRED"
    with pytest.raises(InvalidArgument) as e:
        await app.drops.claim(drop.id, winner, ClaimRequest(FulfilmentMode.DELIVERY, CUSTOMER, store.id))
    assert e.value.reason == "POOL_STORE_MISMATCH"

    claimed = await app.drops.claim(drop.id, winner, ONLINE)
    placed = claimed.order
    assert claimed.drop.offers[winner].order_id == placed.id
    stored = await app.orders.get(placed.id)
    assert stored.drop_id == drop.id and stored.status is OrderStatus.ALLOCATED and stored.store_id == store.id
    assert [(line.sku, line.qty, line.unit_fen) for line in stored.lines] == [("SNK-1", 1, 59_900)]
    assert stored.payment_due_at == claimed.drop.offers[winner].expires_at  # payable for the purchase window
    assert stored.decision.needs == ()  # the unit is the drop's: no store stock reserved
    with pytest.raises(RuleViolation) as e:
        await app.drops.claim(drop.id, winner, ONLINE)
    assert e.value.reason == "OFFER_CLAIMED" and e.value.details["order_id"] == str(placed.id)

    paid = await app.orders.pay(placed.id, 59_900)
    assert paid.status is OrderStatus.PAID
    assert (await app.drops.get(drop.id)).offers[winner].claimed


async def test_a_store_pools_claim_is_pinned_and_its_cancellation_returns_the_unit_to_the_next(app):
    store = await app.stores.open("acme", store_spec("S-1", NEAR))
    await app.directory.catch_up()
    drop, order = await drawn(app, (DropPool(store.id, 1),), at_store=store.id)
    first, second = order[0], order[1]
    with pytest.raises(InvalidArgument) as e:
        await app.drops.claim(drop.id, first, ClaimRequest(FulfilmentMode.DELIVERY))
    assert e.value.reason == "DROP_POOL_PICKUP_ONLY"

    claimed = await app.drops.claim(drop.id, first)  # collected at the pool's store: nothing more to give
    placed = await app.orders.get(claimed.order.id)
    assert placed.store_id == store.id and placed.mode is FulfilmentMode.PICKUP
    assert placed.decision.explanation[-1].reason is StepReason.DROP_POOL

    cancelled = await app.orders.cancel(placed.id, "CHANGED_MIND")
    assert cancelled.status is OrderStatus.CANCELLED
    after = await app.drops.get(drop.id)
    assert after.offers[first].lapsed and after.returned == (first,)
    passed = await app.drops.pass_on(drop.id)
    assert passed.offers[second].store_id == store.id and not passed.offers[second].lapsed
    again = await app.drops.claim(drop.id, second)
    assert again.order.id != placed.id
    await app.orders.pay(again.order.id, 59_900)


async def test_an_unpaid_claim_times_out_with_the_window_and_its_unit_passes_on(app):
    await app.stores.open("acme", store_spec("S-1", NEAR))
    await app.directory.catch_up()
    drop, order = await drawn(app, (DropPool(None, 1),))
    claimed = await app.drops.claim(drop.id, order[0], ONLINE)
    app.clock.advance(minutes=31)  # past the purchase window: the order's payment time
    with pytest.raises(RuleViolation):
        await app.orders.pay(claimed.order.id, 59_900)
    await app.orders.cancel_unpaid(claimed.order.id)
    assert await app.drops.pass_on_lapsed(drop.id)  # the scheduler's round
    after = await app.drops.get(drop.id)
    assert not after.offers[order[1]].lapsed and after.offers[order[0]].lapsed
    assert not await app.drops.pass_on_lapsed(drop.id)
    assert isinstance(await app.orders.get(claimed.order.id), Order)
