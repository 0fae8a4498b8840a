"""The authorisation matrix: every RPC of every service x every role x a caller of the same or another brand.

All requests name brand acme's resources (or brand acme itself). For each RPC the table below says which
roles may call it and what a caller of another brand (beta) gets:

- ``NOT_FOUND``: the request names an acme resource, which beta's callers cannot see (answered as missing);
- ``OUT_OF_SCOPE``: the request names brand acme: PERMISSION_DENIED, reason BRAND_OUT_OF_SCOPE;
- ``OWN``: the request names nothing of acme's (a dealer id, which is per brand): the call acts on the
  caller's own brand, and its answer holds nothing of acme's.

A role outside the RPC's roles gets PERMISSION_DENIED whatever its brand; an acme caller with the role is
neither denied nor told that its own resource is missing. A beta caller never writes anything, except with
``OWN`` (where it acts on its own brand). RPCs are enumerated from the service descriptors, so an RPC
added without a row here fails the test. One server and one set of resources serve the whole module.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from application.clock import ManualClock
from infrastructure.api.convert import timestamp
from protos.loyalty.v1 import (
    attribution_pb2,
    attribution_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    drops_pb2,
    drops_pb2_grpc,
    members_pb2,
    members_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    privacy_pb2,
    privacy_pb2_grpc,
    programmes_pb2,
    programmes_pb2_grpc,
    stock_pb2,
    stock_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
)
from tests.api.builders import draft, entry_name, gcj, store_spec
from tests.api.conftest import START, auth, serving

a, au, m, o, p, s = attribution_pb2, audit_pb2, members_pb2, orders_pb2, programmes_pb2, stores_pb2
k, d, pv = stock_pb2, drops_pb2, privacy_pb2
MODULES = {
    a: attribution_pb2_grpc,
    au: audit_pb2_grpc,
    m: members_pb2_grpc,
    o: orders_pb2_grpc,
    p: programmes_pb2_grpc,
    s: stores_pb2_grpc,
    k: stock_pb2_grpc,
    d: drops_pb2_grpc,
    pv: privacy_pb2_grpc,
}
ROLES = ("miniprogram", "operator", "dealer:D1", "auditor")
MP, OP, DEALER, AU = ROLES
WRITE, READ, READERS, AUDITORS = (MP, OP), (MP, OP, AU), (DEALER, OP, AU), (AU, OP)
KEEPERS = (OP, DEALER)  # a store's stock: operators, and the store's own dealer
STOCKED = "SKU-MATRIX"  # a SKU only the matrix counts (orders of the other rows stay untracked)
NOT_FOUND, OUT_OF_SCOPE, OWN = "NOT_FOUND", "OUT_OF_SCOPE", "OWN"
CUSTOMER = (31.2305, 121.4738)
PAID_FEN = 12_345  # acme's revenue: a beta caller's answer must not hold it

_ids = itertools.count(1)


def rid() -> str:
    return f"matrix-{next(_ids)}"


class Acme:
    """Names of acme's resources, created once for the module."""

    store = store2 = store3 = guide = guide2 = guide3 = member = member2 = member3 = absorbed = erasable = ""
    order = unpaid = cancellable = drop = ""

    def ids(self) -> set[str]:
        return {v.partition("/")[2] for k, v in vars(self).items() if isinstance(v, str) and "/" in v}


A, B = Acme(), Acme()  # B: beta's own resources, for requests that mix them with one of acme's

