"""The scheduler sweeps expired stock holds and passes lapsed drop offers on by itself, once, with two server
processes sweeping the same aggregates (each with its own cached copy: the version check at commit decides)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from domain.stock import stock_id
from protos.loyalty.v1 import drops_pb2 as d
from protos.loyalty.v1 import drops_pb2_grpc, stock_pb2_grpc
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stock_pb2 as k
from tests.api.builders import drawn_drop, stocked_store_with_an_unpaid_and_a_paid_order
from tests.api.conftest import auth, serving

OP, MP, AU = auth("operator"), auth("miniprogram"), auth("auditor")
CUSTOMER = (31.2305, 121.4738)


async def topics(store, aggregate_id: UUID) -> list[str]:
    return [e.topic.rsplit(".", 1)[-1] for e in await store.select_events(aggregate_id)]


async def test_expired_holds_are_released_once_though_two_processes_sweep(api, fresh_dsn, tmp_path):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    store, unpaid = await stocked_store_with_an_unpaid_and_a_paid_order(api, "S-W", CUSTOMER)
    level_name = f"{store.name}/stock/SKU-1"
    sid = stock_id(UUID(store.name.split("/")[1]), "SKU-1")

    async with serving(fresh_dsn, tmp_path, api.clock) as (other, channel):
        # the second process reads the stock too: both now hold the same version in memory
        seen = await stock_pb2_grpc.StockServiceStub(channel).GetStockLevel(
            k.GetStockLevelRequest(name=level_name), metadata=OP
        )
        assert seen.reserved_units == 2
        schedulers = [api.running.scheduler, other.scheduler]
        assert [await x.sweep_stock() for x in schedulers] == [0, 0]  # within the payment time: nothing to do

        api.clock.advance(minutes=121)
        released = await asyncio.gather(*(x.sweep_stock() for x in schedulers))
        assert sorted(released) == [0, 1]
        await api.settled()
        assert [await x.sweep_stock() for x in schedulers] == [0, 0]  # the read model no longer names it

    assert (await topics(api.running.store, sid)).count("Released") == 1
    level = await stock.GetStockLevel(k.GetStockLevelRequest(name=level_name), metadata=OP)
    assert (level.on_hand_units, level.reserved_units, level.available_online_units) == (3, 1, 2)  # the paid one
    # the payment timeout still cancels the order; its units were given back already, and are not given twice
    assert await api.running.scheduler.cancel_unpaid() == 1
    assert (await api.orders.GetOrder(o.GetOrderRequest(name=unpaid.name), metadata=MP)).state == (
        o.ORDER_STATE_CANCELLED
    )
    level = await stock.GetStockLevel(k.GetStockLevelRequest(name=level_name), metadata=OP)
    assert (level.reserved_units, level.available_online_units) == (1, 2)
    assert (await topics(api.running.store, sid)).count("Released") == 1


async def test_the_scheduler_passes_lapsed_offers_on_once_though_two_processes_sweep(api, fresh_dsn, tmp_path):
    drops = drops_pb2_grpc.DropServiceStub(api.channel)
    drop, members = await drawn_drop(api, "SNK", 59_900)
    await api.settled()
    drop_id = UUID(drop.name.split("/")[1])

    async def results() -> list[tuple[str, int]]:
        listed = await drops.ListDropResults(d.ListDropResultsRequest(parent=drop.name), metadata=AU)
        return sorted((r.member, r.result) for r in listed.offers)

    (first,) = [m for m, r in await results() if r == d.DROP_RESULT_WON]
    async with serving(fresh_dsn, tmp_path, api.clock) as (other, channel):
        await drops_pb2_grpc.DropServiceStub(channel).GetDrop(d.GetDropRequest(name=drop.name), metadata=OP)
        schedulers = [api.running.scheduler, other.scheduler]
        assert [await x.pass_on_offers() for x in schedulers] == [0, 0]  # inside the purchase window

        api.clock.advance(minutes=31)
        assert sorted(await asyncio.gather(*(x.pass_on_offers() for x in schedulers))) == [0, 1]
        await api.settled()
        assert [await x.pass_on_offers() for x in schedulers] == [0, 0]
        after = dict(await results())
        assert after[first] == d.DROP_RESULT_LAPSED
        (second,) = [m for m, r in after.items() if r == d.DROP_RESULT_WON]  # one unit: offered to one member
        assert (await topics(api.running.store, drop_id)).count("PassedOn") == 1

        api.clock.advance(minutes=31)  # the second lets it lapse too: the third and last member is offered it
        assert sorted(await asyncio.gather(*(x.pass_on_offers() for x in schedulers))) == [0, 1]
        await api.settled()
        final = dict(await results())
        assert final[second] == d.DROP_RESULT_LAPSED and list(final.values()).count(d.DROP_RESULT_WON) == 1
        assert set(final) == set(members)

        api.clock.advance(minutes=31)  # nobody is left to offer it to: the last offer lapses, and that is all
        assert sorted(await asyncio.gather(*(x.pass_on_offers() for x in schedulers))) == [0, 1]
        await api.settled()
        assert [await x.pass_on_offers() for x in schedulers] == [0, 0]
    assert set(dict(await results()).values()) == {d.DROP_RESULT_LAPSED}
    assert (await topics(api.running.store, drop_id)).count("PassedOn") == 3
