"""Fields the API documents are filled, and wire defaults match the application's (issue 13, item 9)."""

from __future__ import annotations

from protos.loyalty.v1 import common_pb2
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, gcj
from tests.api.conftest import auth

OP, MP = auth("operator"), auth("miniprogram")


async def _store(api, spec: s.CloudStoreSpec) -> s.CloudStore:
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=spec)), metadata=OP
    )


def _spec_without_online_flag(code: str) -> s.CloudStoreSpec:
    return s.CloudStoreSpec(
        code=code,
        display_name=f"Store {code}",
        dealer="dealers/D1",
        location=gcj(31.2310, 121.4740),
        service_radius_m=5000,
        modes=[common_pb2.FULFILMENT_MODE_DELIVERY],
    )


async def _paid_order(api, fen: int) -> tuple[m.Member, o.Order]:
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid=f"o-{api.rid()}")),
        metadata=MP,
    )
    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=fen)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=fen), metadata=MP)
    return member, order


async def test_a_store_opened_without_the_online_flag_takes_online_orders(api):
    store = await _store(api, _spec_without_online_flag("S-DEFAULT"))
    assert store.spec.online_orders_enabled is True
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-default")), metadata=MP
    )
    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert order.state == o.ORDER_STATE_ALLOCATED and order.routing.store == store.name


async def test_a_store_opened_with_the_online_flag_explicitly_off_takes_none(api):
    spec = _spec_without_online_flag("S-OFF")
    spec.online_orders_enabled = False
    store = await _store(api, spec)
    assert store.spec.online_orders_enabled is False


async def test_points_history_shows_the_shortfall_a_refund_left_as_debt(api):
    await _store(api, _spec_without_online_flag("S-1"))
    member, order = await _paid_order(api, 10_000)  # 100 points, pending 7 days
    api.clock.advance(days=8)
    await api.members.RedeemPoints(
        m.RedeemPointsRequest(request_id=api.rid(), name=member.name, points=80, reference="coupon-1"), metadata=MP
    )
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=order.name, amount_fen=10_000, reason="damaged"), metadata=MP
    )

    history = await api.members.ListPointsHistory(m.ListPointsHistoryRequest(parent=member.name), metadata=MP)
    reversed_ = [e for e in history.entries if e.kind == m.POINTS_ENTRY_KIND_REVERSED]
    assert [(e.points, e.shortfall) for e in reversed_] == [(-20, 80)]


async def test_a_refund_keeps_its_reason_and_the_order_shows_it(api):
    await _store(api, _spec_without_online_flag("S-1"))
    _, order = await _paid_order(api, 10_000)
    refunded = await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id="refund-1", name=order.name, amount_fen=4_000, reason="arrived damaged"),
        metadata=MP,
    )
    assert [(r.refund_id, r.amount_fen, r.reason) for r in refunded.refunds] == [("refund-1", 4_000, "arrived damaged")]
    again = await api.orders.GetOrder(o.GetOrderRequest(name=order.name), metadata=MP)
    assert [r.reason for r in again.refunds] == ["arrived damaged"]
