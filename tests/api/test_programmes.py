"""Programmes through the API: operators publish a brand's rules, decisions follow them, old versions stay readable."""

from __future__ import annotations

import grpc
import orjson

from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import members_pb2_grpc, programmes_pb2_grpc
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, outcome, source, store_spec
from tests.api.conftest import auth, serving
from tests.api.test_errors import INVALID, PRECONDITION, expect

OP, MP, AU = auth("operator"), auth("miniprogram"), auth("auditor")
DENIED = grpc.StatusCode.PERMISSION_DENIED


def stub(channel) -> programmes_pb2_grpc.ProgrammeServiceStub:
    return programmes_pb2_grpc.ProgrammeServiceStub(channel)


def publish(api, programme: p.Programme, *, request_id: str | None = None, metadata=OP):
    request = p.PublishProgrammeRequest(request_id=request_id or api.rid(), programme=programme)
    return stub(api.channel).PublishProgramme(request, metadata=metadata)


def get(api, version: int = 0, brand: str = "acme", metadata=AU):
    return stub(api.channel).GetProgramme(p.GetProgrammeRequest(brand=brand, version=version), metadata=metadata)


async def earned_versions(api, member: str) -> list[int]:
    """The programme version each PointsEarned event of the member recorded, as the auditor reads them."""
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=member), metadata=AU)]
    return [orjson.loads(e.state_json)["lot"]["programme_version"] for e in events if e.topic.endswith(".PointsEarned")]


async def register(api, openid: str = "o-1"):
    return await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid=openid)), metadata=MP
    )


async def open_store(api, code: str, lat: float, lng: float, dealer: str = "D1"):
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng, dealer))
        ),
        metadata=OP,
    )


async def test_a_brand_without_a_published_programme_runs_on_the_defaults_version_1(api):
    current = await get(api, metadata=MP)
    assert (current.version, current.points_per_yuan, current.expiry_policy) == (1, 1, p.EXPIRY_POLICY_END_OF_YEAR)
    assert [r.tier for r in current.tier_rules] == [m.TIER_ORDINARY, m.TIER_SEED, m.TIER_VALUE, m.TIER_CORE]
    assert list(current.attribution.precedence) == [
        p.ATTRIBUTION_SOURCE_ENTRY_CONTEXT,
        p.ATTRIBUTION_SOURCE_BOUND_GUIDE_STORE,
        p.ATTRIBUTION_SOURCE_HOME_STORE,
        p.ATTRIBUTION_SOURCE_NEAREST,
    ]
    assert await get(api, version=1) == current
    await expect(get(api, version=2), grpc.StatusCode.NOT_FOUND, "PROGRAMME_VERSION_NOT_FOUND")


async def test_a_published_programme_doubles_the_points_and_its_version_is_recorded(api):
    await open_store(api, "S-1", 31.2310, 121.4740)
    member = await register(api)
    published = await publish(api, p.Programme(brand="acme", version=2, points_per_yuan=2))
    assert (published.version, published.points_per_yuan, published.pending_days) == (2, 2, 7)  # unset: defaults

    await api.settled()
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=12_800)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_800), metadata=MP)
    member = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    assert member.pending_points == 256  # 2 points per yuan, not the default 1

    assert await earned_versions(api, member.name) == [2]
    # The auditor looks up the rules of that version, and the rules before it.
    assert (await get(api, version=2)).points_per_yuan == 2
    assert (await get(api, version=1)).points_per_yuan == 1
    assert (await get(api)).version == 2


async def test_a_version_not_above_the_current_one_is_a_failed_precondition(api):
    meta = await expect(
        publish(api, p.Programme(brand="acme", version=1, points_per_yuan=5)),
        PRECONDITION,
        "PROGRAMME_VERSION_NOT_NEWER",
    )
    assert meta == {"version": "1", "current_version": "1"}
    await publish(api, p.Programme(brand="acme", version=3))
    for stale in (2, 3):
        await expect(
            publish(api, p.Programme(brand="acme", version=stale)), PRECONDITION, "PROGRAMME_VERSION_NOT_NEWER"
        )
    assert (await get(api)).version == 3
    await expect(get(api, version=2), grpc.StatusCode.NOT_FOUND, "PROGRAMME_VERSION_NOT_FOUND")