# rpc -> (roles that may call it, what a beta caller gets, the request (built when the cell runs))
MATRIX: dict[str, tuple[tuple[str, ...], str, Callable[[], Any]]] = {
    "MemberService/RegisterMember": (
        WRITE,
        OUT_OF_SCOPE,
        lambda: m.RegisterMemberRequest(request_id=rid(), brand="acme", member=m.Member(openid=f"o-{rid()}")),
    ),
    "MemberService/GetMember": (READ, NOT_FOUND, lambda: m.GetMemberRequest(name=A.member)),
    "MemberService/UpdateMemberProfile": (
        WRITE,
        NOT_FOUND,
        lambda: m.UpdateMemberProfileRequest(request_id=rid(), name=A.member, nickname="n"),
    ),
    "MemberService/AssignTierFloor": (
        (OP,),
        NOT_FOUND,
        lambda: m.AssignTierFloorRequest(
            request_id=rid(), name=A.member, tier=m.TIER_SEED, reason="vip", operator="ops-1"
        ),
    ),
    "MemberService/MergeMembers": (
        (OP,),
        NOT_FOUND,
        lambda: m.MergeMembersRequest(request_id=rid(), name=A.member, absorbed=A.absorbed),
    ),
    "MemberService/BindGuide": (
        WRITE,
        NOT_FOUND,
        lambda: m.BindGuideRequest(request_id=rid(), name=A.member2, guide=A.guide),
    ),
    "MemberService/RecordReferral": (
        WRITE,
        NOT_FOUND,
        lambda: m.RecordReferralRequest(request_id=rid(), referrer=A.member, name=A.member3),
    ),
    "MemberService/EarnPoints": (
        WRITE,
        NOT_FOUND,
        lambda: m.EarnPointsRequest(request_id=rid(), name=A.member, rule="sign-in", points=5),
    ),
    "MemberService/RedeemPoints": (
        WRITE,
        NOT_FOUND,
        lambda: m.RedeemPointsRequest(request_id=rid(), name=A.member, points=1, reference="coupon"),
    ),
    "MemberService/AdjustPoints": (
        (OP,),
        NOT_FOUND,
        lambda: m.AdjustPointsRequest(request_id=rid(), name=A.member, points=3, reason="goodwill", operator="ops-1"),
    ),
    "MemberService/ListPointsHistory": (READ, NOT_FOUND, lambda: m.ListPointsHistoryRequest(parent=A.member)),
    "MemberService/ListExpiringPoints": (
        READ,
        NOT_FOUND,
        lambda: m.ListExpiringPointsRequest(parent=A.member, within_days=30),
    ),
    "MemberService/EvaluateTier": (WRITE, NOT_FOUND, lambda: m.EvaluateTierRequest(request_id=rid(), name=A.member)),
    "OrderService/PlaceOrder": (
        WRITE,
        NOT_FOUND,
        lambda: o.PlaceOrderRequest(request_id=rid(), order=draft(A.member, *CUSTOMER)),
    ),
    "OrderService/SimulateOrder": (
        WRITE,
        NOT_FOUND,
        lambda: o.SimulateOrderRequest(
            order=draft(A.member, *CUSTOMER, entry=o.EntryContext(kind=o.ENTRY_KIND_STORE_QR, store=A.store))
        ),
    ),
    "OrderService/PayOrder": (
        WRITE,
        NOT_FOUND,
        lambda: o.PayOrderRequest(request_id=rid(), name=A.unpaid, paid_fen=PAID_FEN),
    ),
    "OrderService/FulfilOrder": (WRITE, NOT_FOUND, lambda: o.FulfilOrderRequest(request_id=rid(), name=A.order)),
    "OrderService/CancelOrder": (WRITE, NOT_FOUND, lambda: o.CancelOrderRequest(request_id=rid(), name=A.cancellable)),
    "OrderService/RefundOrder": (
        WRITE,
        NOT_FOUND,
        lambda: o.RefundOrderRequest(request_id=rid(), name=A.order, amount_fen=1),
    ),
    "OrderService/SettleOrder": ((OP,), NOT_FOUND, lambda: o.SettleOrderRequest(request_id=rid(), name=A.order)),
    "OrderService/GetOrder": (READ, NOT_FOUND, lambda: o.GetOrderRequest(name=A.order)),
    "OrderService/ListOrders": (READ, NOT_FOUND, lambda: o.ListOrdersRequest(parent=A.member)),
    "StoreService/OpenCloudStore": (
        (OP,),
        OUT_OF_SCOPE,
        lambda: s.OpenCloudStoreRequest(
            request_id=rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(rid(), 31.30, 121.50))
        ),
    ),
    "StoreService/ImportCloudStores": (
        (OP,),
        OUT_OF_SCOPE,
        lambda: s.ImportCloudStoresRequest(
            request_id=rid(), brand="acme", cloud_stores=[s.CloudStore(spec=store_spec(rid(), 31.31, 121.51))]
        ),
    ),
    "StoreService/RelocateCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.RelocateCloudStoreRequest(request_id=rid(), name=A.store2, location=gcj(31.2501, 121.4801)),
    ),
    "StoreService/UpdateCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.UpdateCloudStoreRequest(
            request_id=rid(),
            cloud_store=s.CloudStore(name=A.store2, spec=s.CloudStoreSpec(daily_capacity=100)),
            update_mask=FieldMask(paths=["spec.daily_capacity"]),
        ),
    ),
    "StoreService/SuspendCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.SuspendCloudStoreRequest(request_id=rid(), name=A.store2, reason="refit"),
    ),
    "StoreService/ReopenCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.ReopenCloudStoreRequest(request_id=rid(), name=A.store2),
    ),
    "StoreService/CloseCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.CloseCloudStoreRequest(request_id=rid(), name=A.store3),
    ),
    "StoreService/TransferCloudStore": (
        (OP,),
        NOT_FOUND,
        lambda: s.TransferCloudStoreRequest(request_id=rid(), name=A.store2, to_dealer="dealers/D9"),
    ),
    "StoreService/GetCloudStore": (READ, NOT_FOUND, lambda: s.GetCloudStoreRequest(name=A.store)),
    "GuideService/GetGuidePerformance": ((OP, AU), NOT_FOUND, lambda: s.GetGuidePerformanceRequest(name=A.guide)),
    "GuideService/GetStorePerformance": ((OP, AU), NOT_FOUND, lambda: s.GetStorePerformanceRequest(name=A.store)),
    "StoreService/ListCloudStores": (READ, OUT_OF_SCOPE, lambda: s.ListCloudStoresRequest(brand="acme")),
    "GuideService/HireGuide": (
        (OP,),
        NOT_FOUND,
        lambda: s.HireGuideRequest(
            request_id=rid(), guide=s.Guide(store=A.store, wecom_userid=f"wx-{rid()}", display_name="G")
        ),
    ),
    "GuideService/MoveGuide": (
        (OP,),
        NOT_FOUND,
        lambda: s.MoveGuideRequest(request_id=rid(), name=A.guide2, to_store=A.store2),
    ),
    "GuideService/ReleaseGuide": ((OP,), NOT_FOUND, lambda: s.ReleaseGuideRequest(request_id=rid(), name=A.guide3)),
    "GuideService/InheritCustomers": (
        (OP,),
        NOT_FOUND,
        lambda: s.InheritCustomersRequest(request_id=rid(), name=A.guide2, to_guide=A.guide),
    ),
    "GuideService/ConcludeHandover": (
        (OP,),
        NOT_FOUND,
        lambda: s.ConcludeHandoverRequest(request_id=rid(), name=A.guide2, member=A.member, accept=True),
    ),
    "GuideService/CompleteDueHandovers": (
        (OP,),
        NOT_FOUND,
        lambda: s.CompleteDueHandoversRequest(request_id=rid(), name=A.guide2),
    ),
    "GuideService/GetGuide": (READ, NOT_FOUND, lambda: s.GetGuideRequest(name=A.guide)),
    "AttributionService/StreamStoreRevenue": (
        READERS,
        OWN,
        lambda: a.StreamStoreRevenueRequest(dealer="dealers/D1", from_day="2026-11-01", to_day="2026-11-30"),
    ),
    "AttributionService/GetOrderAttribution": (READERS, NOT_FOUND, lambda: a.GetOrderAttributionRequest(name=A.order)),
    "AttributionService/GetSettlementStatement": (
        READERS,
        OWN,
        lambda: a.GetSettlementStatementRequest(dealer="dealers/D1", month="2026-11"),
    ),
    "AttributionService/CloseSettlementPeriod": (
        (OP,),
        OWN,
        lambda: a.CloseSettlementPeriodRequest(request_id=rid(), dealer="dealers/D1", month="2026-10"),
    ),
    "AttributionService/ExportLedgerCsv": (
        READERS,
        OWN,
        lambda: a.ExportLedgerCsvRequest(dealer="dealers/D1", from_day="2026-11-01", to_day="2026-11-30"),
    ),
    "AuditService/StreamEvents": (AUDITORS, NOT_FOUND, lambda: au.StreamEventsRequest(aggregate=A.order)),
    "AuditService/GetAggregateState": (AUDITORS, NOT_FOUND, lambda: au.GetAggregateStateRequest(name=A.member)),
    "AuditService/VerifyEventLog": (AUDITORS, OWN, lambda: au.VerifyEventLogRequest()),
    "AuditService/GetPointsLiability": (AUDITORS, OUT_OF_SCOPE, lambda: au.GetPointsLiabilityRequest(brand="acme")),
    "ProgrammeService/PublishProgramme": (
        (OP,),
        OUT_OF_SCOPE,
        lambda: p.PublishProgrammeRequest(request_id=rid(), programme=p.Programme(brand="acme", version=2)),
    ),
    "ProgrammeService/GetProgramme": ((MP, OP, AU), OUT_OF_SCOPE, lambda: p.GetProgrammeRequest(brand="acme")),
    "StockService/ImportStock": (
        (OP,),
        OUT_OF_SCOPE,
        lambda: k.ImportStockRequest(
            request_id=rid(), brand="acme", batch_id=rid(), lines=[k.StockLine(store=A.store, sku=STOCKED, count=50)]
        ),
    ),
    "StockService/RecordInStoreSale": (
        KEEPERS,
        NOT_FOUND,
        lambda: k.RecordInStoreSaleRequest(request_id=rid(), store=A.store, sku=STOCKED, quantity=1),
    ),
    "StockService/SetStockProtection": (
        KEEPERS,
        NOT_FOUND,
        lambda: k.SetStockProtectionRequest(request_id=rid(), store=A.store, skus=[STOCKED], floor_units=1),
    ),
    "StockService/GetStockLevel": (
        READERS,
        NOT_FOUND,
        lambda: k.GetStockLevelRequest(name=f"{A.store}/stock/{STOCKED}"),
    ),
    "StockService/ListStockLevels": (READERS, NOT_FOUND, lambda: k.ListStockLevelsRequest(parent=A.store)),
    "DropService/CreateDrop": ((OP,), OUT_OF_SCOPE, lambda: drop_request("acme")),
    "DropService/GetDrop": (READ, NOT_FOUND, lambda: d.GetDropRequest(name=A.drop)),
    "DropService/RegisterForDrop": (
        WRITE,
        NOT_FOUND,
        lambda: d.RegisterForDropRequest(request_id=rid(), parent=A.drop, member=A.member2),
    ),
    "DropService/GetDropEntry": (READ, NOT_FOUND, lambda: d.GetDropEntryRequest(name=entry_name(A.drop, A.member))),
    "DropService/DrawDrop": ((OP,), NOT_FOUND, lambda: d.DrawDropRequest(request_id=rid(), name=A.drop)),
    "DropService/ClaimDropOffer": (
        WRITE,
        NOT_FOUND,
        lambda: d.ClaimDropOfferRequest(request_id=rid(), name=entry_name(A.drop, A.member)),
    ),
    "DropService/PassOnUnclaimedOffers": (
        (OP,),
        NOT_FOUND,
        lambda: d.PassOnUnclaimedOffersRequest(request_id=rid(), name=A.drop),
    ),
    "DropService/ListDropResults": ((OP, AU), NOT_FOUND, lambda: d.ListDropResultsRequest(parent=A.drop)),
    "PrivacyService/EraseMember": (
        WRITE,
        NOT_FOUND,
        lambda: pv.EraseMemberRequest(request_id=rid(), name=A.erasable, requested_by="member", reason="PIPL Art. 47"),
    ),
    "PrivacyService/ExportMemberData": (READ, NOT_FOUND, lambda: pv.ExportMemberDataRequest(name=A.member)),
    "PrivacyService/RecordMarketingConsent": (
        WRITE,
        NOT_FOUND,
        lambda: pv.RecordMarketingConsentRequest(request_id=rid(), name=A.member, granted=True, channel="miniprogram"),
    ),
    "PrivacyService/GetMarketingConsent": (READ, NOT_FOUND, lambda: pv.GetMarketingConsentRequest(name=A.member)),
    "PrivacyService/EraseGuide": (  # guide3 left in ReleaseGuide's row (still employed: FAILED_PRECONDITION)
        (OP,),
        NOT_FOUND,
        lambda: pv.EraseGuideRequest(request_id=rid(), name=A.guide3, requested_by="ops-1", reason="PIPL Art. 47"),
    ),
}


