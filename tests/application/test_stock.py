"""Stock-aware ordering against the in-memory ports: reservations with the order, release, a flash sale."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from application.admission import Admission, Budget
from application.clock import ManualClock
from application.members import MemberService
from application.orders import OrderDraft, OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.stock import StockLine, StockService
from application.stock_directory import StockDirectory
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner
from domain.attribution import StockFallback
from domain.errors import DomainError, InvalidArgument, RuleViolation
from domain.order import OrderLine, OrderStatus
from domain.routing import Rejection
from domain.stock import Protection
from domain.store_values import FulfilmentMode
from infrastructure.mapper import build_mapper
from tests.application.conftest import START
from tests.application.fakes import InMemoryStore
from tests.application.test_orders import CUSTOMER, FARTHER, NEAR, spec


@dataclass
class StockApp:
    store: InMemoryStore
    clock: ManualClock
    directory: StoreDirectory
    stock_view: StockDirectory
    stores: StoreService
    members: MemberService
    orders: OrderService
    stock: StockService

    async def catch_up(self) -> None:
        await self.directory.catch_up()
        await self.stock_view.catch_up()


@pytest.fixture
async def app() -> StockApp:
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper), admission=Admission(Budget(5000, 5000)))
    programmes = ProgrammeCatalog(runner, clock)
    directory, view = StoreDirectory(store, mapper), StockDirectory(store, mapper)
    await directory.load()
    await view.load()
    return StockApp(
        store,
        clock,
        directory,
        view,
        StoreService(runner, clock, programmes),
        MemberService(runner, clock, programmes),
        OrderService(runner, clock, programmes, directory, view),
        StockService(runner, clock, programmes),
    )


def draft(member_id, *lines: OrderLine) -> OrderDraft:
    return OrderDraft(
        member_id=member_id,
        lines=lines or (OrderLine("SKU-1", 1, 10_000),),
        mode=FulfilmentMode.DELIVERY,
        customer=CUSTOMER,
    )


async def stocked(app: StockApp, near_units: int, farther_units: int | None = None):
    near = await app.stores.open("acme", spec("S-1", NEAR))
    farther = await app.stores.open("acme", spec("S-2", FARTHER, dealer="D2"))
    lines = [StockLine(near.id, "SKU-1", count=near_units)]
    if farther_units is not None:
        lines.append(StockLine(farther.id, "SKU-1", count=farther_units))
    await app.stock.import_counts("acme", "opening", lines)
    await app.catch_up()
    return near, farther


async def test_an_order_reserves_its_lines_at_its_store_and_payment_then_fulfilment_consume_them(app):
    near, _ = await stocked(app, 5)
    member = await app.members.register("acme", "o-1")

    order = await app.orders.place(draft(member.id, OrderLine("SKU-1", 2, 100), OrderLine("OTHER", 1, 50)))
    assert order.store_id == near.id and order.decision.needs[0].qty == 2  # OTHER is not tracked: no need
    stock = await app.stock.get(near.id, "SKU-1")
    assert (stock.on_hand, stock.reserved, stock.available_online) == (5, 2, 3)

    await app.orders.pay(order.id, 250)
    assert (await app.stock.get(near.id, "SKU-1")).reservations[order.id].committed
    await app.orders.fulfil(order.id)
    stock = await app.stock.get(near.id, "SKU-1")
    assert (stock.on_hand, stock.reserved, stock.consumed) == (3, 0, 2)


async def test_a_store_without_the_units_is_refused_out_of_stock_and_the_next_store_takes_the_order(app):
    near, farther = await stocked(app, 1, 5)
    member = await app.members.register("acme", "o-1")

    order = await app.orders.place(draft(member.id, OrderLine("SKU-1", 2, 100)))

    assert order.store_id == farther.id and order.dealer_id == "D2"
    refused = next(c for c in order.decision.candidates if c.store_id == near.id)
    assert refused.rejections == (Rejection.OUT_OF_STOCK,)


async def test_simulating_shows_the_decision_and_reserves_nothing(app):
    near, _ = await stocked(app, 5)
    member = await app.members.register("acme", "o-1")
    decision = await app.orders.simulate(draft(member.id, OrderLine("SKU-1", 2, 100)))
    assert decision.store_id == near.id
    assert (await app.stock.get(near.id, "SKU-1")).reserved == 0


async def test_cancelling_and_the_payment_timeout_release_the_units(app):
    near, _ = await stocked(app, 2)
    member = await app.members.register("acme", "o-1")
    first = await app.orders.place(draft(member.id))
    second = await app.orders.place(draft(member.id))
    assert (await app.stock.get(near.id, "SKU-1")).available_online == 0

    await app.orders.cancel(first.id, "changed my mind")
    app.clock.advance(minutes=121)
    await app.orders.cancel_unpaid(second.id)

    stock = await app.stock.get(near.id, "SKU-1")
    assert (stock.on_hand, stock.reserved, stock.available_online) == (2, 0, 2)


async def test_walk_in_protection_keeps_units_from_online_orders(app):
    near, _ = await stocked(app, 3)
    await app.stock.protect(near.id, ["SKU-1"], Protection(floor_units=2))
    await app.catch_up()
    member = await app.members.register("acme", "o-1")
    await app.orders.place(draft(member.id))
    with pytest.raises(RuleViolation) as e:
        await app.orders.place(draft(member.id))
    assert e.value.reason == "OUT_OF_STOCK"
    await app.stock.sell_in_store(near.id, "SKU-1", 2)  # the walk-ins take theirs
    assert (await app.stock.get(near.id, "SKU-1")).on_hand == 1


async def test_an_import_is_all_or_nothing_and_idempotent_per_batch(app):
    near, farther = await stocked(app, 5)
    member = await app.members.register("acme", "o-1")
    await app.orders.place(draft(member.id, OrderLine("SKU-1", 4, 1)))
    with pytest.raises(RuleViolation) as e:  # the second line would go below what is held
        await app.stock.import_counts(
            "acme", "b-2", [StockLine(farther.id, "SKU-1", count=9), StockLine(near.id, "SKU-1", count=1)]
        )
    assert e.value.reason == "STOCK_RESERVED"
    with pytest.raises(DomainError):
        await app.stock.get(farther.id, "SKU-1")  # nothing was written
    await app.stock.import_counts("acme", "b-3", [StockLine(near.id, "SKU-1", delta=2)])
    await app.stock.import_counts("acme", "b-3", [StockLine(near.id, "SKU-1", delta=2)])
    assert (await app.stock.get(near.id, "SKU-1")).on_hand == 7
    with pytest.raises(InvalidArgument):
        await app.stock.import_counts("acme", "b-4", [StockLine(near.id, "SKU-1", count=1)] * 2)


async def test_another_brand_cannot_import_into_or_read_a_store(app):
    near, _ = await stocked(app, 5)
    with pytest.raises(DomainError) as e:
        await app.stock.import_counts("other", "x", [StockLine(near.id, "SKU-1", count=1)])
    assert e.value.reason.endswith("NOT_FOUND")
    with pytest.raises(DomainError) as e:
        await app.stock.get(near.id, "SKU-1", brand="other")
    assert e.value.reason.endswith("NOT_FOUND")


async def test_a_thousand_concurrent_orders_for_ten_units_get_exactly_ten_reservations(app):
    near = await app.stores.open("acme", spec("S-1", NEAR))
    await app.stock.import_counts("acme", "drop", [StockLine(near.id, "SKU-1", count=10)])
    await app.catch_up()
    members = [await app.members.register("acme", f"o-{i}") for i in range(50)]

    results = await asyncio.gather(
        *(app.orders.place(draft(members[i % 50].id)) for i in range(1000)), return_exceptions=True
    )

    placed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(placed) == 10 and all(o.status is OrderStatus.ALLOCATED for o in placed)
    assert all(isinstance(e, RuleViolation) and e.reason == "OUT_OF_STOCK" for e in refused), {
        type(e).__name__ + ":" + getattr(e, "reason", "") for e in refused
    }
    assert len(refused) == 990
    stock = await app.stock.get(near.id, "SKU-1")
    assert (stock.on_hand, stock.reserved, stock.available_online) == (10, 10, 0)

    # three are paid and fulfilled, three cancelled, the rest time out and are swept
    for o in placed[:3]:
        await app.orders.pay(o.id, o.total_fen)
        await app.orders.fulfil(o.id)
    for o in placed[3:6]:
        await app.orders.cancel(o.id, "no")
    app.clock.advance(minutes=121)
    for o in placed[6:]:
        await app.orders.cancel_unpaid(o.id)
    stock = await app.stock.get(near.id, "SKU-1")
    assert (stock.on_hand, stock.reserved, stock.consumed, stock.available_online) == (7, 0, 3, 7)
    assert stock.on_hand + stock.consumed == 10


async def test_the_hold_expires_when_the_order_can_no_longer_be_paid(app):
    near, _ = await stocked(app, 1)
    member = await app.members.register("acme", "o-1")
    order = await app.orders.place(draft(member.id))
    assert order.payment_due_at == START + timedelta(minutes=120)
    hold = (await app.stock.get(near.id, "SKU-1")).reservations[order.id]
    assert hold.expires_at == order.payment_due_at


async def test_a_split_order_goes_out_in_parts_each_allocated_and_booked_to_its_own_stores_dealer(app):
    near = await app.stores.open("acme", spec("S-1", NEAR))
    farther = await app.stores.open("acme", spec("S-2", FARTHER, dealer="D2"))
    await app.stock.import_counts(
        "acme", "opening", [StockLine(near.id, "A", count=1), StockLine(farther.id, "B", count=1)]
    )
    await app.catch_up()
    programmes = app.orders.programmes
    current = await programmes.current("acme")
    await programmes.publish(
        replace(
            current,
            version=current.version + 1,
            attribution=replace(current.attribution, stock_fallback=StockFallback.SPLIT),
        )
    )
    assert (await programmes.current("acme")).attribution.stock_fallback is StockFallback.SPLIT
    member = await app.members.register("acme", "o-1")

    first = await app.orders.place(
        draft(member.id, OrderLine("A", 1, 100), OrderLine("B", 1, 200), OrderLine("UNTRACKED", 1, 5))
    )

    parts = first.decision.split
    assert [p.store_id for p in parts] == [near.id, farther.id] and parts[0].order_id == first.id
    second = await app.orders.get(parts[1].order_id)
    assert (first.store_id, first.dealer_id, first.total_fen) == (near.id, "D1", 105)  # untracked goes with part 0
    assert (second.store_id, second.dealer_id, second.total_fen) == (farther.id, "D2", 200)
    assert first.status is second.status is OrderStatus.ALLOCATED
    assert (await app.stock.get(near.id, "A")).reserved == (await app.stock.get(farther.id, "B")).reserved == 1
    await app.orders.pay(second.id, 200)
    assert (await app.stores.get(farther.id)).revenue_fen("D2") == 200