async def test_only_operators_publish(api):
    for caller in (MP, AU, auth("dealer:D1")):
        await expect(publish(api, p.Programme(brand="acme", version=2), metadata=caller), DENIED, "PERMISSION_DENIED")
    await expect(get(api, metadata=auth("dealer:D1")), DENIED, "PERMISSION_DENIED")
    assert (await get(api)).version == 1


async def test_invalid_rules_are_invalid_arguments_and_publish_nothing(api):
    cases = {
        "OUT_OF_RANGE": p.Programme(brand="acme", version=2, points_per_yuan=-1),
        "INVALID_ENUM": p.Programme(brand="acme", version=2, expiry_policy=42),
        "INVALID_TIER_RULES": p.Programme(
            brand="acme", version=2, tier_rules=[p.TierRule(tier=m.TIER_CORE, min_paid_fen=1, min_points_earned=1)]
        ),
        "INVALID_POLICY": p.Programme(
            brand="acme",
            version=2,
            attribution=p.AttributionRules(precedence=[p.ATTRIBUTION_SOURCE_NEAREST, p.ATTRIBUTION_SOURCE_NEAREST]),
        ),
        "EXPIRY_BEFORE_AVAILABLE": p.Programme(
            brand="acme", version=2, expiry_policy=p.EXPIRY_POLICY_ROLLING_DAYS, expiry_days=3, pending_days=7
        ),
        "INVALID_TEXT": p.Programme(brand="ac\x00me", version=2),
        "INVALID_TEXT ": p.Programme(brand="b" * 129, version=2),  # (empty would be the caller's brand)
    }
    for reason, programme in cases.items():
        await expect(publish(api, programme), INVALID, reason.strip())
    await expect(
        stub(api.channel).PublishProgramme(p.PublishProgrammeRequest(request_id=api.rid()), metadata=OP),
        INVALID,
        "FIELD_REQUIRED",
    )
    await expect(get(api, version=-1), INVALID, "OUT_OF_RANGE")
    assert (await get(api)).version == 1


