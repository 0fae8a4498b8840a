"""StoreService and GuideService: brand operations."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.auth import Role, brand_scope, owned
from application.commands import Call
from application.guides import GuideService
from application.stores import StoreChanges, StoreService, StoreSpec
from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument
from domain.geo import distance_m, to_wgs84
from domain.guide import Guide
from domain.store_values import StoreStatus
from infrastructure.api import convert, names, pages
from infrastructure.api.names import GUIDES, MEMBERS, STORES
from infrastructure.api.rpc import Servicer, idempotency, unary
from infrastructure.projections.guide_performance import COLUMNS as PERFORMANCE_COLUMNS
from infrastructure.projections.guide_performance import guide_performance, store_guides
from protos.loyalty.v1 import stores_pb2 as pb
from protos.loyalty.v1 import stores_pb2_grpc

READ = (Role.OPERATOR, Role.AUDITOR, Role.MINIPROGRAM)
LIST_DEFAULT, LIST_MAX = 20, 100


def store_spec(msg: pb.CloudStoreSpec) -> StoreSpec:
    if not msg.code or not msg.display_name:
        raise InvalidArgument(
            "store code and display_name are required", reason="FIELD_REQUIRED", field="cloud_store.spec"
        )
    if not msg.modes:
        raise InvalidArgument("a store offers at least one fulfilment mode", reason="FIELD_REQUIRED", field="modes")
    return StoreSpec(
        code=msg.code,
        name=msg.display_name,
        dealer_id=names.dealer_id(msg.dealer, field="dealer"),
        location=convert.location(msg.location, field="location"),
        service_radius_m=convert.non_negative(msg.service_radius_m, "service_radius_m"),
        modes=tuple(convert.mode(m, field="modes") for m in msg.modes),
        hours=convert.hours(msg.hours, msg.time_zone),
        daily_capacity=convert.non_negative(msg.daily_capacity, "daily_capacity"),
        online_orders_enabled=(
            msg.online_orders_enabled if msg.HasField("online_orders_enabled") else StoreSpec.online_orders_enabled
        ),  # unset: the application's default
    )


UPDATABLE = {"hours", "time_zone", "daily_capacity", "service_radius_m", "modes", "online_orders_enabled"}


def store_changes(request: pb.UpdateCloudStoreRequest) -> StoreChanges:
    """AIP-134: paths relative to CloudStore (spec.hours, ...); "*" alone replaces every updatable field."""
    given = list(request.update_mask.paths)
    if not given:
        raise InvalidArgument("update_mask names no field", reason="FIELD_REQUIRED", field="update_mask")
    if "*" in given:
        if len(given) > 1:
            raise InvalidArgument('update_mask "*" stands alone', reason="FIELD_NOT_UPDATABLE", field="update_mask")
        paths = set(UPDATABLE)
    else:
        paths = {p.removeprefix("spec.") for p in given if p.startswith("spec.")}
        if unknown := {p for p in given if not p.startswith("spec.") or p.removeprefix("spec.") not in UPDATABLE}:
            raise InvalidArgument(
                f"cannot update {', '.join(sorted(unknown))}", reason="FIELD_NOT_UPDATABLE", field="update_mask"
            )
    c = request.cloud_store.spec
    area = None
    if paths & {"service_radius_m", "modes"}:
        if not paths >= {"service_radius_m", "modes"} or not c.modes:
            raise InvalidArgument(
                "the service area changes as service_radius_m and modes together",
                reason="FIELD_REQUIRED",
                field="modes",
            )
        area = (
            convert.non_negative(c.service_radius_m, "service_radius_m"),
            tuple(convert.mode(m, field="modes") for m in c.modes),
        )
    return StoreChanges(
        hours=convert.hours(c.hours, c.time_zone) if paths & {"hours", "time_zone"} else None,
        daily_capacity=convert.non_negative(c.daily_capacity, "daily_capacity") if "daily_capacity" in paths else None,
        service_area=area,
        online_orders_enabled=c.online_orders_enabled if "online_orders_enabled" in paths else None,
    )


def store_message(store: CloudStore) -> pb.CloudStore:
    return pb.CloudStore(
        name=names.name(STORES, store.id),
        brand=store.brand,
        spec=pb.CloudStoreSpec(
            code=store.code,
            display_name=store.name,
            dealer=f"dealers/{store.dealer_id}",
            location=convert.location_message(store.location),
            service_radius_m=store.service_radius_m,
            modes=[convert.mode_value(m) for m in store.modes],
            hours=convert.hours_messages(store.hours),
            time_zone=store.hours.time_zone,
            daily_capacity=store.daily_capacity,
            online_orders_enabled=store.online_orders_enabled,
        ),
        status=f"STORE_STATUS_{store.status.name}",
        revenue_fen=store.revenue_fen(),
        refunded_fen=store.refunds_fen(),
        version=store.version,
    )


def guide_message(guide: Guide) -> pb.Guide:
    return pb.Guide(
        name=names.name(GUIDES, guide.id),
        store=names.name(STORES, guide.store_id),
        brand=guide.brand,
        wecom_userid=guide.wecom_userid or "",  # empty once erased (PIPL)
        display_name=guide.name or "",
        status=pb.GUIDE_STATUS_EMPLOYED if guide.employed else pb.GUIDE_STATUS_LEFT,
        customer_count=len(guide.customers),
        pending_handovers=len(guide.incoming),
        commission_frozen_fen=guide.frozen_fen,
        commission_settled_fen=guide.settled_fen,
        commission_debt_fen=guide.debt_fen,
        version=guide.version,
    )


def _call(request, method: str, principal, build) -> Call:
    return Call(idempotency(request, method, principal), lambda result: build(result).SerializeToString())


class StoreServicer(Servicer, stores_pb2_grpc.StoreServiceServicer):
    def __init__(self, auth, stores: StoreService, directory=None) -> None:
        super().__init__(auth)
        self.stores = stores
        self.directory = directory  # the live store directory (ListCloudStores)

    def _store(self, request: Any) -> UUID:
        return names.parse(request.name, STORES, field="name")

    @unary(Role.OPERATOR)
    async def OpenCloudStore(self, request, principal):
        call = _call(request, "OpenCloudStore", principal, store_message)
        data = await self.stores.open(
            brand_scope(principal, request.brand), store_spec(request.cloud_store.spec), call=call
        )
        return data

    @unary(Role.OPERATOR)
    async def ImportCloudStores(self, request, principal):
        call = _call(
            request,
            "ImportCloudStores",
            principal,
            lambda stores: pb.ImportCloudStoresResponse(cloud_stores=[store_message(s) for s in stores]),
        )
        specs = [store_spec(s.spec) for s in request.cloud_stores]
        return await self.stores.import_many(brand_scope(principal, request.brand), specs, call=call)

    @unary(Role.OPERATOR)
    async def RelocateCloudStore(self, request, principal):
        call = _call(request, "RelocateCloudStore", principal, store_message)
        data = await self.stores.relocate(
            self._store(request), convert.location(request.location, field="location"), call=call, brand=principal.brand
        )
        return data

    @unary(Role.OPERATOR)
    async def UpdateCloudStore(self, request, principal):
        call = _call(request, "UpdateCloudStore", principal, store_message)
        return await self.stores.update(
            names.parse(request.cloud_store.name, STORES, field="cloud_store.name"),
            store_changes(request),
            call=call,
            brand=principal.brand,
        )

    @unary(Role.OPERATOR)
    async def SuspendCloudStore(self, request, principal):
        call = _call(request, "SuspendCloudStore", principal, store_message)
        return await self.stores.suspend(
            self._store(request), request.reason or "SUSPENDED", call=call, brand=principal.brand
        )

    @unary(Role.OPERATOR)
    async def ReopenCloudStore(self, request, principal):
        call = _call(request, "ReopenCloudStore", principal, store_message)
        return await self.stores.reopen(self._store(request), call=call, brand=principal.brand)

    @unary(Role.OPERATOR)
    async def CloseCloudStore(self, request, principal):
        call = _call(request, "CloseCloudStore", principal, store_message)
        return await self.stores.close(self._store(request), call=call, brand=principal.brand)

    @unary(Role.OPERATOR)
    async def TransferCloudStore(self, request, principal):
        call = _call(request, "TransferCloudStore", principal, store_message)
        effective = convert.from_timestamp(request.effective_time) if request.HasField("effective_time") else None
        data = await self.stores.transfer(
            self._store(request),
            names.dealer_id(request.to_dealer, field="to_dealer"),
            effective,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*READ)
    async def GetCloudStore(self, request, principal):
        return store_message(
            await self.stores.get(names.parse(request.name, STORES, field="name"), brand=principal.brand)
        )

    @unary(*READ)
    async def ListCloudStores(self, request, principal):
        brand = brand_scope(principal, request.brand)
        size = pages.page_size(request.page_size, default=LIST_DEFAULT, maximum=LIST_MAX)
        dealer = names.dealer_id(request.dealer, required=False)
        if request.status not in pb.StoreStatus.values():
            raise InvalidArgument("unknown status", reason="INVALID_ENUM", field="status")
        status = (
            None
            if request.status == pb.STORE_STATUS_UNSPECIFIED
            else StoreStatus[pb.StoreStatus.Name(request.status).removeprefix("STORE_STATUS_")]
        )
        near = convert.location(request.near, field="near") if request.HasField("near") else None
        if request.within_m < 0 or (request.within_m and near is None):
            raise InvalidArgument(
                "within_m is a non-negative distance from near", reason="OUT_OF_RANGE", field="within_m"
            )
        scope = (brand, dealer, request.status, request.near.SerializeToString().hex(), request.within_m)
        offset = pages.decode(request.page_token, "ListCloudStores", scope)
        await self.directory.catch_up()  # read your own writes: stores opened a moment ago are listed
        chosen = [
            s
            for s in self.directory.replicas.values()
            if s.brand == brand and (not dealer or s.dealer_id == dealer) and (status is None or s.status is status)
        ]
        distances: dict[UUID, float] = {}
        if near is None:
            ranked = sorted(chosen, key=lambda s: (s.code, str(s.id)))
        else:
            here = to_wgs84(near)
            distances = {s.id: distance_m(here, s.location) for s in chosen}
            ranked = sorted(chosen, key=lambda s: (distances[s.id], str(s.id)))
            if request.within_m:
                ranked = [s for s in ranked if distances[s.id] <= request.within_m]
        page = ranked[offset : offset + size]
        return pb.ListCloudStoresResponse(
            cloud_stores=[store_message(s) for s in page],
            distances_m=[round(distances[s.id], 1) for s in page] if near is not None else [],
            next_page_token=(
                pages.encode("ListCloudStores", scope, offset + size) if offset + size < len(ranked) else ""
            ),
        )


class GuideServicer(Servicer, stores_pb2_grpc.GuideServiceServicer):
    def __init__(self, auth, guides: GuideService, pool=None) -> None:
        super().__init__(auth)
        self.guides = guides
        self.pool = pool  # the read models' database (guide performance)

    @unary(Role.OPERATOR)
    async def HireGuide(self, request, principal):
        call = _call(request, "HireGuide", principal, guide_message)
        brand = brand_scope(principal, request.brand)
        new = request.guide
        if not new.wecom_userid or not new.display_name:
            raise InvalidArgument(
                "guide.wecom_userid and guide.display_name are required", reason="FIELD_REQUIRED", field="guide"
            )
        data = await self.guides.hire(
            brand,
            names.parse(new.store, STORES, field="guide.store"),
            new.wecom_userid,
            new.display_name,
            call=call,
        )
        return data

    @unary(Role.OPERATOR)
    async def MoveGuide(self, request, principal):
        call = _call(request, "MoveGuide", principal, guide_message)
        data = await self.guides.move(
            names.parse(request.name, GUIDES, field="name"),
            names.parse(request.to_store, STORES, field="to_store"),
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)
    async def ReleaseGuide(self, request, principal):
        call = _call(request, "ReleaseGuide", principal, guide_message)
        data = await self.guides.release(
            names.parse(request.name, GUIDES, field="name"), call=call, brand=principal.brand
        )
        return data

    @unary(Role.OPERATOR)
    async def InheritCustomers(self, request, principal):
        def build(result) -> pb.InheritCustomersResponse:
            offered, refusals = result
            return pb.InheritCustomersResponse(
                offered=offered,
                refused=len(refusals),
                refusals=[f"{names.name(MEMBERS, m)}: {why}" for m, why in refusals],
            )

        call = _call(request, "InheritCustomers", principal, build)
        members = tuple(names.parse(m, MEMBERS, field="members") for m in request.members)
        data = await self.guides.inherit(
            names.parse(request.name, GUIDES, field="name"),
            names.parse(request.to_guide, GUIDES, field="to_guide"),
            members,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)  # the receiving guide's answer, relayed from WeCom by brand operations
    async def ConcludeHandover(self, request, principal):
        call = _call(request, "ConcludeHandover", principal, guide_message)
        data = await self.guides.conclude(
            names.parse(request.name, GUIDES, field="name"),
            names.parse(request.member, MEMBERS, field="member"),
            request.accept,
            request.reason,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)
    async def CompleteDueHandovers(self, request, principal):
        call = _call(request, "CompleteDueHandovers", principal, guide_message)
        return await self.guides.complete_due(
            names.parse(request.name, GUIDES, field="name"), call=call, brand=principal.brand
        )

    @unary(*READ)
    async def GetGuide(self, request, principal):
        return guide_message(
            await self.guides.get(names.parse(request.name, GUIDES, field="name"), brand=principal.brand)
        )

    @unary(Role.OPERATOR, Role.AUDITOR)
    async def GetGuidePerformance(self, request, principal):
        guide = await self.guides.get(names.parse(request.name, GUIDES, field="name"), brand=principal.brand)
        row = await guide_performance(self.pool, guide.id)
        return (
            performance_message(row, guide.name)
            if row is not None
            else pb.GuidePerformance(
                guide=names.name(GUIDES, guide.id),
                store=names.name(STORES, guide.store_id),
                display_name=guide.name or "",
                employed=guide.employed,
            )
        )  # hired a moment ago: the read model has not counted it yet

    @unary(Role.OPERATOR, Role.AUDITOR)
    async def GetStorePerformance(self, request, principal):
        store_id = names.parse(request.name, STORES, field="name")
        owned(await self.guides.repository.get(store_id, CloudStore), principal.brand)  # another brand's: NOT_FOUND
        # A guide's name is personal data: sealed in its events, never in the read model (infrastructure.privacy).
        guides = [
            performance_message(row, (await self.guides.get(row["guide_id"], brand=principal.brand)).name)
            for row in await store_guides(self.pool, store_id)
            if row["brand"] == principal.brand
        ]
        sums = {f: sum(getattr(g, f) for g in guides) for f in STORE_SUMS}
        return pb.StorePerformance(store=names.name(STORES, store_id), guides=guides, **sums)


STORE_SUMS = ("customers", "customers_added", "referrals", "sales_orders", "sales_fen", "refunded_fen")


def performance_message(row, display_name: str | None) -> pb.GuidePerformance:
    """``display_name`` from the guide itself: the read model's name column stays empty (personal data)."""
    return pb.GuidePerformance(
        guide=names.name(GUIDES, row["guide_id"]),
        store=names.name(STORES, row["store_id"]),
        display_name=display_name or "",  # None once erased
        employed=row["left_at"] is None,
        **{c: row[c] for c in PERFORMANCE_COLUMNS},
        update_time=convert.timestamp(row["updated_at"]),
    )
