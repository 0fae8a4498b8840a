"""Cancelled and timed-out orders give their store's daily capacity back (issue 13, item 6)."""

from __future__ import annotations

from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import programmes_pb2_grpc
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, register_member, store_spec
from tests.api.conftest import auth
from tests.api.test_errors import PRECONDITION, expect

OP, MP = auth("operator"), auth("miniprogram")


async def _one_slot_store(api) -> s.CloudStore:
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740, daily_capacity=1)),
        ),
        metadata=OP,
    )


async def _place(api, member: m.Member) -> o.Order:
    return await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )


async def test_placing_and_cancelling_orders_cannot_fill_a_store_for_the_day(api):
    store = await _one_slot_store(api)
    member = await register_member(api)
    for _ in range(3):
        order = await _place(api, member)
        assert order.routing.store == store.name
        await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=order.name), metadata=MP)
        await api.settled()  # the router's store directory follows the store's events
    assert (await _place(api, member)).routing.store == store.name
    assert (await _place(api, member)).state == o.ORDER_STATE_UNALLOCATED  # the one slot is really taken now


async def test_an_unpaid_order_past_its_payment_time_is_refused_payment_then_cancelled_releasing_its_slot(api):
    await programmes_pb2_grpc.ProgrammeServiceStub(api.channel).PublishProgramme(
        p.PublishProgrammeRequest(
            request_id=api.rid(), programme=p.Programme(brand="acme", version=2, payment_timeout_minutes=15)
        ),
        metadata=OP,
    )
    store = await _one_slot_store(api)
    member = await register_member(api)
    order = await _place(api, member)
    await api.settled()
    assert await api.running.scheduler.cancel_unpaid() == 0  # still payable
    api.clock.advance(minutes=15)
    meta = await expect(
        api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=MP),
        PRECONDITION,
        "PAYMENT_TIMED_OUT",
    )
    assert "payment_due_at" in meta

    assert await api.running.scheduler.cancel_unpaid() == 1
    await api.settled()
    assert await api.running.scheduler.cancel_unpaid() == 0  # done once
    got = await api.orders.GetOrder(o.GetOrderRequest(name=order.name), metadata=MP)
    assert got.state == o.ORDER_STATE_CANCELLED
    await api.settled()
    assert (await _place(api, member)).routing.store == store.name


async def test_an_order_paid_in_time_is_not_cancelled_by_the_timeout(api):
    await _one_slot_store(api)
    member = await register_member(api)
    order = await _place(api, member)
    api.clock.advance(minutes=119)
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=MP)
    api.clock.advance(minutes=5)
    await api.settled()
    assert await api.running.scheduler.cancel_unpaid() == 0
    assert (await api.orders.GetOrder(o.GetOrderRequest(name=order.name), metadata=MP)).state == o.ORDER_STATE_PAID


async def test_a_slot_released_a_moment_ago_is_used_even_before_the_routers_directory_sees_it(api):
    store = await _one_slot_store(api)
    member = await register_member(api)
    order = await _place(api, member)
    await api.settled()
    await api.running.directory.stop()  # the directory keeps believing the store is full
    await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=order.name), metadata=MP)
    again = await _place(api, member)
    assert again.state == o.ORDER_STATE_ALLOCATED and again.routing.store == store.name
    assert (await _place(api, member)).state == o.ORDER_STATE_UNALLOCATED
