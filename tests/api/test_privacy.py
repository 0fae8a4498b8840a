"""Personal data (PIPL): nothing personal in clear in any table; erasure by crypto-shredding; export; consent."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

import asyncpg
import grpc

from infrastructure.config import load_settings
from infrastructure.projections import all_projections
from infrastructure.rebuild import rebuild
from protos.loyalty.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    members_pb2,
    members_pb2_grpc,
    orders_pb2,
    privacy_pb2,
    privacy_pb2_grpc,
    stores_pb2,
)
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth, serving
from tests.api.test_errors import expect, rejected

OPENID, UNIONID, PHONE, NICKNAME = "oPrivacyOpenid7731", "uPrivacyUnionid4419", "13912345678", "Xiaohong-Nick"
WECOM, GUIDE_NAME = "wecom-guide-8812", "Guide-Zhang-Wei"
LAT, LNG = 31.230512, 121.473812  # the customer's coordinates as sent
NEEDLES = (OPENID, UNIONID, PHONE, NICKNAME, WECOM, GUIDE_NAME, "31.230512", "121.473812", "31.2305", "121.4738")


async def scan(dsn: str, needles=NEEDLES) -> list[str]:
    """Every column of every table of the database, bytes and text, searched for each needle."""
    conn = await asyncpg.connect(dsn)
    found = []
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        assert len(tables) >= 8  # events, snapshots, request log, tracking, read models, keys
        for schema, table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{schema}"."{table}"'):
                for column, value in row.items():
                    raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                    found += [f"{table}.{column}: {n}" for n in needles if n.encode() in raw]
    finally:
        await conn.close()
    return found


async def populate(api):
    mp, op = auth("miniprogram"), auth("operator")
    store = await api.stores.OpenCloudStore(
        stores_pb2.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=stores_pb2.CloudStore(spec=store_spec("SH-P1", 31.2290, 121.4740)),
        ),
        metadata=op,
    )
    await api.settled()
    await api.guides.HireGuide(
        stores_pb2.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=stores_pb2.Guide(store=store.name, wecom_userid=WECOM, display_name=GUIDE_NAME),
        ),
        metadata=op,
    )
    member = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=members_pb2.Member(openid=OPENID, unionid=UNIONID, phone=PHONE)
        ),
        metadata=mp,
    )
    await api.members.UpdateMemberProfile(
        members_pb2.UpdateMemberProfileRequest(
            request_id=api.rid(), name=member.name, nickname=NICKNAME, birthday="1990-05-17"
        ),
        metadata=mp,
    )
    orders = []
    for _ in range(3):
        order = await api.orders.PlaceOrder(
            orders_pb2.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, LAT, LNG)), metadata=mp
        )
        await api.orders.PayOrder(
            orders_pb2.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=mp
        )
        orders.append(order)
    await api.settled()
    return member, orders


async def test_no_personal_value_is_stored_in_clear_in_any_table(api, fresh_dsn):
    member, orders = await populate(api)
    read = await api.members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=auth("miniprogram"))
    assert (read.openid, read.unionid, read.phone) == (OPENID, UNIONID, PHONE)  # sealed, not lost
    assert orders[0].routing.distance_m > 0  # the routing evidence stays readable
    assert await scan(fresh_dsn) == []


async def test_a_registration_is_found_again_by_its_blind_index(api):
    member, _ = await populate(api)
    again = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=members_pb2.Member(openid="o-another", phone="+86 139-1234-5678")
        ),
        metadata=auth("miniprogram"),
    )
    assert again.name == member.name  # the phone, normalised, found its owner without plaintext


async def test_erasure_leaves_nothing_recoverable_and_the_ledger_intact(api, fresh_dsn):
    mp, au = auth("miniprogram"), auth("auditor")
    privacy = privacy_pb2_grpc.PrivacyServiceStub(api.channel)
    member, orders = await populate(api)
    before = await api.members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=mp)

    receipt = await privacy.EraseMember(
        privacy_pb2.EraseMemberRequest(
            request_id=api.rid(), name=member.name, requested_by="member", reason="PIPL Art. 47 request"
        ),
        metadata=mp,
    )
    again = await privacy.EraseMember(
        privacy_pb2.EraseMemberRequest(
            request_id=api.rid(), name=member.name, requested_by="operator-9", reason="again"
        ),
        metadata=mp,
    )
    assert (again.requested_by, again.reason, again.erase_time) == (
        "member",
        "PIPL Art. 47 request",
        receipt.erase_time,
    )  # idempotent
    await api.settled()

    after = await api.members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=mp)
    assert (after.openid, after.unionid, after.phone) == ("", "", "")
    assert (after.available_points, after.pending_points) == (before.available_points, before.pending_points)
    for order in orders:
        got = await api.orders.GetOrder(orders_pb2.GetOrderRequest(name=order.name), metadata=mp)
        assert got.routing.store == order.routing.store and got.routing.distance_m == order.routing.distance_m
    history = await api.members.ListPointsHistory(members_pb2.ListPointsHistoryRequest(parent=member.name), metadata=mp)
    assert sum(e.points for e in history.entries) == before.available_points + before.pending_points
    await expect(
        api.orders.PlaceOrder(
            orders_pb2.PlaceOrderRequest(  # nobody to deliver to
                request_id=api.rid(), order=draft(member.name, LAT, LNG)
            ),
            metadata=mp,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "MEMBER_ERASED",
    )

    seen = []  # every read an auditor or the member has
    async for e in api.audit.StreamEvents(
        audit_pb2.StreamEventsRequest(positions=audit_pb2.PositionRange(after=0)), metadata=au
    ):
        seen.append(e.state_json)
    for name in [member.name, *(o.name for o in orders)]:
        seen.append(str(await api.audit.GetAggregateState(audit_pb2.GetAggregateStateRequest(name=name), metadata=au)))
        seen.append(
            str(
                await api.audit.GetAggregateState(audit_pb2.GetAggregateStateRequest(name=name, version=1), metadata=au)
            )
        )
    async for chunk in privacy.ExportMemberData(privacy_pb2.ExportMemberDataRequest(name=member.name), metadata=mp):
        seen.append(chunk.json)
        if chunk.section == privacy_pb2.MEMBER_DATA_SECTION_PROFILE:
            profile_json = chunk.json
    assert len(seen) > 10
    exported = json.loads(profile_json)
    assert exported["erased"] is True and exported["phone"] is None and exported["openid"] is None
    assert [n for n in NEEDLES[:4] if any(n in s for s in seen)] == []
    assert [n for n in ("31.2305", "121.4738") if any(n in s for s in seen)] == []

    verified = await api.audit.VerifyEventLog(audit_pb2.VerifyEventLogRequest(), metadata=au)
    assert verified.ok and verified.checked > 0
    assert await scan(fresh_dsn) == []

    # every read model rebuilt from scratch replays the erased events: same figures, nothing personal
    store = api.running.store
    ledger = await store.pool.fetch("SELECT * FROM dealer_ledger ORDER BY 1, 2, 3")
    for projection in all_projections(store):
        await rebuild(store, projection, store.mapper, out=None)
    assert await store.pool.fetch("SELECT * FROM dealer_ledger ORDER BY 1, 2, 3") == ledger and ledger
    assert await scan(fresh_dsn) == []

    # the login is free again: registering it makes a new member, not the erased one
    anew = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=members_pb2.Member(openid=OPENID, phone=PHONE)
        ),
        metadata=mp,
    )
    assert anew.name != member.name and anew.openid == OPENID
    await expect(
        api.members.UpdateMemberProfile(
            members_pb2.UpdateMemberProfileRequest(request_id=api.rid(), name=member.name, nickname="back"), metadata=mp
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "MEMBER_ERASED",
    )


async def test_an_erasure_request_is_validated_field_by_field_and_nothing_is_erased(api):
    mp, op = auth("miniprogram"), auth("operator")
    privacy = privacy_pb2_grpc.PrivacyServiceStub(api.channel)
    member = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=members_pb2.Member(openid=OPENID, phone=PHONE)
        ),
        metadata=mp,
    )

    def erase(**kw):
        fields = {"request_id": api.rid(), "name": member.name, "requested_by": "member", "reason": "PIPL", **kw}
        return privacy.EraseMember(privacy_pb2.EraseMemberRequest(**fields), metadata=op)

    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert (await expect(erase(requested_by=""), invalid, "FIELD_REQUIRED"))["field"] == "requested_by"
    assert (await expect(erase(reason=""), invalid, "FIELD_REQUIRED"))["field"] == "reason"
    assert (await expect(erase(requested_by="x" * 65), invalid, "INVALID_TEXT"))["field"] == "requested_by"
    assert (await expect(erase(name="orders/1"), invalid, "INVALID_RESOURCE_NAME"))["field"] == "name"
    code, reason, _ = await rejected(erase(name="members/00000000-0000-4000-8000-000000000000"))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "MEMBER_NOT_FOUND")
    await expect(
        privacy.RecordMarketingConsent(
            privacy_pb2.RecordMarketingConsentRequest(request_id=api.rid(), name=member.name, granted=True), metadata=mp
        ),
        invalid,
        "FIELD_REQUIRED",
    )
    read = await api.members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=mp)
    assert (read.openid, read.phone) == (OPENID, PHONE)  # nothing erased


async def test_marketing_consent_is_recorded_and_withdrawn(api):
    mp = auth("miniprogram")
    privacy = privacy_pb2_grpc.PrivacyServiceStub(api.channel)
    member, _ = await populate(api)
    never = await privacy.GetMarketingConsent(privacy_pb2.GetMarketingConsentRequest(name=member.name), metadata=mp)
    assert never.state == privacy_pb2.MARKETING_CONSENT_STATE_UNSPECIFIED
    await privacy.RecordMarketingConsent(
        privacy_pb2.RecordMarketingConsentRequest(
            request_id=api.rid(), name=member.name, granted=True, channel="miniprogram-settings"
        ),
        metadata=mp,
    )
    withdrawn = await privacy.RecordMarketingConsent(
        privacy_pb2.RecordMarketingConsentRequest(
            request_id=api.rid(), name=member.name, granted=False, channel="miniprogram-settings"
        ),
        metadata=mp,
    )
    assert withdrawn.state == privacy_pb2.MARKETING_CONSENT_STATE_WITHDRAWN
    read = await privacy.GetMarketingConsent(privacy_pb2.GetMarketingConsentRequest(name=member.name), metadata=mp)
    assert read.state == privacy_pb2.MARKETING_CONSENT_STATE_WITHDRAWN and read.HasField("decide_time")


async def test_an_erasure_through_one_server_holds_in_another(api, fresh_dsn, tmp_path):
    mp, au = auth("miniprogram"), auth("auditor")
    member, _ = await populate(api)
    async with serving(fresh_dsn, tmp_path / "second", api.clock) as (_, channel):
        other = privacy_pb2_grpc.PrivacyServiceStub(channel)

        async def exported() -> str:
            return "".join(
                [
                    c.json
                    async for c in other.ExportMemberData(
                        privacy_pb2.ExportMemberDataRequest(name=member.name), metadata=mp
                    )
                ]
            )

        assert OPENID in await exported() and "31.2305" in await exported()  # decoded there, keys and orders cached
        await privacy_pb2_grpc.PrivacyServiceStub(api.channel).EraseMember(
            privacy_pb2.EraseMemberRequest(
                request_id=api.rid(), name=member.name, requested_by="operator-1", reason="request"
            ),
            metadata=mp,
        )
        async with asyncio.timeout(10):  # the other server follows the log for erasures
            while "31.2305" in await exported():
                await asyncio.sleep(0.05)
        assert OPENID not in await exported()
        first = await audit_pb2_grpc.AuditServiceStub(channel).GetAggregateState(
            audit_pb2.GetAggregateStateRequest(name=member.name, version=1), metadata=au
        )
        assert first.member.member.name == member.name and first.version == 1
        assert (first.member.member.openid, first.member.member.unionid, first.member.member.phone) == ("", "", "")
        assert OPENID not in str(first) and PHONE not in str(first)


async def export(privacy, name: str) -> list[tuple[str, object]]:
    """The export's chunks as (section, decoded JSON)."""
    return [
        (privacy_pb2.MemberDataSection.Name(c.section).removeprefix("MEMBER_DATA_SECTION_"), json.loads(c.json))
        async for c in privacy.ExportMemberData(
            privacy_pb2.ExportMemberDataRequest(name=name), metadata=auth("auditor")
        )
    ]


