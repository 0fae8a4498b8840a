"""Small request builders the API tests share."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from infrastructure.api.convert import timestamp
from protos.loyalty.v1 import (
    common_pb2,
    drops_pb2,
    drops_pb2_grpc,
    members_pb2,
    orders_pb2,
    stock_pb2,
    stock_pb2_grpc,
    stores_pb2,
)

# Shanghai People's Square area, GCJ-02 as a mini-program reports it.
PEOPLES_SQUARE = (31.2304, 121.4737)


def gcj(lat: float, lng: float) -> common_pb2.Location:
    return common_pb2.Location(latitude=lat, longitude=lng, system=common_pb2.COORDINATE_SYSTEM_GCJ02)


def store_spec(code: str, lat: float, lng: float, dealer: str = "D1", **kw) -> stores_pb2.CloudStoreSpec:
    return stores_pb2.CloudStoreSpec(
        code=code,
        display_name=f"Store {code}",
        dealer=f"dealers/{dealer}",
        location=gcj(lat, lng),
        service_radius_m=kw.pop("radius", 5000),
        modes=kw.pop("modes", [common_pb2.FULFILMENT_MODE_DELIVERY, common_pb2.FULFILMENT_MODE_PICKUP]),
        online_orders_enabled=kw.pop("online", True),
        **kw,
    )


def draft(
    member: str, lat: float, lng: float, *, fen: int = 12_800, mode=common_pb2.FULFILMENT_MODE_DELIVERY, entry=None
):
    return orders_pb2.OrderDraft(
        member=member,
        lines=[orders_pb2.OrderLine(sku="SKU-1", quantity=1, unit_price_fen=fen)],
        fulfilment=mode,
        customer_location=gcj(lat, lng),
        entry=entry,
    )


async def register_member(api, brand: str = "acme") -> members_pb2.Member:
    """A fresh member of ``brand`` registered through the mini-program role, read models settled."""
    from tests.api.conftest import auth

    member = await api.members.RegisterMember(
        members_pb2.RegisterMemberRequest(
            request_id=api.rid(), brand=brand, member=members_pb2.Member(openid=f"o-{api.rid()}")
        ),
        metadata=auth("miniprogram"),
    )
    await api.settled()
    return member


# Closed sets are enums on the wire; these read them back as the short names the domain uses.
def rejected(candidate) -> str:
    """A candidate's rejections, e.g. "STORE_SUSPENDED" or "STORE_CLOSED,MODE_NOT_SUPPORTED" ("" if eligible)."""
    return ",".join(
        orders_pb2.RejectionReason.Name(r).removeprefix("REJECTION_REASON_") for r in candidate.rejected_because
    )


def source(step) -> str:
    from protos.loyalty.v1 import programmes_pb2

    return programmes_pb2.AttributionSource.Name(step.source).removeprefix("ATTRIBUTION_SOURCE_")


def outcome(step) -> str:
    return orders_pb2.StepOutcome.Name(step.outcome).removeprefix("STEP_OUTCOME_")


def unallocated(routing) -> str:
    return orders_pb2.UnallocatedReason.Name(routing.unallocated_reason).removeprefix("UNALLOCATED_REASON_")


def stores(specs) -> list[stores_pb2.CloudStore]:
    """ImportCloudStores' cloud_stores from specs."""
    return [stores_pb2.CloudStore(spec=spec) for spec in specs]


def described(step) -> tuple[str, str]:
    """An attribution step as (source, "CHOSEN") or (source, "SKIPPED: REASON (REJECTION,...)")."""
    reason = orders_pb2.StepReason.Name(step.reason).removeprefix("STEP_REASON_")
    verdict = outcome(step) if outcome(step) == "CHOSEN" else f"{outcome(step)}: {reason}"
    if step.rejections:
        verdict += (
            " ("
            + ",".join(orders_pb2.RejectionReason.Name(r).removeprefix("REJECTION_REASON_") for r in step.rejections)
            + ")"
        )
    return source(step), verdict


def entry_name(drop: str, member: str) -> str:
    """A member's drop entry: drops/{uuid}/entries/{member uuid}."""
    return f"{drop}/entries/{member.removeprefix('members/')}"


async def stocked_store_with_an_unpaid_and_a_paid_order(api, code: str, customer: tuple[float, float]):
    """A store holding 3 units of SKU-1, and a fresh member's two orders of one unit there: the first left
    unpaid, the second paid; read models settled. Returns the store and the unpaid order."""
    from tests.api.conftest import auth

    op, mp = auth("operator"), auth("miniprogram")
    store = await api.stores.OpenCloudStore(
        stores_pb2.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=stores_pb2.CloudStore(spec=store_spec(code, 31.2310, 121.4740)),
        ),
        metadata=op,
    )
    await stock_pb2_grpc.StockServiceStub(api.channel).ImportStock(
        stock_pb2.ImportStockRequest(
            request_id=api.rid(), batch_id="dn-1", lines=[stock_pb2.StockLine(store=store.name, sku="SKU-1", count=3)]
        ),
        metadata=op,
    )
    member = await register_member(api)
    orders = [
        await api.orders.PlaceOrder(
            orders_pb2.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *customer)), metadata=mp
        )
        for _ in range(2)
    ]
    unpaid, paid = orders
    await api.orders.PayOrder(
        orders_pb2.PayOrderRequest(request_id=api.rid(), name=paid.name, paid_fen=paid.total_fen), metadata=mp
    )
    await api.settled()
    return store, unpaid


async def drawn_drop(
    api, sku: str, price_fen: int, *, store: str = "", entrants: int = 3
) -> tuple[drops_pb2.Drop, list[str]]:
    """A drop of one unit (from ``store``'s pool, or online when empty), registration open from START for an
    hour, that ``entrants`` new members entered (at ``store``), drawn a minute after it closed. Returns the drawn
    drop and the entrants' names in draw order, recomputed from the published seed as an auditor would."""
    from tests.api.conftest import START, auth

    drops = drops_pb2_grpc.DropServiceStub(api.channel)
    drop = await drops.CreateDrop(
        drops_pb2.CreateDropRequest(
            request_id=api.rid(),
            drop=drops_pb2.Drop(
                display_name=sku,
                sku=sku,
                pools=[drops_pb2.DropPool(store=store, units=1)],
                registration_open_time=timestamp(START),
                registration_close_time=timestamp(START + timedelta(hours=1)),
                purchase_window_minutes=30,
                per_member_limit=1,
                price_fen=price_fen,
            ),
        ),
        metadata=auth("operator"),
    )
    members = [(await register_member(api)).name for _ in range(entrants)]
    for member in members:
        await drops.RegisterForDrop(
            drops_pb2.RegisterForDropRequest(request_id=api.rid(), parent=drop.name, member=member, store=store),
            metadata=auth("miniprogram"),
        )
    api.clock.advance(hours=1, minutes=1)
    drawn = await drops.DrawDrop(
        drops_pb2.DrawDropRequest(request_id=api.rid(), name=drop.name), metadata=auth("operator")
    )
    return drawn, draw_order(drawn.seed, members)


def draw_order(seed: str, members: list[str]) -> list[str]:
    """Members (``members/{uuid}``) in a drop's draw order: by SHA-256 of the seed, the member id and ticket 0."""
    key = bytes.fromhex(seed)
    return sorted(
        members, key=lambda m: hashlib.sha256(key + bytes.fromhex(m.split("/")[1].replace("-", "")) + bytes(4)).digest()
    )