def drop_request(brand: str) -> d.CreateDropRequest:
    """A drop open for registration all through the module (the clock stands at START)."""
    return d.CreateDropRequest(
        request_id=rid(),
        brand=brand,
        drop=d.Drop(
            display_name="Drop",
            sku="SNK",
            pools=[d.DropPool(units=5)],
            registration_open_time=timestamp(START - timedelta(hours=1)),
            registration_close_time=timestamp(START + timedelta(days=10)),
            purchase_window_minutes=30,
            per_member_limit=1,
            price_fen=59_900,
        ),
    )


def all_rpcs() -> Iterator[tuple[str, Any, Any]]:
    """(Service/Method, method descriptor, stub class) of every RPC the protos declare."""
    for module, grpc_module in MODULES.items():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield f"{service.name}/{method.name}", method, getattr(grpc_module, f"{service.name}Stub")


def test_every_rpc_has_a_row_in_the_matrix() -> None:
    assert {name for name, _, _ in all_rpcs()} == set(MATRIX)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Any, Any]]:
    """One server; acme's resources (named in ``A``) and a paid order of beta's own dealer D1."""
    async with serving(module_dsn, Path(tmp_path_factory.mktemp("matrix")), ManualClock(START)) as (running, ch):
        stores, guides = stores_pb2_grpc.StoreServiceStub(ch), stores_pb2_grpc.GuideServiceStub(ch)
        members, orders = members_pb2_grpc.MemberServiceStub(ch), orders_pb2_grpc.OrderServiceStub(ch)
        for brand, lat in (("acme", 31.2332), ("beta", 31.2310)):
            op, mp = auth(OP, brand), auth(MP, brand)
            opened = [
                await stores.OpenCloudStore(
                    s.OpenCloudStoreRequest(
                        request_id=rid(),
                        brand=brand,
                        cloud_store=s.CloudStore(spec=store_spec(f"{brand}-{i}", lat + 0.002 * i, 121.4738)),
                    ),
                    metadata=op,
                )
                for i in range(3)
            ]
            hired = [
                await guides.HireGuide(
                    s.HireGuideRequest(
                        request_id=rid(),
                        brand=brand,
                        guide=s.Guide(store=opened[0].name, wecom_userid=f"wx-{brand}-{i}", display_name="G"),
                    ),
                    metadata=op,
                )
                for i in range(3)
            ]
            registered = [
                await members.RegisterMember(
                    m.RegisterMemberRequest(request_id=rid(), brand=brand, member=m.Member(openid=f"o-{brand}-{i}")),
                    metadata=mp,
                )
                for i in range(5)
            ]
            await running.directory.catch_up()
            placed = [
                await orders.PlaceOrder(
                    o.PlaceOrderRequest(
                        request_id=rid(),
                        order=draft(registered[0].name, *CUSTOMER, fen=PAID_FEN if brand == "acme" else 50_000),
                    ),
                    metadata=mp,
                )
                for _ in range(3)
            ]
            await orders.PayOrder(
                o.PayOrderRequest(request_id=rid(), name=placed[0].name, paid_fen=placed[0].total_fen), metadata=mp
            )
            names = A if brand == "acme" else B
            names.store, names.store2, names.store3 = (x.name for x in opened)
            names.guide, names.guide2, names.guide3 = (x.name for x in hired)
            names.member, names.member2, names.member3, names.absorbed, names.erasable = (x.name for x in registered)
            names.order, names.unpaid, names.cancellable = (x.name for x in placed)
            await stock_pb2_grpc.StockServiceStub(ch).ImportStock(
                k.ImportStockRequest(
                    request_id=rid(),
                    brand=brand,
                    batch_id="opening",
                    lines=[k.StockLine(store=opened[0].name, sku=STOCKED, count=50)],
                ),
                metadata=op,
            )
            drops = drops_pb2_grpc.DropServiceStub(ch)
            names.drop = (await drops.CreateDrop(drop_request(brand), metadata=op)).name
            await drops.RegisterForDrop(
                d.RegisterForDropRequest(request_id=rid(), parent=names.drop, member=names.member), metadata=mp
            )
        head = await running.store.max_notification_id()
        await running.projections.run_until(head)
        assert A.ids() and all(x.routing.store for x in placed)
        yield running, ch


