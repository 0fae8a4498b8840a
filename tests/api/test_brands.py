"""One deployment, two brands (acme and beta): each brand's callers see and change only their own brand.

The scenario of issue 13: an acme member stands 300 m from a beta store and 2 km from an acme store, and
both brands have a dealer called D1.
"""

from __future__ import annotations

import uuid

import grpc

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth
from tests.api.test_errors import expect, rejected

NOT_FOUND, DENIED = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
CUSTOMER = (31.2305, 121.4738)
BETA_NEARBY = (31.2332, 121.4738)  # about 300 m north of the customer
ACME_FARTHER = (31.2485, 121.4738)  # about 2 km north


async def _world(api):
    """acme and beta: a store each (both of dealer D1), a guide each, a member each."""
    world = {}
    for brand, (lat, lng) in (("acme", ACME_FARTHER), ("beta", BETA_NEARBY)):
        op, mp = auth("operator", brand), auth("miniprogram", brand)
        store = await api.stores.OpenCloudStore(
            s.OpenCloudStoreRequest(
                request_id=api.rid(),
                brand=brand,
                cloud_store=s.CloudStore(spec=store_spec(f"{brand}-1", lat, lng, "D1")),
            ),
            metadata=op,
        )
        guide = await api.guides.HireGuide(
            s.HireGuideRequest(
                request_id=api.rid(),
                brand=brand,
                guide=s.Guide(store=store.name, wecom_userid=f"wx-{brand}", display_name="Guide"),
            ),
            metadata=op,
        )
        member = await api.members.RegisterMember(
            m.RegisterMemberRequest(request_id=api.rid(), brand=brand, member=m.Member(openid=f"o-{brand}")),
            metadata=mp,
        )
        world[brand] = (store, guide, member)
    await api.settled()
    return world


async def test_an_acme_order_is_routed_to_the_acme_store_past_a_nearer_beta_store_and_booked_to_acme_d1(api):
    world = await _world(api)
    (acme_store, _, acme_member), (beta_store, _, beta_member) = world["acme"], world["beta"]
    assert (acme_store.spec.dealer, beta_store.spec.dealer) == ("dealers/D1", "dealers/D1")
    assert (acme_store.brand, beta_store.brand, world["acme"][1].brand) == ("acme", "beta", "acme")

    simulated = await api.orders.SimulateOrder(
        o.SimulateOrderRequest(order=draft(acme_member.name, *CUSTOMER)), metadata=auth("miniprogram")
    )
    assert simulated.store == acme_store.name
    assert beta_store.name not in {c.store for c in simulated.candidates}
    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(acme_member.name, *CUSTOMER, fen=12_345)),
        metadata=auth("miniprogram"),
    )
    assert (order.routing.store, order.routing.dealer) == (acme_store.name, "dealers/D1")
    await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=12_345), metadata=auth("miniprogram")
    )
    beta_order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(beta_member.name, *CUSTOMER)),
        metadata=auth("miniprogram", "beta"),
    )
    assert beta_order.routing.store == beta_store.name
    await api.settled()

    statement = a.GetSettlementStatementRequest(month="2026-11")
    acme_d1 = await api.attribution.GetSettlementStatement(statement, metadata=auth("dealer:D1"))
    beta_d1 = await api.attribution.GetSettlementStatement(statement, metadata=auth("dealer:D1", "beta"))
    assert (acme_d1.revenue_fen, [x.store for x in acme_d1.lines]) == (12_345, [acme_store.name])
    assert (beta_d1.revenue_fen, list(beta_d1.lines)) == (0, [])
    revenue = a.StreamStoreRevenueRequest(from_day="2026-11-01", to_day="2026-11-30")
    assert [r.store async for r in api.attribution.StreamStoreRevenue(revenue, metadata=auth("dealer:D1"))] == [
        acme_store.name
    ]
    assert [r async for r in api.attribution.StreamStoreRevenue(revenue, metadata=auth("dealer:D1", "beta"))] == []
    operator_view = a.StreamStoreRevenueRequest(dealer="dealers/D1", from_day="2026-11-01", to_day="2026-11-30")
    assert [r async for r in api.attribution.StreamStoreRevenue(operator_view, metadata=auth("operator", "beta"))] == []
    csv = b"".join(
        [
            c.data
            async for c in api.attribution.ExportLedgerCsv(
                a.ExportLedgerCsvRequest(from_day="2026-11-01", to_day="2026-11-30"), metadata=auth("dealer:D1", "beta")
            )
        ]
    )
    assert acme_store.name.encode() not in csv