async def test_the_export_holds_everything_about_the_member_and_every_order_in_every_status(api):
    mp, op = auth("miniprogram"), auth("operator")
    privacy = privacy_pb2_grpc.PrivacyServiceStub(api.channel)
    member, paid = await populate(api)
    guide = await api.guides.HireGuide(  # the guide populate hired (hiring is idempotent on the WeCom id)
        stores_pb2.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=stores_pb2.Guide(store=paid[0].routing.store, wecom_userid=WECOM, display_name=GUIDE_NAME),
        ),
        metadata=op,
    )
    await api.members.BindGuide(
        members_pb2.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=op
    )
    invitee = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand="acme", member=members_pb2.Member(openid="o-invitee-1", referrer=member.name)
        ),
        metadata=mp,
    )
    for granted in (True, False):
        await privacy.RecordMarketingConsent(
            privacy_pb2.RecordMarketingConsentRequest(
                request_id=api.rid(), name=member.name, granted=granted, channel="miniprogram-settings"
            ),
            metadata=mp,
        )
    await api.orders.FulfilOrder(orders_pb2.FulfilOrderRequest(request_id=api.rid(), name=paid[1].name), metadata=op)
    await api.orders.RefundOrder(
        orders_pb2.RefundOrderRequest(request_id=api.rid(), name=paid[2].name, amount_fen=12_800, reason="damaged"),
        metadata=op,
    )
    await api.settled()
    await api.running.projections.stop()  # from here the member_orders read model lags: the export must not
    unpaid = await api.orders.PlaceOrder(
        orders_pb2.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, LAT, LNG)), metadata=mp
    )
    cancelled = await api.orders.PlaceOrder(
        orders_pb2.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, LAT, LNG)), metadata=mp
    )
    await api.orders.CancelOrder(
        orders_pb2.CancelOrderRequest(request_id=api.rid(), name=cancelled.name, reason="changed my mind"), metadata=mp
    )
    projected = await api.running.store.pool.fetchval(
        "SELECT count(*) FROM member_orders WHERE member_id = $1", UUID(member.name.split("/")[1])
    )
    assert projected == 3  # the two newest orders are only in the log

    chunks = await export(privacy, member.name)
    sections = [s for s, _ in chunks]
    assert sections == [
        "PROFILE",
        "IDENTITIES",
        "POINTS_HISTORY",
        "BINDINGS",
        "REFERRALS",
        "CONSENTS",
        "ERASURE",
        *["ORDER"] * 5,
    ]
    doc = dict(chunks[:7])
    assert doc["PROFILE"]["phone"] == PHONE and doc["PROFILE"]["nickname"] == NICKNAME
    assert doc["IDENTITIES"] == [
        {"kind": "OPENID", "value": OPENID},
        {"kind": "UNIONID", "value": UNIONID},
        {"kind": "PHONE", "value": PHONE},
    ]
    assert len(doc["POINTS_HISTORY"]) >= 3  # points earned by the three paid orders (and reversed by the refund)
    assert doc["BINDINGS"]["guide"] == guide.name
    assert [e.get("guide_id") for e in doc["BINDINGS"]["events"] if e["event"] == "GuideBound"] == [guide.name[7:]]
    assert doc["REFERRALS"]["invitees"] == [invitee.name]
    assert [e["event"] for e in doc["REFERRALS"]["events"]] == ["ReferralRecorded"]
    assert [(e["granted"], e["channel"]) for e in doc["CONSENTS"]["events"]] == [
        (True, "miniprogram-settings"),
        (False, "miniprogram-settings"),
    ]
    assert doc["CONSENTS"]["current"]["granted"] is False
    assert doc["ERASURE"] == {"erased": False, "erase_time": None, "requested_by": None, "reason": None}
    statuses = {o["name"]: o["status"] for s, o in chunks if s == "ORDER"}
    assert statuses == {
        paid[0].name: "PAID",
        paid[1].name: "FULFILLED",
        paid[2].name: "REFUNDED",
        unpaid.name: "ALLOCATED",
        cancelled.name: "CANCELLED",
    }
    assert [o["name"] for s, o in chunks if s == "ORDER"][-2:] == [unpaid.name, cancelled.name]  # oldest first

    receipt = await privacy.EraseMember(
        privacy_pb2.EraseMemberRequest(request_id=api.rid(), name=member.name, requested_by="member", reason="PIPL"),
        metadata=mp,
    )
    after = await export(privacy, member.name)
    doc = dict(after[:7])
    assert doc["ERASURE"]["erased"] is True and doc["ERASURE"]["requested_by"] == "member"
    assert doc["ERASURE"]["erase_time"].startswith(receipt.erase_time.ToDatetime().date().isoformat())
    assert [i["value"] for i in doc["IDENTITIES"]] == [None, None, None]
    orders_after = [o for s, o in after if s == "ORDER"]
    assert {o["name"]: o["status"] for o in orders_after} == statuses  # the orders stay, their coordinates do not
    assert all(o["customer_location"] is None for o in orders_after)
    assert not any(n in json.dumps(after) for n in NEEDLES[:4])


