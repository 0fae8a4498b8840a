"""What a routing decision records: the programme version whose policy made it, and the dealer the store records.

The order's dealer (``decision.dealer_id``) is where its revenue and refunds are
booked, so it must be the owner the store itself recorded on accepting the order,
even when the router's replica of the store missed a transfer.
"""

from __future__ import annotations

import orjson

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth
from tests.api.test_programmes import publish
from tests.api.test_routing_api import _ts

OP, MP, AU, D1, D2 = auth("operator"), auth("miniprogram"), auth("auditor"), auth("dealer:D1"), auth("dealer:D2")


async def place(api, member: str) -> o.Order:
    return await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member, 31.2305, 121.4738)), metadata=MP
    )


async def stored_decision_versions(api, order: str) -> list[int]:
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=order), metadata=AU)]
    return [
        orjson.loads(e.state_json)["decision"]["programme_version"] for e in events if e.topic.endswith(".Allocated")
    ]


async def test_decisions_record_the_programme_version_in_force_when_they_were_made(api):
    await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740, "D1")),
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.settled()
    before = await place(api, member.name)
    await publish(api, p.Programme(brand="acme", version=2, points_per_yuan=2))
    after = await place(api, member.name)
    what_if = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )

    assert (before.routing.programme_version, after.routing.programme_version) == (1, 2)
    assert what_if.programme_version == 2
    assert await stored_decision_versions(api, before.name) == [1]
    assert await stored_decision_versions(api, after.name) == [2]


async def test_an_order_routed_on_a_stale_replica_books_to_the_dealer_the_store_records(api):
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740, "D1")),
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.settled()
    await api.running.directory.stop()  # the router's replica still says D1
    await api.stores.TransferCloudStore(
        s.TransferCloudStoreRequest(
            request_id=api.rid(), name=store.name, to_dealer="dealers/D2", effective_time=_ts(api.clock.now())
        ),
        metadata=OP,
    )
    order = await place(api, member.name)
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=MP)
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=order.name, amount_fen=800), metadata=MP
    )
    await api.settled()

    assert order.routing.store == store.name and order.routing.dealer == "dealers/D2"
    month = a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30")
    d2 = [r async for r in api.attribution.StreamStoreRevenue(month, metadata=D2)]
    assert (sum(r.revenue_fen for r in d2), sum(r.refunded_fen for r in d2)) == (12_800, 800)
    assert [r async for r in api.attribution.StreamStoreRevenue(month, metadata=D1)] == []