async def test_entries_naming_another_brands_store_or_guide_are_not_found_as_if_missing(api):
    world = await _world(api)
    (_, _, acme_member), (beta_store, beta_guide, _) = world["acme"], world["beta"]
    missing_store, missing_guide = f"cloudStores/{uuid.uuid4()}", f"guides/{uuid.uuid4()}"
    head = await api.running.store.max_notification_id()
    for store in (beta_store.name, missing_store):
        entry = o.EntryContext(kind=o.ENTRY_KIND_STORE_QR, store=store)
        for call in (
            api.orders.SimulateOrder(
                o.SimulateOrderRequest(order=draft(acme_member.name, *CUSTOMER, entry=entry)),
                metadata=auth("miniprogram"),
            ),
            api.orders.PlaceOrder(
                o.PlaceOrderRequest(request_id=api.rid(), order=draft(acme_member.name, *CUSTOMER, entry=entry)),
                metadata=auth("miniprogram"),
            ),
        ):
            await expect(call, NOT_FOUND, "CLOUDSTORE_NOT_FOUND")
    for guide in (beta_guide.name, missing_guide):
        entry = o.EntryContext(kind=o.ENTRY_KIND_GUIDE_SHARE, guide=guide)
        await expect(
            api.orders.PlaceOrder(
                o.PlaceOrderRequest(request_id=api.rid(), order=draft(acme_member.name, *CUSTOMER, entry=entry)),
                metadata=auth("miniprogram"),
            ),
            NOT_FOUND,
            "GUIDE_NOT_FOUND",
        )
    assert await api.running.store.max_notification_id() == head  # nothing written


async def test_guides_are_hired_moved_bound_and_inherited_only_within_their_brand(api):
    world = await _world(api)
    (acme_store, acme_guide, acme_member), (beta_store, beta_guide, _) = world["acme"], world["beta"]
    op = auth("operator")
    head = await api.running.store.max_notification_id()
    await expect(
        api.guides.HireGuide(
            s.HireGuideRequest(
                request_id=api.rid(), guide=s.Guide(store=beta_store.name, wecom_userid="wx-acme-2", display_name="G")
            ),
            metadata=op,
        ),
        NOT_FOUND,
        "CLOUDSTORE_NOT_FOUND",
    )
    await expect(
        api.guides.MoveGuide(
            s.MoveGuideRequest(request_id=api.rid(), name=acme_guide.name, to_store=beta_store.name), metadata=op
        ),
        NOT_FOUND,
        "CLOUDSTORE_NOT_FOUND",
    )
    await expect(
        api.guides.MoveGuide(
            s.MoveGuideRequest(request_id=api.rid(), name=beta_guide.name, to_store=acme_store.name), metadata=op
        ),
        NOT_FOUND,
        "GUIDE_NOT_FOUND",
    )
    await expect(
        api.members.BindGuide(
            m.BindGuideRequest(request_id=api.rid(), name=acme_member.name, guide=beta_guide.name),
            metadata=auth("miniprogram"),
        ),
        NOT_FOUND,
        "GUIDE_NOT_FOUND",
    )
    await expect(
        api.guides.InheritCustomers(
            s.InheritCustomersRequest(request_id=api.rid(), name=acme_guide.name, to_guide=beta_guide.name), metadata=op
        ),
        NOT_FOUND,
        "GUIDE_NOT_FOUND",
    )
    assert await api.running.store.max_notification_id() == head