CELLS = [(rpc, role, brand) for rpc in MATRIX for role in ROLES for brand in ("acme", "beta")]


async def _call(channel, rpc: str, request, metadata) -> tuple[grpc.StatusCode, str, list[Any]]:
    """The status code, ErrorInfo reason (empty when OK) and the response messages."""
    ((_, method, stub_class),) = [x for x in all_rpcs() if x[0] == rpc]
    call = getattr(stub_class(channel), method.name)
    try:
        if method.server_streaming:
            return grpc.StatusCode.OK, "", [x async for x in call(request, metadata=metadata)]
        return grpc.StatusCode.OK, "", [await call(request, metadata=metadata)]
    except grpc.aio.AioRpcError as e:
        # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
        status: status_pb2.Status | None = rpc_status.from_call(e)  # type: ignore[arg-type]
        reasons = []
        for detail in status.details if status else ():
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reasons.append(info.reason)
        return e.code(), reasons[0] if reasons else "", []


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("rpc", "role", "brand"), CELLS, ids=[f"{r}-{x}@{b}" for r, x, b in CELLS])
async def test_the_call_is_allowed_denied_or_not_found_by_role_and_brand(world, rpc: str, role: str, brand: str):
    running, channel = world
    roles, other_brand, request = MATRIX[rpc]
    head = await running.store.max_notification_id()
    code, reason, responses = await _call(channel, rpc, request(), auth(role, brand))
    if role not in roles:
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    elif brand == "acme":
        assert code not in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.UNKNOWN,
        ), (code, reason)
    elif other_brand == NOT_FOUND:
        assert code == grpc.StatusCode.NOT_FOUND and reason.endswith("_NOT_FOUND"), (code, reason)
    elif other_brand == OUT_OF_SCOPE:
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "BRAND_OUT_OF_SCOPE")
    else:
        assert code == grpc.StatusCode.OK, (code, reason)
        text = "".join(str(r) for r in responses)
        assert not any(i in text for i in A.ids()) and "acme" not in text and str(PAID_FEN) not in text, text
    if brand == "beta" and other_brand != OWN:
        assert await running.store.max_notification_id() == head, "a call of another brand wrote something"


