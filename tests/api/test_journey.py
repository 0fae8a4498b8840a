"""The whole journey through a real gRPC channel: store, guide, referral, order, payment, reward, refund."""

from __future__ import annotations

import orjson

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, source, store_spec
from tests.api.conftest import auth

OP, MP, D2, D1, AU = auth("operator"), auth("miniprogram"), auth("dealer:D2"), auth("dealer:D1"), auth("auditor")


async def test_an_order_goes_to_the_nearest_store_and_money_points_and_credit_follow(api):
    near = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-NEAR", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    far = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-FAR", 31.2500, 121.5000, dealer="D2")),
        ),
        metadata=OP,
    )
    guide = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=s.Guide(store=far.name, wecom_userid="wx-guide-1", display_name="Li Na"),
        ),
        metadata=OP,
    )

    referrer = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-referrer")), metadata=MP
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=m.Member(openid="o-new", unionid="u-new", referrer=referrer.name)
        ),
        metadata=MP,
    )
    assert member.referrer == referrer.name
    member = await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )
    assert member.guide == guide.name and member.home_store == far.name

    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=12_800)), metadata=MP
    )
    # The bound guide's store comes before "nearest" in the default precedence: it is eligible, so it wins,
    # and the guide is credited; the near store was considered too.
    assert order.state == o.ORDER_STATE_ALLOCATED
    assert order.routing.store == far.name and order.routing.dealer == "dealers/D2"
    assert order.routing.guide_credit.guide == guide.name
    assert {c.store for c in order.routing.candidates} == {near.name, far.name}
    assert [source(step) for step in order.routing.attribution][:2] == ["ENTRY_CONTEXT", "BOUND_GUIDE_STORE"]

    paid = await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=MP
    )
    assert paid.state == o.ORDER_STATE_PAID
    member = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    assert (member.pending_points, member.available_points) == (128, 0)  # 1 point per yuan, pending 7 days

    api.clock.advance(days=8)
    await api.orders.SettleOrder(o.SettleOrderRequest(request_id=api.rid(), name=order.name), metadata=OP)
    referrer = await api.members.GetMember(m.GetMemberRequest(name=referrer.name), metadata=MP)
    assert referrer.available_points == 200  # the programme's referral reward
    member = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    assert member.available_points == 128
    g = await api.guides.GetGuide(s.GetGuideRequest(name=guide.name), metadata=OP)
    assert (g.commission_frozen_fen, g.commission_settled_fen) == (0, 384)  # 3 %

    refunded = await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=order.name, amount_fen=6_400), metadata=MP
    )
    assert refunded.refunded_fen == 6_400 and refunded.state == o.ORDER_STATE_PAID
    member = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    assert member.available_points == 64
    g = await api.guides.GetGuide(s.GetGuideRequest(name=guide.name), metadata=OP)
    assert g.commission_debt_fen == 192  # clawed back after settlement: a recorded debt
    store = await api.stores.GetCloudStore(s.GetCloudStoreRequest(name=far.name), metadata=OP)
    assert (store.revenue_fen, store.refunded_fen) == (12_800, 6_400)

    # The dealer who owns the fulfilling store sees the order and the refund on its ledger...
    await api.settled()
    rows = [
        r
        async for r in api.attribution.StreamStoreRevenue(
            a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30"), metadata=D2
        )
    ]
    assert [(r.store, r.orders, r.revenue_fen, r.refunds, r.refunded_fen, r.net_fen) for r in rows] == [
        (far.name, 1, 12_800, 0, 0, 12_800),
        (far.name, 0, 0, 1, 6_400, -6_400),
    ]
    explained = await api.attribution.GetOrderAttribution(a.GetOrderAttributionRequest(name=order.name), metadata=D2)
    assert explained.dealer == "dealers/D2" and explained.routing.attribution
    # ...and the other dealer sees nothing of it.
    assert [
        r
        async for r in api.attribution.StreamStoreRevenue(
            a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30"), metadata=D1
        )
    ] == []

    # The auditor replays the member's history and checks the log is intact.
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=member.name), metadata=AU)]
    kinds = [e.topic.rsplit(".", 1)[-1] for e in events]
    assert kinds[:3] == ["Registered", "GuideBound", "HomeStoreSet"]
    assert "PointsEarned" in kinds and "OrderPointsReversed" in kinds
    assert orjson.loads(events[0].state_json)["openid"] == "o-new"
    before_refund = await api.audit.GetAggregateState(
        au.GetAggregateStateRequest(name=member.name, version=len(kinds) - 1), metadata=AU
    )
    now = await api.audit.GetAggregateState(au.GetAggregateStateRequest(name=member.name), metadata=AU)
    assert before_refund.version == len(kinds) - 1 and now.version == len(kinds)
    assert before_refund.member.points_totals.reversed == 0 and now.member.points_totals.reversed == 64
    assert now.type == "Member" and now.member.member.name == member.name and now.WhichOneof("view") == "member"
    verified = await api.audit.VerifyEventLog(au.VerifyEventLogRequest(), metadata=AU)
    assert verified.ok and verified.checked > 10 and verified.unchained == 0


async def test_finance_reads_the_points_liability_as_of_a_date(api):
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.members.EarnPoints(
        m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="sign-in", points=30), metadata=MP
    )
    before = api.clock.now()
    api.clock.advance(days=1)
    await api.members.EarnPoints(
        m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="birthday", points=70), metadata=MP
    )
    await api.settled()
    now = await api.audit.GetPointsLiability(au.GetPointsLiabilityRequest(brand="acme"), metadata=AU)
    assert (now.available_points, now.pending_points) == (100, 0)
    assert sum(b.points for b in now.expiring) == 100
    as_of = au.GetPointsLiabilityRequest(brand="acme")
    as_of.as_of_time.FromDatetime(before)
    then = await api.audit.GetPointsLiability(as_of, metadata=AU)
    assert then.available_points == 30