async def test_a_brand_field_may_name_only_the_callers_brand_and_empty_means_the_callers(api):
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), member=m.Member(openid="o-1")),
        metadata=auth("miniprogram", "beta"),
    )
    assert member.brand == "beta"
    meta = await expect(
        api.members.RegisterMember(
            m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-2")),
            metadata=auth("miniprogram", "beta"),
        ),
        DENIED,
        "BRAND_OUT_OF_SCOPE",
    )
    assert meta == {"brand": "beta"}
    await expect(
        api.stores.OpenCloudStore(
            s.OpenCloudStoreRequest(
                request_id=api.rid(), brand="x" * 1_000_000, cloud_store=s.CloudStore(spec=store_spec("S", *CUSTOMER))
            ),
            metadata=auth("operator"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_TEXT",
    )
    await expect(
        api.audit.GetPointsLiability(au.GetPointsLiabilityRequest(brand="acme"), metadata=auth("auditor", "beta")),
        DENIED,
        "BRAND_OUT_OF_SCOPE",
    )


async def test_another_brands_member_answers_exactly_as_a_missing_one(api):
    world = await _world(api)
    acme_member = world["acme"][2]
    missing = f"members/{uuid.uuid4()}"
    other = await rejected(
        api.members.GetMember(m.GetMemberRequest(name=acme_member.name), metadata=auth("miniprogram", "beta"))
    )
    absent = await rejected(
        api.members.GetMember(m.GetMemberRequest(name=missing), metadata=auth("miniprogram", "beta"))
    )
    assert (
        (other[0], other[1], set(other[2]))
        == (absent[0], absent[1], set(absent[2]))
        == (NOT_FOUND, "MEMBER_NOT_FOUND", {"id"})
    )


async def test_an_auditor_reads_only_its_brands_history(api):
    world = await _world(api)
    acme_ids = {n.partition("/")[2] for n in (x.name for x in world["acme"])}
    beta_ids = {n.partition("/")[2] for n in (x.name for x in world["beta"])}
    everything = au.StreamEventsRequest(positions=au.PositionRange())
    seen = {e.originator_id async for e in api.audit.StreamEvents(everything, metadata=auth("auditor", "beta"))}
    assert beta_ids <= seen and not acme_ids & seen
    for aggregate in (x.name for x in world["acme"]):
        await expect(
            api.audit.GetAggregateState(au.GetAggregateStateRequest(name=aggregate), metadata=auth("auditor", "beta")),
            NOT_FOUND,
            "AGGREGATE_NOT_FOUND",
        )
    state = await api.audit.GetAggregateState(
        au.GetAggregateStateRequest(name=world["acme"][0].name), metadata=auth("auditor")
    )
    assert state.WhichOneof("view") == "cloud_store" and state.cloud_store.brand == "acme"


async def test_request_ids_are_per_brand_so_another_brand_never_replays_a_response(api):
    acme = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="reg-1", member=m.Member(openid="o-1")), metadata=auth("miniprogram")
    )
    beta = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="reg-1", member=m.Member(openid="o-1")), metadata=auth("miniprogram", "beta")
    )
    assert (acme.brand, beta.brand) == ("acme", "beta") and acme.name != beta.name


async def test_settlement_months_close_per_brand_for_the_same_dealer_id(api):
    close = a.CloseSettlementPeriodRequest(request_id=api.rid(), dealer="dealers/D1", month="2026-10")
    closed = await api.attribution.CloseSettlementPeriod(close, metadata=auth("operator"))
    assert closed.closed
    october = a.GetSettlementStatementRequest(month="2026-10")
    assert (await api.attribution.GetSettlementStatement(october, metadata=auth("dealer:D1"))).closed
    assert not (await api.attribution.GetSettlementStatement(october, metadata=auth("dealer:D1", "beta"))).closed


async def test_the_mini_program_cannot_answer_a_guides_handover_the_operator_relays_it(api):
    """Item 11: ConcludeHandover is the receiving guide's answer from WeCom, relayed by brand operations."""
    world = await _world(api)
    guide, member = world["acme"][1], world["acme"][2]
    request = s.ConcludeHandoverRequest(request_id=api.rid(), name=guide.name, member=member.name, accept=True)
    await expect(api.guides.ConcludeHandover(request, metadata=auth("miniprogram")), DENIED, "PERMISSION_DENIED")
    await expect(
        api.guides.ConcludeHandover(request, metadata=auth("operator")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "HANDOVER_NOT_FOUND",
    )  # allowed: nothing was offered