async def test_a_guide_who_left_is_erased_and_the_figures_stay(api, fresh_dsn):
    mp, op, au = auth("miniprogram"), auth("operator"), auth("auditor")
    privacy = privacy_pb2_grpc.PrivacyServiceStub(api.channel)
    member, paid = await populate(api)
    guide = await api.guides.HireGuide(  # the guide populate hired (hiring is idempotent on the WeCom id)
        stores_pb2.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=stores_pb2.Guide(store=paid[0].routing.store, wecom_userid=WECOM, display_name=GUIDE_NAME),
        ),
        metadata=op,
    )
    await api.members.BindGuide(
        members_pb2.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=op
    )
    order = await api.orders.PlaceOrder(
        orders_pb2.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, LAT, LNG)), metadata=mp
    )
    await api.orders.PayOrder(
        orders_pb2.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=mp
    )

    def erase(name: str = guide.name, **kw):
        fields = {"request_id": api.rid(), "name": name, "requested_by": "operator-7", "reason": "PIPL Art. 47", **kw}
        return privacy.EraseGuide(privacy_pb2.EraseGuideRequest(**fields), metadata=op)

    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await expect(erase(), grpc.StatusCode.FAILED_PRECONDITION, "GUIDE_EMPLOYED")  # release the guide first
    assert (await expect(erase(requested_by=""), invalid, "FIELD_REQUIRED"))["field"] == "requested_by"
    assert (await expect(erase(reason=""), invalid, "FIELD_REQUIRED"))["field"] == "reason"
    assert (await expect(erase(name=member.name), invalid, "INVALID_RESOURCE_NAME"))["field"] == "name"
    await expect(
        privacy.EraseGuide(
            privacy_pb2.EraseGuideRequest(request_id=api.rid(), name=guide.name, requested_by="g", reason="r"),
            metadata=mp,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    await api.guides.ReleaseGuide(stores_pb2.ReleaseGuideRequest(request_id=api.rid(), name=guide.name), metadata=op)
    await api.settled()
    before = await api.guides.GetGuidePerformance(stores_pb2.GetGuidePerformanceRequest(name=guide.name), metadata=op)
    assert before.display_name == GUIDE_NAME and before.customers_added == 1

    receipt = await erase()
    again = await erase(requested_by="operator-8", reason="again")
    assert (receipt.name, receipt.requested_by, receipt.reason) == (guide.name, "operator-7", "PIPL Art. 47")
    assert (again.requested_by, again.reason, again.erase_time) == ("operator-7", "PIPL Art. 47", receipt.erase_time)
    await api.settled()

    read = await api.guides.GetGuide(stores_pb2.GetGuideRequest(name=guide.name), metadata=op)
    assert (read.wecom_userid, read.display_name) == ("", "")
    assert read.customer_count == 1 and read.status == stores_pb2.GUIDE_STATUS_LEFT
    after = await api.guides.GetGuidePerformance(stores_pb2.GetGuidePerformanceRequest(name=guide.name), metadata=op)
    assert after.display_name == "" and after.update_time == before.update_time
    assert [getattr(after, f) for f in ("customers_added", "credits", "sales_orders", "sales_fen")] == [
        getattr(before, f) for f in ("customers_added", "credits", "sales_orders", "sales_fen")
    ]
    bound = await api.members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=mp)
    assert bound.guide == guide.name  # the binding is the member's: it stays

    seen = [
        e.state_json
        async for e in api.audit.StreamEvents(
            audit_pb2.StreamEventsRequest(positions=audit_pb2.PositionRange(after=0)), metadata=au
        )
    ]
    for request in (
        audit_pb2.GetAggregateStateRequest(name=guide.name),
        audit_pb2.GetAggregateStateRequest(name=guide.name, version=1),  # as hired
    ):
        seen.append(str(await api.audit.GetAggregateState(request, metadata=au)))
    assert any(guide.name[7:] in s for s in seen)
    assert [n for n in (WECOM, GUIDE_NAME) if any(n in s for s in seen)] == []
    verified = await api.audit.VerifyEventLog(audit_pb2.VerifyEventLogRequest(), metadata=au)
    assert verified.ok and verified.checked > 0

    store = api.running.store  # every read model rebuilt from scratch: the same figures, no name
    performance = await store.pool.fetch("SELECT * FROM guide_performance ORDER BY guide_id")
    for projection in all_projections(store):
        await rebuild(store, projection, store.mapper, out=None)
    assert await store.pool.fetch("SELECT * FROM guide_performance ORDER BY guide_id") == performance
    assert await scan(fresh_dsn) == []

    rehired = await api.guides.HireGuide(  # the WeCom id is free again: a new guide, who knows nothing of the old
        stores_pb2.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=stores_pb2.Guide(store=paid[0].routing.store, wecom_userid=WECOM, display_name="Zhang Again"),
        ),
        metadata=op,
    )
    assert rehired.name != guide.name and rehired.wecom_userid == WECOM and rehired.customer_count == 0