# A beta caller's request naming its own resources and one of acme's: still not found, nothing written.
MIXED: dict[str, tuple[str, Callable[[], Any]]] = {
    "MemberService/RegisterMember": (
        MP,
        lambda: m.RegisterMemberRequest(request_id=rid(), member=m.Member(openid=f"o-{rid()}", referrer=A.member)),
    ),
    "MemberService/MergeMembers": (
        OP,
        lambda: m.MergeMembersRequest(request_id=rid(), name=B.member, absorbed=A.absorbed),
    ),
    "MemberService/BindGuide": (MP, lambda: m.BindGuideRequest(request_id=rid(), name=B.member2, guide=A.guide)),
    "MemberService/RecordReferral": (
        MP,
        lambda: m.RecordReferralRequest(request_id=rid(), referrer=B.member, name=A.member3),
    ),
    "OrderService/PlaceOrder": (
        MP,
        lambda: o.PlaceOrderRequest(
            request_id=rid(),
            order=draft(B.member, *CUSTOMER, entry=o.EntryContext(kind=o.ENTRY_KIND_STORE_QR, store=A.store)),
        ),
    ),
    "OrderService/SimulateOrder": (
        MP,
        lambda: o.SimulateOrderRequest(
            order=draft(B.member, *CUSTOMER, entry=o.EntryContext(kind=o.ENTRY_KIND_GUIDE_SHARE, guide=A.guide))
        ),
    ),
    "GuideService/HireGuide": (
        OP,
        lambda: s.HireGuideRequest(
            request_id=rid(), brand="beta", guide=s.Guide(store=A.store, wecom_userid=f"wx-{rid()}", display_name="G")
        ),
    ),
    "GuideService/MoveGuide": (OP, lambda: s.MoveGuideRequest(request_id=rid(), name=B.guide2, to_store=A.store)),
    "GuideService/InheritCustomers": (
        OP,
        lambda: s.InheritCustomersRequest(request_id=rid(), name=B.guide, to_guide=A.guide),
    ),
    "StockService/ImportStock": (
        OP,
        lambda: k.ImportStockRequest(
            request_id=rid(),
            batch_id=rid(),
            lines=[k.StockLine(store=B.store, sku=STOCKED, count=5), k.StockLine(store=A.store, sku=STOCKED, count=5)],
        ),
    ),
    "DropService/RegisterForDrop": (
        MP,
        lambda: d.RegisterForDropRequest(request_id=rid(), parent=B.drop, member=B.member3, invited_by=A.member),
    ),
    "DropService/CreateDrop": (
        OP,
        lambda: d.CreateDropRequest(
            request_id=rid(),
            drop=d.Drop(
                display_name="Drop",
                sku="SNK",
                pools=[d.DropPool(store=A.store, units=5)],
                registration_open_time=timestamp(START),
                registration_close_time=timestamp(START + timedelta(days=1)),
                purchase_window_minutes=30,
                per_member_limit=1,
                price_fen=59_900,
            ),
        ),
    ),
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("rpc", MIXED)
async def test_a_request_mixing_the_callers_resources_with_another_brands_is_not_found(world, rpc: str):
    running, channel = world
    role, request = MIXED[rpc]
    head = await running.store.max_notification_id()
    code, reason, _ = await _call(channel, rpc, request(), auth(role, "beta"))
    assert code == grpc.StatusCode.NOT_FOUND and reason.endswith("_NOT_FOUND"), (code, reason)
    assert await running.store.max_notification_id() == head
