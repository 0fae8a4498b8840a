"""The v1 contract's conventions hold on the wire (issue 15): AIP-158 pages, AIP-134 masks, enums for closed sets.

Page tokens are opaque and bound to the call that issued them; an oversize page_size is read as the
maximum rather than refused; ListExpiringPoints pages like every List; an update mask may be "*".
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from protos.loyalty.v1 import common_pb2
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import register_member, store_spec
from tests.api.conftest import auth
from tests.loyalty_protos import MODULES

MP, OP = auth("miniprogram"), auth("operator")


async def _earn(api, member: m.Member, n: int) -> None:
    for k in range(n):
        await api.members.EarnPoints(
            m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="sign-in", points=10 + k), metadata=MP
        )


async def _refused(call) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    from google.rpc import error_details_pb2, status_pb2

    status = status_pb2.Status.FromString(dict(e.value.trailing_metadata())["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


async def test_a_page_token_is_opaque_and_only_good_for_the_call_that_issued_it(api):
    member, other = await register_member(api), await register_member(api)
    await _earn(api, member, 3)
    first = await api.members.ListPointsHistory(
        m.ListPointsHistoryRequest(parent=member.name, page_size=2), metadata=MP
    )
    assert len(first.entries) == 2 and first.next_page_token and not first.next_page_token.isdigit()
    rest = await api.members.ListPointsHistory(
        m.ListPointsHistoryRequest(parent=member.name, page_size=2, page_token=first.next_page_token), metadata=MP
    )
    assert [e.points for e in [*first.entries, *rest.entries]] == [10, 11, 12] and rest.next_page_token == ""
    # Another member's listing, a raw offset, or garbage: INVALID_PAGE_TOKEN, nothing read.
    for token in (first.next_page_token, "2", "not base64 !"):
        parent = other.name if token == first.next_page_token else member.name
        assert (
            await _refused(
                api.members.ListPointsHistory(m.ListPointsHistoryRequest(parent=parent, page_token=token), metadata=MP)
            )
            == "INVALID_PAGE_TOKEN"
        )


async def test_an_oversize_page_size_is_read_as_the_maximum_and_a_negative_one_is_refused(api):
    member = await register_member(api)
    await _earn(api, member, 2)
    page = await api.members.ListPointsHistory(
        m.ListPointsHistoryRequest(parent=member.name, page_size=1_000_000), metadata=MP
    )
    assert len(page.entries) == 2 and page.next_page_token == ""
    assert (
        await _refused(
            api.members.ListPointsHistory(m.ListPointsHistoryRequest(parent=member.name, page_size=-1), metadata=MP)
        )
        == "OUT_OF_RANGE"
    )


async def test_expiring_points_are_paginated_soonest_first_with_the_total_of_every_page(api):
    member = await register_member(api)
    await _earn(api, member, 3)
    api.clock.advance(days=400)  # lots of 2026 expire when 2027 ends: within the next 366 days now
    first = await api.members.ListExpiringPoints(
        m.ListExpiringPointsRequest(parent=member.name, within_days=366, page_size=2), metadata=MP
    )
    rest = await api.members.ListExpiringPoints(
        m.ListExpiringPointsRequest(parent=member.name, within_days=366, page_size=2, page_token=first.next_page_token),
        metadata=MP,
    )
    assert (len(first.lots), len(rest.lots), rest.next_page_token) == (2, 1, "")
    assert first.total_points == rest.total_points == 33
    assert sorted(lot.points for lot in [*first.lots, *rest.lots]) == [10, 11, 12]
    assert (
        await _refused(
            api.members.ListExpiringPoints(
                m.ListExpiringPointsRequest(parent=member.name, within_days=30, page_token=first.next_page_token),
                metadata=MP,
            )
        )
        == "INVALID_PAGE_TOKEN"
    )


async def test_an_update_mask_of_star_replaces_every_updatable_field(api):
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-STAR", 31.23, 121.47))
        ),
        metadata=OP,
    )
    new = store_spec("ignored", 0, 0, radius=1200, daily_capacity=7, online=False)
    updated = await api.stores.UpdateCloudStore(
        s.UpdateCloudStoreRequest(
            request_id=api.rid(),
            cloud_store=s.CloudStore(name=store.name, spec=new),
            update_mask=FieldMask(paths=["*"]),
        ),
        metadata=OP,
    )
    assert (updated.spec.service_radius_m, updated.spec.daily_capacity, updated.spec.online_orders_enabled) == (
        1200,
        7,
        False,
    )
    assert updated.spec.code == "S-STAR" and updated.spec.location == store.spec.location  # not updatable: kept


def _loyalty_files():
    return [module.DESCRIPTOR for module in MODULES]


def test_every_field_has_a_field_behavior_and_every_resource_an_annotation():
    from google.api import field_behavior_pb2, resource_pb2

    missing, resources = [], {}
    for file in _loyalty_files():
        for message in file.message_types_by_name.values():
            for field in message.fields:
                if not field.GetOptions().Extensions[field_behavior_pb2.field_behavior]:
                    missing.append(field.full_name)
            resource = message.GetOptions().Extensions[resource_pb2.resource]
            if resource.type:
                resources[message.name] = list(resource.pattern)
    assert not missing, f"fields without google.api.field_behavior: {missing}"
    assert resources == {
        "Member": ["members/{member}"],
        "Order": ["orders/{order}"],
        "CloudStore": ["cloudStores/{cloud_store}"],
        "Guide": ["guides/{guide}"],
        "StockLevel": ["cloudStores/{cloud_store}/stock/{sku}"],
        "Drop": ["drops/{drop}"],
        "DropEntry": ["drops/{drop}/entries/{member}"],
    }


async def test_a_members_orders_are_listed_newest_first_page_by_page(api):
    from protos.loyalty.v1 import orders_pb2 as o
    from tests.api.builders import draft

    await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-LIST", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    member, other = await register_member(api), await register_member(api)
    await api.settled()
    placed = []
    for _ in range(3):
        placed.append(
            (
                await api.orders.PlaceOrder(
                    o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
                )
            ).name
        )
        api.clock.advance(minutes=1)
    await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(other.name, 31.2305, 121.4738)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=placed[0], paid_fen=12_800), metadata=MP)
    await api.settled()
    first = await api.orders.ListOrders(o.ListOrdersRequest(parent=member.name, page_size=2), metadata=MP)
    rest = await api.orders.ListOrders(
        o.ListOrdersRequest(parent=member.name, page_size=2, page_token=first.next_page_token), metadata=MP
    )
    listed = [*first.orders, *rest.orders]
    assert [x.name for x in listed] == placed[::-1] and rest.next_page_token == ""
    assert listed[-1].state == o.ORDER_STATE_PAID, "each order is read in its current state"
    assert (
        await _refused(
            api.orders.ListOrders(o.ListOrdersRequest(parent=other.name, page_token=first.next_page_token), metadata=MP)
        )
        == "INVALID_PAGE_TOKEN"
    )


async def test_the_store_picker_lists_a_brands_stores_filtered_and_nearest_first(api):
    def open_(code, lat, lng, dealer):
        return api.stores.OpenCloudStore(
            s.OpenCloudStoreRequest(
                request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng, dealer))
            ),
            metadata=OP,
        )

    far = await open_("S-FAR", 31.3000, 121.4740, "D1")  # about 7.7 km north
    near = await open_("S-NEAR", 31.2310, 121.4740, "D1")
    mid = await open_("S-MID", 31.2500, 121.4740, "D2")  # about 2.2 km north
    await api.stores.SuspendCloudStore(s.SuspendCloudStoreRequest(request_id=api.rid(), name=mid.name), metadata=OP)
    here = s.ListCloudStoresRequest(
        near=common_pb2.Location(latitude=31.2305, longitude=121.4738, system=common_pb2.COORDINATE_SYSTEM_GCJ02)
    )
    picked = await api.stores.ListCloudStores(here, metadata=MP)
    assert [x.name for x in picked.cloud_stores] == [near.name, mid.name, far.name]
    assert picked.distances_m[0] < 100 < 2000 < picked.distances_m[1] < 2500 < 7000 < picked.distances_m[2] < 8500
    here.status, here.page_size = s.STORE_STATUS_OPEN, 1
    page1 = await api.stores.ListCloudStores(here, metadata=MP)
    page2 = await api.stores.ListCloudStores(
        s.ListCloudStoresRequest(
            near=here.near, status=s.STORE_STATUS_OPEN, page_size=1, page_token=page1.next_page_token
        ),
        metadata=MP,
    )
    assert [x.name for x in [*page1.cloud_stores, *page2.cloud_stores]] == [near.name, far.name]
    assert page2.next_page_token == ""
    within = await api.stores.ListCloudStores(s.ListCloudStoresRequest(near=here.near, within_m=3000), metadata=MP)
    assert [x.name for x in within.cloud_stores] == [near.name, mid.name]
    by_dealer = await api.stores.ListCloudStores(s.ListCloudStoresRequest(dealer="dealers/D1"), metadata=OP)
    assert [x.spec.code for x in by_dealer.cloud_stores] == ["S-FAR", "S-NEAR"] and not by_dealer.distances_m


async def test_a_guides_and_a_stores_performance_are_there_for_operators(api):
    from protos.loyalty.v1 import orders_pb2 as o
    from tests.api.builders import draft

    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-PERF", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    guide = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=s.Guide(store=store.name, wecom_userid="wx-perf", display_name="Ms Perf"),
        ),
        metadata=OP,
    )
    other = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=s.Guide(store=store.name, wecom_userid="wx-idle", display_name="Mr Idle"),
        ),
        metadata=OP,
    )
    member = await register_member(api)
    await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(
            request_id=api.rid(),
            order=draft(
                member.name, 31.2305, 121.4738, entry=o.EntryContext(kind=o.ENTRY_KIND_GUIDE_SHARE, guide=guide.name)
            ),
        ),
        metadata=MP,
    )
    await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=order.total_fen), metadata=MP
    )
    await api.settled()
    mine = await api.guides.GetGuidePerformance(s.GetGuidePerformanceRequest(name=guide.name), metadata=auth("auditor"))
    assert (mine.guide, mine.store, mine.display_name, mine.employed) == (guide.name, store.name, "Ms Perf", True)
    assert (mine.customers, mine.sales_orders, mine.sales_fen) == (1, 1, order.total_fen)
    assert mine.commission_frozen_fen > 0 and mine.update_time.seconds > 0
    board = await api.guides.GetStorePerformance(s.GetStorePerformanceRequest(name=store.name), metadata=OP)
    assert [g.guide for g in board.guides] == [guide.name, other.name]  # best sales first
    assert (board.customers, board.sales_orders, board.sales_fen) == (1, 1, order.total_fen)


async def test_get_aggregate_state_shows_the_view_of_the_type_the_name_says(api):
    from protos.loyalty.v1 import audit_pb2 as au

    member = await register_member(api)
    state = await api.audit.GetAggregateState(au.GetAggregateStateRequest(name=member.name), metadata=auth("auditor"))
    assert state.WhichOneof("view") == "member" and state.member.member.name == member.name
    assert state.member.points_totals.earned == 0 and state.view_time.seconds > 0
    wrong = "guides/" + member.name.partition("/")[2]  # a member's id named as a guide
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.audit.GetAggregateState(au.GetAggregateStateRequest(name=wrong), metadata=auth("auditor"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
