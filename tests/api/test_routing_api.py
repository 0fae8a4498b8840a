"""Routing through the API: what-if writes nothing, stores appear in other processes live, no store is an outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import orders_pb2_grpc
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, outcome, rejected, source, store_spec, unallocated
from tests.api.conftest import auth, serving

OP, MP, D1, D2 = auth("operator"), auth("miniprogram"), auth("dealer:D1"), auth("dealer:D2")


async def _member(api, openid="o-1"):
    return await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid=openid)), metadata=MP
    )


async def _open(api, code, lat, lng, dealer="D1", **kw):
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng, dealer, **kw))
        ),
        metadata=OP,
    )


async def test_simulating_an_order_explains_the_choice_and_writes_nothing(api):
    near = await _open(api, "A", 31.2310, 121.4740)
    await _open(api, "B", 31.2400, 121.4800)
    await _open(api, "FAR", 31.3500, 121.6000)  # beyond every store's delivery radius: not considered
    member = await _member(api)
    await api.settled()
    before = await api.running.store.max_notification_id()
    decision = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert decision.allocated and decision.store == near.name and decision.dealer == "dealers/D1"
    assert source(decision.attribution[-1]) == "NEAREST" and outcome(decision.attribution[-1]) == "CHOSEN"
    assert len(decision.candidates) == 2
    assert await api.running.store.max_notification_id() == before


async def test_with_every_store_suspended_the_order_is_unallocated_and_goes_to_the_fallback(api):
    store = await _open(api, "A", 31.2310, 121.4740)
    await api.stores.SuspendCloudStore(
        s.SuspendCloudStoreRequest(request_id=api.rid(), name=store.name, reason="renovation"), metadata=OP
    )
    member = await _member(api)
    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert order.state == o.ORDER_STATE_UNALLOCATED
    assert unallocated(order.routing) == "NO_ELIGIBLE_STORE"
    assert order.routing.fallback == "BRAND_ONLINE_STORE"
    assert rejected(order.routing.candidates[0]) == "STORE_SUSPENDED"


async def test_a_full_store_overflows_to_the_next_eligible_one(api):
    full = await _open(api, "A", 31.2310, 121.4740, daily_capacity=1)
    next_ = await _open(api, "B", 31.2400, 121.4800)
    member = await _member(api)
    await api.settled()
    first = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    second = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert first.routing.store == full.name
    assert second.routing.store == next_.name
    assert {c.store: rejected(c) for c in second.routing.candidates}[full.name] == "CAPACITY_REACHED"


async def test_a_store_opened_through_one_server_routes_orders_in_another_without_restart(api, fresh_dsn, tmp_path):
    async with serving(fresh_dsn, tmp_path / "second", api.clock) as (_, channel):
        other_orders = orders_pb2_grpc.OrderServiceStub(channel)
        member = await _member(api)
        store = await _open(api, "NEW", 31.2310, 121.4740)
        for _ in range(400):  # the second process learns of the store by NOTIFY, not by restarting
            decision = await other_orders.SimulateOrder(
                o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
            )
            if decision.allocated:
                break
            await asyncio.sleep(0.05)
        assert decision.store == store.name


async def test_revenue_stays_with_the_dealer_of_the_order_time_after_a_transfer(api):
    store = await _open(api, "A", 31.2310, 121.4740, dealer="D1")
    member = await _member(api)
    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=10_000)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=10_000), metadata=MP)
    api.clock.advance(days=1)
    await api.stores.TransferCloudStore(
        s.TransferCloudStoreRequest(
            request_id=api.rid(), name=store.name, to_dealer="dealers/D2", effective_time=_ts(api.clock.now())
        ),
        metadata=OP,
    )
    api.clock.advance(hours=1)
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=order.name, amount_fen=2_500), metadata=MP
    )
    await api.settled()
    month = a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30")
    d1 = [r async for r in api.attribution.StreamStoreRevenue(month, metadata=D1)]
    d2 = [r async for r in api.attribution.StreamStoreRevenue(month, metadata=D2)]
    assert sum(r.revenue_fen for r in d1) == 10_000 and sum(r.refunded_fen for r in d1) == 2_500
    assert d2 == []
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.stores.TransferCloudStore(
            s.TransferCloudStoreRequest(
                request_id=api.rid(),
                name=store.name,
                to_dealer="dealers/D3",
                effective_time=_ts(api.clock.now() - timedelta(days=5)),
            ),
            metadata=OP,
        )
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def _ts(at):
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


async def test_the_decision_keeps_the_nearest_few_refused_stores_not_every_store_passed(api):
    for i in range(12):
        store = await _open(api, f"S{i}", 31.2310 + i * 0.001, 121.4740)
        await api.stores.SuspendCloudStore(
            s.SuspendCloudStoreRequest(request_id=api.rid(), name=store.name, reason="stocktake"), metadata=OP
        )
    open_one = await _open(api, "OPEN", 31.2500, 121.4740)
    member = await _member(api)
    await api.settled()
    decision = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert decision.store == open_one.name
    refused = [c for c in decision.candidates if rejected(c)]
    assert len(refused) == 8 and all(rejected(c) == "STORE_SUSPENDED" for c in refused)
    assert max(c.distance_m for c in refused) < decision.distance_m
