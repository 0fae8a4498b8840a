"""Work that falls due with time is done by the server: settlement after the return window, expiry sweeps."""

from __future__ import annotations

import orjson

from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth

OP, MP, AU = auth("operator"), auth("miniprogram"), auth("auditor")


async def test_orders_past_their_return_window_settle_by_themselves_once(api):
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    guide = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(), brand="acme", guide=s.Guide(store=store.name, wecom_userid="wx-1", display_name="Li")
        ),
        metadata=OP,
    )
    referrer = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-ref")), metadata=MP
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=m.Member(openid="o-new", referrer=referrer.name)
        ),
        metadata=MP,
    )
    await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )
    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=10_000)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=10_000), metadata=MP)
    await api.settled()
    scheduler = api.running.scheduler

    assert await scheduler.run_once() == (0, 0)  # inside the 7-day return window: nothing due
    api.clock.advance(days=7, minutes=1)
    assert await scheduler.run_once() == (1, 0)
    assert await scheduler.run_once() == (0, 0)  # done once
    g = await api.guides.GetGuide(s.GetGuideRequest(name=guide.name), metadata=OP)
    assert (g.commission_frozen_fen, g.commission_settled_fen) == (0, 300)
    r = await api.members.GetMember(m.GetMemberRequest(name=referrer.name), metadata=MP)
    assert r.available_points == 200


async def test_expired_points_are_swept_onto_the_ledger(api):
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.members.EarnPoints(
        m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="sign-in", points=25), metadata=MP
    )
    await api.settled()
    assert await api.running.scheduler.run_once() == (0, 0)
    api.clock.advance(days=500)  # past the end of 2027, when 2026's lots expire
    assert (await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)).available_points == 0
    assert await api.running.scheduler.run_once() == (0, 1)
    await api.settled()
    assert await api.running.scheduler.run_once() == (0, 0)
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=member.name), metadata=AU)]
    expired = [orjson.loads(e.state_json) for e in events if e.topic.endswith("PointsExpired")]
    assert [x["points"] for x in expired] == [25]