async def test_every_field_published_reads_back_unchanged(api):
    programme = p.Programme(
        brand="acme",
        version=7,
        points_per_yuan=3,
        pending_days=0,
        expiry_policy=p.EXPIRY_POLICY_ROLLING_DAYS,
        expiry_days=90,
        tier_window_days=180,
        tier_rules=[
            p.TierRule(tier=t, min_paid_fen=f, min_points_earned=f // 100)
            for t, f in ((m.TIER_ORDINARY, 100), (m.TIER_SEED, 1_000), (m.TIER_VALUE, 10_000), (m.TIER_CORE, 100_000))
        ],
        downgrade_policy=p.DOWNGRADE_POLICY_RECOMPUTE,
        referral_reward_points=0,
        referral_cap_per_period=3,
        referral_cap_period=p.REFERRAL_CAP_PERIOD_CALENDAR_YEAR,
        binding_mode=p.BINDING_MODE_FIRST_GUIDE_KEEPS,
        protection_days=0,
        handover_waiting_hours=12,
        handover_max_per_customer=1,
        handover_limit_days=30,
        guide_customer_limit=100,
        guide_commission_bps=0,
        guide_credit_customer_added=2,
        guide_credit_referral=0,
        guide_credit_per_yuan_sales=3,
        return_window_days=14,
        payment_timeout_minutes=45,
        attribution=p.AttributionRules(
            precedence=[p.ATTRIBUTION_SOURCE_HOME_STORE, p.ATTRIBUTION_SOURCE_NEAREST],
            fallback_target="acme-online",
            credit_bound_guide=False,
            max_distance_m=20_000,
            tie_tolerance_m=0,
            pickup_max_distance_m=3_000,
            delivery_ignores_opening_hours=True,
            stock_fallback=p.STOCK_FALLBACK_SPLIT,
            stock_max_distance_m=8_000,
        ),
    )
    assert await publish(api, programme) == programme
    assert await get(api, version=7, metadata=MP) == programme


async def test_a_retried_publication_returns_the_same_programme_and_publishes_once(api):
    first = await publish(api, p.Programme(brand="acme", version=2, points_per_yuan=2), request_id="pub-1")
    again = await publish(api, p.Programme(brand="acme", version=2, points_per_yuan=2), request_id="pub-1")
    assert again == first
    await expect(publish(api, p.Programme(brand="acme", version=3), request_id="pub-1"), INVALID, "REQUEST_ID_REUSED")
    everything = au.StreamEventsRequest(positions=au.PositionRange())
    events = [e async for e in api.audit.StreamEvents(everything, metadata=AU)]
    assert sum(e.topic.endswith("BrandProgramme.Published") for e in events) == 1


async def test_a_brand_that_puts_nearest_first_routes_past_the_bound_guides_eligible_store(api):
    # As in test_journey: the bound guide's store is eligible and wins under the default precedence...
    near = await open_store(api, "S-NEAR", 31.2310, 121.4740)
    far = await open_store(api, "S-FAR", 31.2500, 121.5000, dealer="D2")
    guide = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=s.Guide(store=far.name, wecom_userid="wx-guide-1", display_name="Li Na"),
        ),
        metadata=OP,
    )
    member = await register(api)
    await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )
    await api.settled()
    order = draft(member.name, 31.2305, 121.4738)
    by_default = await api.orders.SimulateOrder(o.SimulateOrderRequest(order=order), metadata=MP)
    assert by_default.store == far.name

    # ...until the brand publishes a programme whose precedence starts with NEAREST.
    await publish(
        api,
        p.Programme(
            brand="acme",
            version=2,
            attribution=p.AttributionRules(
                precedence=[p.ATTRIBUTION_SOURCE_NEAREST, p.ATTRIBUTION_SOURCE_BOUND_GUIDE_STORE]
            ),
        ),
    )
    placed = await api.orders.PlaceOrder(o.PlaceOrderRequest(request_id=api.rid(), order=order), metadata=MP)
    assert placed.routing.store == near.name and placed.routing.dealer == "dealers/D1"
    first = placed.routing.attribution[0]
    assert (source(first), outcome(first)) == ("NEAREST", "CHOSEN")
    assert placed.routing.guide_credit.guide == guide.name and placed.routing.guide_credit.dual_credit  # 业绩双计

    # Another brand keeps the default precedence.
    other = await get(api, brand="beta", metadata=auth("auditor", "beta"))
    assert other.attribution.precedence[0] == p.ATTRIBUTION_SOURCE_ENTRY_CONTEXT


async def test_a_programme_published_through_one_server_is_in_force_in_another(api, fresh_dsn, tmp_path):
    member = await register(api)
    async with serving(fresh_dsn, tmp_path / "second", api.clock) as (_, channel):
        assert (await stub(channel).GetProgramme(p.GetProgrammeRequest(brand="acme"), metadata=AU)).version == 1
        await publish(api, p.Programme(brand="acme", version=2, points_per_yuan=5))
        assert (await stub(channel).GetProgramme(p.GetProgrammeRequest(brand="acme"), metadata=AU)).version == 2
        earned = await members_pb2_grpc.MemberServiceStub(channel).EarnPoints(
            m.EarnPointsRequest(request_id=api.rid(), name=member.name, rule="sign-in", points=10), metadata=MP
        )
        assert earned.points == 10
    assert await earned_versions(api, member.name) == [2]
