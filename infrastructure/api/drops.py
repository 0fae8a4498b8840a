"""DropService: limited drops with a verifiable draw."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.auth import Role, brand_scope
from application.commands import Call
from application.drops import Claimed, ClaimRequest, DropService, DropSpec
from domain.drop import Drop, DropEntry, DropPool, EarlyAccess, Offer
from domain.errors import InvalidArgument
from domain.tiers import Tier
from infrastructure.api import convert, names
from infrastructure.api.names import MEMBERS, ORDERS, STORES
from infrastructure.api.rpc import Servicer, idempotency, unary
from protos.loyalty.v1 import drops_pb2 as pb
from protos.loyalty.v1 import drops_pb2_grpc

DROPS = "drops"
WRITE = (Role.MINIPROGRAM, Role.OPERATOR)
READ = (Role.MINIPROGRAM, Role.OPERATOR, Role.AUDITOR)
RESULTS = (Role.OPERATOR, Role.AUDITOR)


def _tier(value: int) -> Tier:
    if value not in pb.DropTier.values() or value == pb.DROP_TIER_UNSPECIFIED:
        raise InvalidArgument("unknown tier", reason="INVALID_ENUM", field="early_access.tier")
    return Tier[pb.DropTier.Name(value).removeprefix("DROP_TIER_")]


def _pool(msg: pb.DropPool) -> DropPool:
    store = names.parse(msg.store, STORES, field="pools.store", required=False)
    return DropPool(store, msg.units)


def drop_spec(request: pb.CreateDropRequest) -> DropSpec:
    if not request.HasField("drop"):
        raise InvalidArgument("drop is required", reason="FIELD_REQUIRED", field="drop")
    drop = request.drop
    for field in ("registration_open_time", "registration_close_time"):
        if not drop.HasField(field):
            raise InvalidArgument(f"drop.{field} is required", reason="FIELD_REQUIRED", field=f"drop.{field}")
    return DropSpec(
        name=drop.display_name,
        sku=drop.sku,
        pools=tuple(_pool(p) for p in drop.pools),
        registration_opens_at=convert.from_timestamp(drop.registration_open_time, field="drop.registration_open_time"),
        registration_closes_at=convert.from_timestamp(
            drop.registration_close_time, field="drop.registration_close_time"
        ),
        purchase_window_minutes=drop.purchase_window_minutes,
        per_member_limit=drop.per_member_limit,
        early_access=tuple(EarlyAccess(_tier(e.tier), e.minutes) for e in drop.early_access),
        tickets_per_invite=drop.tickets_per_invite,
        invite_ticket_cap=drop.invite_ticket_cap,
        price_fen=drop.price_fen,
    )


def claim_request(request: pb.ClaimDropOfferRequest) -> ClaimRequest:
    """The claim's order details, as an OrderDraft gives them (the use case checks them against the pool)."""
    return ClaimRequest(
        mode=convert.mode(request.fulfilment) if request.fulfilment else None,
        customer=(
            convert.location(request.customer_location, field="customer_location")
            if request.HasField("customer_location")
            else None
        ),
        pickup_store_id=names.parse(request.pickup_store, STORES, field="pickup_store", required=False),
    )


def parse_entry_name(name: str, field: str = "name") -> tuple[UUID, UUID]:
    """drops/{uuid}/entries/{member uuid} -> (drop id, member id)."""
    drop, sep, member = name.rpartition("/entries/")
    if not sep or not member:
        raise InvalidArgument(
            f"{field} must look like drops/{{uuid}}/entries/{{member uuid}}",
            reason="INVALID_RESOURCE_NAME",
            field=field,
        )
    return names.parse(drop, DROPS, field=field), names.parse(f"{MEMBERS}/{member}", MEMBERS, field=field)


def _pool_name(store_id) -> str:
    return names.name(STORES, store_id) if store_id else ""


def drop_message(drop: Drop) -> pb.Drop:
    return pb.Drop(
        name=names.name(DROPS, drop.id),
        brand=drop.brand,
        display_name=drop.name,
        sku=drop.sku,
        pools=[pb.DropPool(store=_pool_name(p.store_id), units=p.units) for p in drop.pools],
        registration_open_time=convert.timestamp(drop.registration_opens_at),
        registration_close_time=convert.timestamp(drop.registration_closes_at),
        early_access=[pb.EarlyAccess(tier=f"DROP_TIER_{e.tier.name}", minutes=e.minutes) for e in drop.early_access],
        purchase_window_minutes=drop.purchase_window_minutes,
        per_member_limit=drop.per_member_limit,
        tickets_per_invite=drop.tickets_per_invite,
        invite_ticket_cap=drop.invite_ticket_cap,
        commitment=drop.commitment,
        seed=drop.seed or "",
        entries_digest=drop.digest or "",
        entry_count=drop.entry_count,
        offer_count=len(drop.offers),
        create_time=convert.timestamp(drop.created_at),
        version=drop.version,
        price_fen=drop.price_fen,
    )


