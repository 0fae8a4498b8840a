"""A store's capacity day and its revenue day are the same local day, whatever its zone (issue 13, item 8)."""

from __future__ import annotations

from infrastructure.projections.dealer_ledger import DealerLedger
from infrastructure.rebuild import rebuild
from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth
from tests.api.test_errors import INVALID, expect

OP, MP, D1 = auth("operator"), auth("miniprogram"), auth("dealer:D1")


async def test_an_order_late_in_a_utc_stores_day_is_counted_and_booked_on_that_day(api):
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-UTC", 31.2310, 121.4740, time_zone="UTC", daily_capacity=1)),
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-utc")), metadata=MP
    )
    api.clock.advance(hours=18)  # Monday 2 November 20:00 UTC: Tuesday already in Shanghai
    await api.settled()
    first = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=first.name, paid_fen=12_800), metadata=MP)
    api.clock.advance(hours=3)  # 23:00 UTC: still the store's Monday, so its one slot is taken
    second = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert first.routing.store == store.name and second.state == o.ORDER_STATE_UNALLOCATED

    await api.settled()
    rows = [
        r
        async for r in api.attribution.StreamStoreRevenue(
            a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30"), metadata=D1
        )
    ]
    assert [(r.day, r.orders, r.revenue_fen) for r in rows] == [("2026-11-02", 1, 12_800)]

    # Rebuilt from history, the ledger puts the revenue on the same local day.
    pool = api.running.store.pool
    live = [tuple(r) for r in await pool.fetch("SELECT * FROM dealer_ledger ORDER BY day, store_id")]
    await rebuild(api.running.store, DealerLedger(), api.running.store.mapper, batch_size=10, out=None)
    assert [tuple(r) for r in await pool.fetch("SELECT * FROM dealer_ledger ORDER BY day, store_id")] == live


async def test_a_store_in_a_zone_with_daylight_saving_is_refused(api):
    await expect(
        api.stores.OpenCloudStore(
            s.OpenCloudStoreRequest(
                request_id=api.rid(),
                brand="acme",
                cloud_store=s.CloudStore(spec=store_spec("S-NY", 31.2310, 121.4740, time_zone="America/New_York")),
            ),
            metadata=OP,
        ),
        INVALID,
        "INVALID_TIME_ZONE",
    )