async def test_the_scheduler_purges_the_request_log_after_the_retention_one_process_at_a_time(fresh_dsn, tmp_path):
    mp = auth("miniprogram")
    retention = {"REQUEST_LOG_RETENTION_DAYS": "7"}

    def register(request_id: str, openid: str) -> members_pb2.RegisterMemberRequest:
        return members_pb2.RegisterMemberRequest(
            request_id=request_id, brand="acme", member=members_pb2.Member(openid=openid)
        )

    async with (
        serving(fresh_dsn, tmp_path / "one", env=retention) as (one, channel),
        serving(fresh_dsn, tmp_path / "two", env=retention) as (two, other),
    ):
        first = members_pb2_grpc.MemberServiceStub(channel)
        old = await first.RegisterMember(register("reg-old", OPENID), metadata=mp)
        await first.RegisterMember(register("reg-new", "o-newer"), metadata=mp)
        await one.store.pool.execute(  # committed 8 days ago (the purge goes by the database's clock; ids by brand)
            "UPDATE request_log SET recorded_at = now() - interval '8 days' WHERE request_id = 'acme/reg-old'"
        )
        await one.store.pool.execute(
            "UPDATE request_log SET recorded_at = now() - interval '6 days 23 hours' WHERE request_id = 'acme/reg-new'"
        )
        purged = await asyncio.gather(  # both processes' schedulers at once: the rows go once, nothing fails
            one.scheduler.purge_request_log(force=True), two.scheduler.purge_request_log(force=True)
        )
        assert sorted(purged) == [0, 1]
        assert [r[0] for r in await one.store.pool.fetch("SELECT request_id FROM request_log")] == ["acme/reg-new"]
        assert await one.scheduler.purge_request_log() == 0  # purged this hour already

        second = members_pb2_grpc.MemberServiceStub(other)  # a process that never saw these requests
        await expect(  # within the retention the id is still answerable: another payload is refused
            second.RegisterMember(register("reg-new", "o-somebody-else"), metadata=mp),
            grpc.StatusCode.INVALID_ARGUMENT,
            "REQUEST_ID_REUSED",
        )
        again = await second.RegisterMember(register("reg-old", "o-somebody-else"), metadata=mp)
        assert again.name != old.name  # past the retention the id is forgotten: the call is executed anew

    assert load_settings({"REQUEST_LOG_RETENTION_DAYS": "0"}).request_log_retention_days == 0  # 0: kept for ever
    assert load_settings({}).request_log_retention_days == 30
