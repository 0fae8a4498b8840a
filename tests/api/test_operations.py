"""Brand operations and member services through the API: handover, merge, import, points statements."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, gcj, rejected, store_spec, stores
from tests.api.conftest import auth

OP, MP = auth("operator"), auth("miniprogram")


async def _store(api, code="S-1", lat=31.2310, lng=121.4740):
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng))
        ),
        metadata=OP,
    )


async def _guide(api, store, wecom):
    return await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(), brand="acme", guide=s.Guide(store=store.name, wecom_userid=wecom, display_name=wecom)
        ),
        metadata=OP,
    )


async def _member(api, openid, **kw):
    return await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid=openid, **kw)), metadata=MP
    )


async def _bind(api, member, guide):
    return await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )


async def test_a_leaving_guides_customers_pass_to_a_colleague_as_wecom_does(api):
    store = await _store(api)
    leaving, taking = await _guide(api, store, "wx-leaving"), await _guide(api, store, "wx-taking")
    members = [await _member(api, f"o-{i}") for i in range(3)]
    for member in members:
        await _bind(api, member, leaving)
    await api.guides.ReleaseGuide(s.ReleaseGuideRequest(request_id=api.rid(), name=leaving.name), metadata=OP)

    offered = await api.guides.InheritCustomers(
        s.InheritCustomersRequest(request_id=api.rid(), name=leaving.name, to_guide=taking.name), metadata=OP
    )
    assert (offered.offered, offered.refused) == (3, 0)
    taking_now = await api.guides.GetGuide(s.GetGuideRequest(name=taking.name), metadata=OP)
    assert (taking_now.pending_handovers, taking_now.customer_count) == (3, 0)

    # One accepted by hand, one refused, the last completes by itself after the 24-hour wait.
    await api.guides.ConcludeHandover(
        s.ConcludeHandoverRequest(request_id=api.rid(), name=taking.name, member=members[0].name, accept=True),
        metadata=OP,
    )
    await api.guides.ConcludeHandover(
        s.ConcludeHandoverRequest(
            request_id=api.rid(), name=taking.name, member=members[1].name, accept=False, reason="NOT_MY_AREA"
        ),
        metadata=OP,
    )
    early = await api.guides.CompleteDueHandovers(
        s.CompleteDueHandoversRequest(request_id=api.rid(), name=taking.name), metadata=OP
    )
    assert early.pending_handovers == 1
    api.clock.advance(hours=25)
    done = await api.guides.CompleteDueHandovers(
        s.CompleteDueHandoversRequest(request_id=api.rid(), name=taking.name), metadata=OP
    )
    assert (done.pending_handovers, done.customer_count) == (0, 2)

    bound = [await api.members.GetMember(m.GetMemberRequest(name=x.name), metadata=MP) for x in members]
    assert [b.guide for b in bound] == [taking.name, leaving.name, taking.name]


async def test_a_guide_moves_to_another_store(api):
    first, second = await _store(api, "S-1"), await _store(api, "S-2", 31.30, 121.50)
    guide = await _guide(api, first, "wx-1")
    moved = await api.guides.MoveGuide(
        s.MoveGuideRequest(request_id=api.rid(), name=guide.name, to_store=second.name), metadata=OP
    )
    assert moved.store == second.name
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.guides.MoveGuide(
            s.MoveGuideRequest(request_id=api.rid(), name=guide.name, to_store=second.name), metadata=OP
        )
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_merging_two_accounts_keeps_both_ledgers_and_their_logins_find_the_survivor(api):
    survivor, absorbed = await _member(api, "o-phone-app"), await _member(api, "o-mini-app")
    for member, points in ((survivor, 40), (absorbed, 60)):
        await api.members.EarnPoints(
            m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="sign-in", points=points), metadata=MP
        )
    merged = await api.members.MergeMembers(
        m.MergeMembersRequest(request_id=api.rid(), name=survivor.name, absorbed=absorbed.name), metadata=OP
    )
    assert merged.available_points == 100
    gone = await api.members.GetMember(m.GetMemberRequest(name=absorbed.name), metadata=MP)
    assert gone.merged_into == survivor.name
    again = await _member(api, "o-mini-app")  # logging in with the absorbed account's openid
    assert again.name == survivor.name


async def test_an_import_is_all_or_nothing(api):
    good = [store_spec(f"B-{i}", 31.2 + i / 100, 121.4) for i in range(3)]
    imported = await api.stores.ImportCloudStores(
        s.ImportCloudStoresRequest(request_id=api.rid(), brand="acme", cloud_stores=stores(good)), metadata=OP
    )
    assert len(imported.cloud_stores) == 3
    clash = [store_spec("B-9", 31.3, 121.5), store_spec("B-1", 31.3, 121.5)]
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.stores.ImportCloudStores(
            s.ImportCloudStoresRequest(request_id=api.rid(), brand="acme", cloud_stores=stores(clash)), metadata=OP
        )
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    listed = await api.stores.ImportCloudStores(
        s.ImportCloudStoresRequest(
            request_id=api.rid(), brand="acme", cloud_stores=stores([store_spec("B-9", 31.3, 121.5)])
        ),
        metadata=OP,
    )
    assert len(listed.cloud_stores) == 1  # B-9 was not half-written by the failed batch


async def test_a_store_relocates_and_reopens(api):
    store = await _store(api)
    moved = await api.stores.RelocateCloudStore(
        s.RelocateCloudStoreRequest(request_id=api.rid(), name=store.name, location=gcj(31.24, 121.48)), metadata=OP
    )
    assert moved.spec.location.system == 1 and moved.spec.location.latitude != store.spec.location.latitude
    await api.stores.SuspendCloudStore(
        s.SuspendCloudStoreRequest(request_id=api.rid(), name=store.name, reason="stocktake"), metadata=OP
    )
    reopened = await api.stores.ReopenCloudStore(
        s.ReopenCloudStoreRequest(request_id=api.rid(), name=store.name), metadata=OP
    )
    assert reopened.status == s.STORE_STATUS_OPEN


async def test_points_statements_page_and_list_what_expires_soon(api):
    member = await _member(api, "o-1")
    for i in range(5):
        await api.members.EarnPoints(
            m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule=f"task-{i}", points=10 + i), metadata=MP
        )
    await api.members.RedeemPoints(
        m.RedeemPointsRequest(request_id=api.rid(), name=member.name, points=15, reference="coupon-1"), metadata=MP
    )
    await api.members.AdjustPoints(
        m.AdjustPointsRequest(
            request_id=api.rid(), name=member.name, points=-5, reason="duplicate sign-in", operator="ops-1"
        ),
        metadata=OP,
    )
    first = await api.members.ListPointsHistory(
        m.ListPointsHistoryRequest(parent=member.name, page_size=4), metadata=MP
    )
    second = await api.members.ListPointsHistory(
        m.ListPointsHistoryRequest(parent=member.name, page_size=4, page_token=first.next_page_token), metadata=MP
    )
    entries = [*first.entries, *second.entries]
    assert second.next_page_token == ""
    assert [e.points for e in entries] == [10, 11, 12, 13, 14, -15, -5]
    # Default programme: lots earned in 2026 expire when 2027 ends (Asia/Shanghai), more than a year away.
    expiring = lambda days: api.members.ListExpiringPoints(  # noqa: E731
        m.ListExpiringPointsRequest(parent=member.name, within_days=days), metadata=MP
    )
    assert (await expiring(366)).total_points == 0
    api.clock.advance(days=100)
    soon = await expiring(366)
    assert soon.total_points == 60 - 20
    assert {lot.expire_time.ToDatetime().isoformat() for lot in soon.lots} == {"2027-12-31T16:00:00"}


async def test_a_referral_recorded_later_and_a_tier_evaluated_on_demand(api):
    referrer, invitee = await _member(api, "o-ref"), await _member(api, "o-inv")
    recorded = await api.members.RecordReferral(
        m.RecordReferralRequest(request_id=api.rid(), referrer=referrer.name, name=invitee.name), metadata=MP
    )
    assert recorded.name == referrer.name
    invited = await api.members.GetMember(m.GetMemberRequest(name=invitee.name), metadata=MP)
    assert invited.referrer == referrer.name
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.members.RecordReferral(
            m.RecordReferralRequest(request_id=api.rid(), referrer=invitee.name, name=referrer.name), metadata=MP
        )
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # no cycles
    evaluated = await api.members.EvaluateTier(
        m.EvaluateTierRequest(request_id=api.rid(), name=referrer.name), metadata=MP
    )
    assert evaluated.tier == m.TIER_NEW


async def test_an_order_is_fulfilled_or_cancelled_only_from_the_right_state(api):
    await _store(api)
    member = await _member(api, "o-1")
    await api.settled()
    place = lambda: api.orders.PlaceOrder(  # noqa: E731
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    kept, dropped = await place(), await place()
    cancelled = await api.orders.CancelOrder(
        o.CancelOrderRequest(request_id=api.rid(), name=dropped.name, reason="changed mind"), metadata=MP
    )
    assert cancelled.state == o.ORDER_STATE_CANCELLED
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.orders.FulfilOrder(o.FulfilOrderRequest(request_id=api.rid(), name=kept.name), metadata=MP)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # not paid yet
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=kept.name, paid_fen=12_800), metadata=MP)
    fulfilled = await api.orders.FulfilOrder(o.FulfilOrderRequest(request_id=api.rid(), name=kept.name), metadata=MP)
    assert fulfilled.state == o.ORDER_STATE_FULFILLED
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=kept.name), metadata=MP)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await api.orders.GetOrder(o.GetOrderRequest(name=kept.name), metadata=MP)).state == o.ORDER_STATE_FULFILLED


async def test_an_operator_changes_hours_capacity_service_area_and_online_ordering(api):
    store = await _store(api)
    changes = store_spec("S-1", 31.2310, 121.4740, radius=3000, daily_capacity=50, online=False)
    changes.hours.add(weekday=1, open_minute=600, close_minute=1320)
    updated = await api.stores.UpdateCloudStore(
        s.UpdateCloudStoreRequest(
            request_id=api.rid(),
            cloud_store=s.CloudStore(name=store.name, spec=changes),
            update_mask=FieldMask(
                paths=[
                    "spec.hours",
                    "spec.daily_capacity",
                    "spec.service_radius_m",
                    "spec.modes",
                    "spec.online_orders_enabled",
                ]
            ),
        ),
        metadata=OP,
    )
    assert (updated.spec.daily_capacity, updated.spec.service_radius_m) == (50, 3000)
    assert not updated.spec.online_orders_enabled
    assert [(h.weekday, h.open_minute, h.close_minute) for h in updated.spec.hours] == [(1, 600, 1320)]
    for mask in ([], ["spec.display_name"], ["spec.modes"], ["hours"], ["*", "spec.hours"]):
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await api.stores.UpdateCloudStore(
                s.UpdateCloudStoreRequest(
                    request_id=api.rid(),
                    cloud_store=s.CloudStore(name=store.name, spec=changes),
                    update_mask=FieldMask(paths=mask),
                ),
                metadata=OP,
            )
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    member = await _member(api, "o-1")
    await api.settled()
    decision = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    assert not decision.allocated and rejected(decision.candidates[0]) == "ONLINE_ORDERS_DISABLED"


async def test_a_new_phone_is_claimed_for_the_member_and_the_old_one_freed(api):
    first = await _member(api, "o-1", phone="13800138000")
    other = await _member(api, "o-2")
    updated = await api.members.UpdateMemberProfile(
        m.UpdateMemberProfileRequest(
            request_id=api.rid(), name=first.name, phone="+86 139-0013-9000", nickname="小王", birthday="1990-05-01"
        ),
        metadata=MP,
    )
    assert updated.phone == "13900139000"
    with pytest.raises(grpc.aio.AioRpcError) as e:  # the new number is taken now
        await api.members.UpdateMemberProfile(
            m.UpdateMemberProfileRequest(request_id=api.rid(), name=other.name, phone="13900139000"), metadata=MP
        )
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    freed = await api.members.UpdateMemberProfile(  # the old one is free for someone else
        m.UpdateMemberProfileRequest(request_id=api.rid(), name=other.name, phone="13800138000"), metadata=MP
    )
    assert freed.phone == "13800138000"
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.members.UpdateMemberProfile(
            m.UpdateMemberProfileRequest(request_id=api.rid(), name=first.name, birthday="1990-13-01"), metadata=MP
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_operator_tier_floor_applies_at_once_and_can_be_removed(api):
    member = await _member(api, "o-1")
    vip = await api.members.AssignTierFloor(
        m.AssignTierFloorRequest(
            request_id=api.rid(), name=member.name, tier=m.TIER_VALUE, reason="VIP list", operator="ops-1"
        ),
        metadata=OP,
    )
    assert vip.tier == m.TIER_VALUE
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.members.AssignTierFloor(
            m.AssignTierFloorRequest(
                request_id=api.rid(), name=member.name, tier=m.TIER_CORE, reason="x", operator="ops-1"
            ),
            metadata=MP,
        )
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    removed = await api.members.AssignTierFloor(
        m.AssignTierFloorRequest(
            request_id=api.rid(), name=member.name, tier=m.TIER_UNSPECIFIED, reason="left the list", operator="ops-1"
        ),
        metadata=OP,
    )
    assert removed.tier != m.TIER_VALUE