def _result(offer: Offer | None, drawn: bool) -> pb.DropResult:
    if not drawn:
        return pb.DROP_RESULT_PENDING
    if offer is None:
        return pb.DROP_RESULT_NOT_WON
    if offer.claimed:
        return pb.DROP_RESULT_CLAIMED
    if offer.lapsed:
        return pb.DROP_RESULT_LAPSED
    return pb.DROP_RESULT_WON


def entry_message(entry: DropEntry, drop: Drop) -> pb.DropEntry:
    offer = drop.offers.get(entry.member_id)
    msg = pb.DropEntry(
        name=f"{names.name(DROPS, drop.id)}/entries/{entry.member_id}",
        drop=names.name(DROPS, drop.id),
        member=names.name(MEMBERS, entry.member_id),
        store=_pool_name(entry.store_id),
        tickets=entry.tickets,
        bonus_tickets=entry.bonus,
        invitee_count=len(entry.invitees),
        tier=f"DROP_TIER_{entry.tier.name}",
        register_time=convert.timestamp(entry.registered_at),
        result=_result(offer, drop.drawn),
        offered_units=offer.units if offer else 0,
        order=names.name(ORDERS, offer.order_id) if offer is not None and offer.order_id is not None else "",
    )
    if offer is not None and not offer.claimed and not offer.lapsed:
        msg.offer_expire_time.CopyFrom(convert.timestamp(offer.expires_at))
    return msg


def offer_message(offer: Offer) -> pb.DropOffer:
    held_by = offer.holding_order  # the live claim's order, as the winner's entry names it (DropEntry.order)
    return pb.DropOffer(
        member=names.name(MEMBERS, offer.member_id),
        store=_pool_name(offer.store_id),
        units=offer.units,
        expire_time=convert.timestamp(offer.expires_at),
        result=_result(offer, True),
        order=names.name(ORDERS, held_by) if held_by is not None else "",
    )


class DropServicer(Servicer, drops_pb2_grpc.DropServiceServicer):
    def __init__(self, auth, drops: DropService) -> None:
        super().__init__(auth)
        self.drops = drops

    @staticmethod
    def _drop(request: Any, field: str = "name") -> UUID:
        return names.parse(getattr(request, field), DROPS, field=field)

    def _call(self, request, method, principal) -> Call:
        return Call(idempotency(request, method, principal), lambda d: drop_message(d).SerializeToString())

    @unary(Role.OPERATOR)
    async def CreateDrop(self, request, principal):
        brand = brand_scope(principal, request.brand)
        spec = drop_spec(request)
        return await self.drops.create(brand, spec, call=self._call(request, "CreateDrop", principal))

    @unary(*READ)
    async def GetDrop(self, request, principal):
        drop_id = names.parse(request.name, DROPS, field="name")
        return drop_message(await self.drops.get(drop_id, brand=principal.brand))

    @unary(*WRITE)
    async def RegisterForDrop(self, request, principal):
        drop_id = self._drop(request, "parent")
        member = names.parse(request.member, MEMBERS, field="member")
        store = names.parse(request.store, STORES, field="store", required=False)
        invited_by = names.parse(request.invited_by, MEMBERS, field="invited_by", required=False)
        drop = await self.drops.get(drop_id, brand=principal.brand)
        call = Call(
            idempotency(request, "RegisterForDrop", principal),
            lambda entry: entry_message(entry, drop).SerializeToString(),
        )
        return await self.drops.register(
            drop.id, member, store_id=store, invited_by=invited_by, brand=principal.brand, call=call
        )

    @unary(*READ)
    async def GetDropEntry(self, request, principal):
        drop_id, member = parse_entry_name(request.name)
        drop = await self.drops.get(drop_id, brand=principal.brand)
        return entry_message(await self.drops.entry(drop.id, member, brand=principal.brand), drop)

    @unary(Role.OPERATOR)
    async def DrawDrop(self, request, principal):
        return await self.drops.draw(
            self._drop(request), brand=principal.brand, call=self._call(request, "DrawDrop", principal)
        )

    @unary(*WRITE)
    async def ClaimDropOffer(self, request, principal):
        drop_id, member = parse_entry_name(request.name)
        details = claim_request(request)

        def encode(claimed: Claimed) -> bytes:
            return entry_message(claimed.entry, claimed.drop).SerializeToString()

        call = Call(idempotency(request, "ClaimDropOffer", principal), encode)
        return pb.DropEntry.FromString(
            await self.drops.claim(drop_id, member, details, brand=principal.brand, call=call)
        )

    @unary(Role.OPERATOR)
    async def PassOnUnclaimedOffers(self, request, principal):
        return await self.drops.pass_on(
            self._drop(request), brand=principal.brand, call=self._call(request, "PassOnUnclaimedOffers", principal)
        )

    @unary(*RESULTS)
    async def ListDropResults(self, request, principal):
        drop = await self.drops.get(self._drop(request, "parent"), brand=principal.brand)
        return pb.ListDropResultsResponse(offers=[offer_message(o) for o in drop.offers.values()])
