"""A retried request returns the original response and writes nothing new, even across a restart."""

from __future__ import annotations

import asyncio

import grpc

from application.clock import ManualClock
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import members_pb2_grpc
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import START, auth, serving
from tests.api.test_errors import expect

OP, MP = auth("operator"), auth("miniprogram")


async def test_a_retried_registration_returns_the_original_member_and_writes_nothing(api):
    request = m.RegisterMemberRequest(request_id="reg-1", brand="acme", member=m.Member(openid="o-1"))
    first = await api.members.RegisterMember(request, metadata=MP)
    head = await api.running.store.max_notification_id()
    api.clock.advance(days=3)
    again = await api.members.RegisterMember(request, metadata=MP)
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    assert await api.running.store.max_notification_id() == head


async def test_a_retried_order_placement_returns_the_same_order_not_a_second_one(api):
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.settled()
    place = o.PlaceOrderRequest(request_id="place-1", order=draft(member.name, 31.2305, 121.4738))
    first = await api.orders.PlaceOrder(place, metadata=MP)
    pay = o.PayOrderRequest(request_id="pay-1", name=first.name, paid_fen=12_800)
    paid = await api.orders.PayOrder(pay, metadata=MP)
    head = await api.running.store.max_notification_id()

    assert await api.orders.PlaceOrder(place, metadata=MP) == first
    assert await api.orders.PayOrder(pay, metadata=MP) == paid  # not "already paid": the same answer
    assert await api.running.store.max_notification_id() == head
    got = await api.stores.GetCloudStore(s.GetCloudStoreRequest(name=store.name), metadata=OP)
    assert got.revenue_fen == 12_800


async def test_the_same_request_id_with_a_different_payload_is_rejected(api):
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.members.EarnPoints(
        m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5), metadata=MP
    )
    head = await api.running.store.max_notification_id()
    meta = await expect(
        api.members.EarnPoints(
            m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=50), metadata=MP
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
    )
    assert meta == {"request_id": "acme/earn-1", "method": "EarnPoints"}  # request ids are scoped by brand
    # An id is unique across methods too: the same id on another call is another request.
    await expect(
        api.members.RedeemPoints(
            m.RedeemPointsRequest(request_id="earn-1", name=member.name, points=5, reference="c"), metadata=MP
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
    )
    assert await api.running.store.max_notification_id() == head


async def test_concurrent_duplicates_apply_once(api):
    copies = 12
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    head = await api.running.store.max_notification_id()
    request = m.EarnPointsRequest(request_id="earn-dup", name=member.name, rule="sign-in", points=7)
    # Separate channels: the duplicates arrive as a retrying backend's separate connections would.
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{api.running.port}") for _ in range(3)]
    try:
        stubs = [members_pb2_grpc.MemberServiceStub(c) for c in channels]
        replies = await asyncio.gather(*(stubs[i % 3].EarnPoints(request, metadata=MP) for i in range(copies)))
    finally:
        await asyncio.gather(*(c.close() for c in channels))
    assert len({r.SerializeToString(deterministic=True) for r in replies}) == 1
    assert await api.running.store.max_notification_id() == head + 1
    got = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    assert got.available_points == 7


async def test_concurrent_duplicate_orders_place_one_order(api):
    await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.settled()
    head = await api.running.store.max_notification_id()
    request = o.PlaceOrderRequest(request_id="place-dup", order=draft(member.name, 31.2305, 121.4738))
    replies = await asyncio.gather(*(api.orders.PlaceOrder(request, metadata=MP) for _ in range(8)))
    assert len({r.name for r in replies}) == 1
    written = await api.running.store.select_notifications(head, 100, inclusive_of_start=False)
    assert sorted(n.topic for n in written) == [
        "domain.cloud_store:CloudStore.OrderAccepted",
        "domain.order:Order.Allocated",
        "domain.order:Order.Placed",
    ]


async def test_a_retry_after_a_restart_returns_the_original_response(fresh_dsn, tmp_path):
    clock = ManualClock(START)
    async with serving(fresh_dsn, tmp_path, clock) as (running, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        member = await stub.RegisterMember(
            m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
        )
        earn = m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5)
        first = await stub.EarnPoints(earn, metadata=MP)
        head = await running.store.max_notification_id()

    clock.advance(hours=1)
    async with serving(fresh_dsn, tmp_path, clock) as (running, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        assert await stub.EarnPoints(earn, metadata=MP) == first
        assert await running.store.max_notification_id() == head
        await expect(
            stub.EarnPoints(
                m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=6), metadata=MP
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "REQUEST_ID_REUSED",
        )
        assert (await stub.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)).available_points == 5
