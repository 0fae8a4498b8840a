"""What happens to orders, guides and times as members merge, guides move or leave, and rules change."""

from __future__ import annotations

import grpc
import orjson
import pytest

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth

OP, MP, AU, D1 = auth("operator"), auth("miniprogram"), auth("auditor"), auth("dealer:D1")
CUSTOMER = (31.2305, 121.4738)


async def _store(api, code="S-1", lat=31.2310, lng=121.4740, dealer="D1"):
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(request_id=api.rid(), brand="acme", store=store_spec(code, lat, lng, dealer)),
        metadata=OP)


async def _member(api, openid, **kw):
    return await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", openid=openid, **kw), metadata=MP)


async def _place(api, member, fen=10_000, entry=None):
    await api.settled()
    return await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *CUSTOMER, fen=fen, entry=entry)),
        metadata=MP)


async def _pay(api, order, fen=10_000):
    return await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), order=order.name, paid_fen=fen),
                                     metadata=MP)


async def _state(api, name, as_of):
    request = au.GetAggregateStateRequest(aggregate=name)
    request.as_of.CopyFrom(as_of)
    return orjson.loads((await api.audit.GetAggregateState(request, metadata=AU)).state_json)


# --- times -------------------------------------------------------------------------------------------------


async def test_the_history_as_of_the_times_the_api_reports_shows_those_facts(api):
    await _store(api)
    order = await _place(api, await _member(api, "o-1"))
    api.clock.advance(minutes=5)
    await _pay(api, order)

    placed = await _state(api, order.name, order.placed_at)
    assert placed["status"] == "ALLOCATED"
    attribution = await api.attribution.GetOrderAttribution(a.GetOrderAttributionRequest(order=order.name),
                                                            metadata=D1)
    paid = await _state(api, order.name, attribution.paid_at)
    assert paid["status"] == "PAID"
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=order.name), metadata=AU)]
    assert [e.recorded_at for e in events] == [order.placed_at, order.placed_at, attribution.paid_at]
