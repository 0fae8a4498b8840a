"""Delivery respects opening hours and pickup a maximum distance, over the API (issue 13, item 5)."""

from __future__ import annotations

from protos.loyalty.v1 import common_pb2, programmes_pb2_grpc
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, register_member, rejected, store_spec, unallocated
from tests.api.conftest import auth

OP, MP = auth("operator"), auth("miniprogram")
EVENINGS = [s.OpeningHours(weekday=d, open_minute=18 * 60, close_minute=23 * 60) for d in range(1, 8)]


async def _open(api, code: str, lat: float, lng: float, **kw) -> s.CloudStore:
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng, **kw))
        ),
        metadata=OP,
    )


async def test_delivery_at_ten_goes_to_the_open_store_not_the_nearer_evening_one(api):  # the clock reads 10:00
    evening = await _open(api, "S-EVENING", 31.2310, 121.4740, hours=EVENINGS)
    open_now = await _open(api, "S-OPEN", 31.2560, 121.4740)  # about 2.8 km farther north
    member = await register_member(api)
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert order.routing.store == open_now.name
    refused = {c.store: rejected(c) for c in order.routing.candidates}
    assert refused[evening.name] == "OUTSIDE_OPENING_HOURS"


async def test_a_brand_can_publish_that_delivery_ignores_opening_hours(api):
    evening = await _open(api, "S-EVENING", 31.2310, 121.4740, hours=EVENINGS)
    await programmes_pb2_grpc.ProgrammeServiceStub(api.channel).PublishProgramme(
        p.PublishProgrammeRequest(
            request_id=api.rid(),
            programme=p.Programme(
                brand="acme", version=2, attribution=p.AttributionRules(delivery_ignores_opening_hours=True)
            ),
        ),
        metadata=OP,
    )
    member = await register_member(api)
    order = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert order.store == evening.name


async def test_pickup_never_sends_a_customer_64_km_away_and_says_why(api):
    suzhou = await _open(api, "S-SUZHOU", 31.2990, 120.8500, radius=100_000)  # about 60 km west
    member = await register_member(api)
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(
            request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, mode=common_pb2.FULFILMENT_MODE_PICKUP)
        ),
        metadata=MP,
    )
    assert order.state == o.ORDER_STATE_UNALLOCATED and unallocated(order.routing) == "NO_ELIGIBLE_STORE"
    assert [(c.store, rejected(c)) for c in order.routing.candidates] == [(suzhou.name, "BEYOND_PICKUP_DISTANCE")]
    programme = await programmes_pb2_grpc.ProgrammeServiceStub(api.channel).GetProgramme(
        p.GetProgrammeRequest(brand="acme"), metadata=MP
    )
    assert programme.attribution.pickup_max_distance_m == 10_000
    assert programme.attribution.delivery_ignores_opening_hours is False
