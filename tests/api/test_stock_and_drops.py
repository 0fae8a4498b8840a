"""Stock and drops end to end through a real gRPC channel: reservations with PlaceOrder, dealer scope, a drop."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from uuid import UUID

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from infrastructure.api.convert import timestamp
from protos.loyalty.v1 import common_pb2 as c
from protos.loyalty.v1 import drops_pb2 as d
from protos.loyalty.v1 import drops_pb2_grpc, programmes_pb2_grpc, stock_pb2_grpc
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import stock_pb2 as k
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import (
    draft,
    drawn_drop,
    entry_name,
    gcj,
    register_member,
    stocked_store_with_an_unpaid_and_a_paid_order,
    store_spec,
)
from tests.api.conftest import START, auth

OP, MP, AU = auth("operator"), auth("miniprogram"), auth("auditor")
CUSTOMER = (31.2305, 121.4738)


def reason(e: grpc.aio.AioRpcError) -> str:
    # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
    for detail in rpc_status.from_call(e).details:  # type: ignore[arg-type]
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


async def test_place_order_reserves_stock_and_the_last_unit_is_refused_with_a_clear_reason(api):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-K", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    imported = await stock.ImportStock(
        k.ImportStockRequest(
            request_id=api.rid(), batch_id="dn-1", lines=[k.StockLine(store=store.name, sku="SKU-1", count=1)]
        ),
        metadata=OP,
    )
    assert imported.levels[0].available_online_units == 1
    member = await register_member(api)
    await api.settled()

    order = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *CUSTOMER)), metadata=MP
    )
    level = await stock.GetStockLevel(k.GetStockLevelRequest(name=f"{store.name}/stock/SKU-1"), metadata=OP)
    assert (order.routing.store, level.reserved_units, level.available_online_units) == (store.name, 1, 0)
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await api.orders.PlaceOrder(
            o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *CUSTOMER)), metadata=MP
        )
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "OUT_OF_STOCK")

    await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=order.name), metadata=MP)
    level = await stock.GetStockLevel(k.GetStockLevelRequest(name=f"{store.name}/stock/SKU-1"), metadata=OP)
    assert (level.reserved_units, level.available_online_units) == (0, 1)


async def test_a_dealer_keeps_and_reads_its_own_stores_stock_only(api):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    own = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-D1", 31.2310, 121.4740, dealer="D1")),
        ),
        metadata=OP,
    )
    other = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-D2", 31.2320, 121.4740, dealer="D2")),
        ),
        metadata=OP,
    )
    await stock.ImportStock(
        k.ImportStockRequest(
            request_id=api.rid(),
            batch_id="b",
            lines=[k.StockLine(store=own.name, sku="X", count=10), k.StockLine(store=other.name, sku="X", count=10)],
        ),
        metadata=OP,
    )
    dealer = auth("dealer:D1")

    protected = await stock.SetStockProtection(
        k.SetStockProtectionRequest(
            request_id=api.rid(), store=own.name, skus=["X"], floor_units=2, share_basis_points=3000
        ),
        metadata=dealer,
    )
    assert (protected.levels[0].protected_units, protected.levels[0].available_online_units) == (3, 7)
    sold = await stock.RecordInStoreSale(
        k.RecordInStoreSaleRequest(request_id=api.rid(), store=own.name, sku="X", quantity=4), metadata=dealer
    )
    assert (sold.on_hand_units, sold.sold_in_store_units) == (6, 4)
    listed = await stock.ListStockLevels(k.ListStockLevelsRequest(parent=own.name), metadata=dealer)
    assert [lv.sku for lv in listed.levels] == ["X"] and listed.levels[0].on_hand_units == 6
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stock.GetStockLevel(k.GetStockLevelRequest(name=f"{other.name}/stock/X"), metadata=dealer)
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.PERMISSION_DENIED, "OTHER_DEALER")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stock.ImportStock(
            k.ImportStockRequest(
                request_id=api.rid(), batch_id="c", lines=[k.StockLine(store=own.name, sku="X", count=1, delta=1)]
            ),
            metadata=OP,
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_drop_from_creation_to_results_is_verifiable_from_what_the_api_shows(api):
    drops = drops_pb2_grpc.DropServiceStub(api.channel)
    drop = await drops.CreateDrop(
        d.CreateDropRequest(
            request_id=api.rid(),
            drop=d.Drop(
                display_name="Sneaker",
                sku="SNK",
                pools=[d.DropPool(units=1)],
                registration_open_time=timestamp(START),
                registration_close_time=timestamp(START + timedelta(hours=1)),
                early_access=[d.EarlyAccess(tier=d.DROP_TIER_CORE, minutes=30)],
                purchase_window_minutes=30,
                per_member_limit=1,
                price_fen=59_900,
                tickets_per_invite=2,
                invite_ticket_cap=2,
            ),
        ),
        metadata=OP,
    )
    assert drop.commitment and not drop.seed
    members = [await register_member(api) for _ in range(3)]
    entries = []
    for m in members:
        request = d.RegisterForDropRequest(request_id=api.rid(), parent=drop.name, member=m.name)
        entries.append(await drops.RegisterForDrop(request, metadata=MP))
        again = await drops.RegisterForDrop(request, metadata=MP)  # a retry: the same answer
        assert again == entries[-1]
    assert all(e.result == d.DROP_RESULT_PENDING and e.tickets == 1 for e in entries)

    api.clock.advance(hours=1, minutes=1)
    drawn = await drops.DrawDrop(d.DrawDropRequest(request_id=api.rid(), name=drop.name), metadata=OP)

    seed = bytes.fromhex(drawn.seed)
    assert hashlib.sha256(seed).hexdigest() == drop.commitment
    best = {
        m.name: hashlib.sha256(seed + bytes.fromhex(m.name.split("/")[1].replace("-", "")) + bytes(4)).digest()
        for m in members
    }
    winner = min(best, key=best.get)
    results = await drops.ListDropResults(d.ListDropResultsRequest(parent=drop.name), metadata=AU)
    assert [(r.member, r.units, r.result) for r in results.offers] == [(winner, 1, d.DROP_RESULT_WON)]
    mine = await drops.GetDropEntry(d.GetDropEntryRequest(name=entry_name(drop.name, winner)), metadata=MP)
    assert mine.result == d.DROP_RESULT_WON and mine.HasField("offer_expire_time")
    assert drop.price_fen == 59_900
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-D", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    await api.settled()  # routing knows the store
    claim = d.ClaimDropOfferRequest(
        request_id=api.rid(),
        name=entry_name(drop.name, winner),
        fulfilment=c.FULFILMENT_MODE_DELIVERY,
        customer_location=gcj(*CUSTOMER),
    )
    claimed = await drops.ClaimDropOffer(claim, metadata=MP)
    assert claimed.result == d.DROP_RESULT_CLAIMED and claimed.order.startswith("orders/")
    assert await drops.ClaimDropOffer(claim, metadata=MP) == claimed  # a retry: the same answer, the same order
    again = d.ClaimDropOfferRequest()
    again.CopyFrom(claim)
    again.request_id = api.rid()
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await drops.ClaimDropOffer(again, metadata=MP)  # another request: the offer is claimed already
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "OFFER_CLAIMED")
    assert claimed.order.removeprefix("orders/") in e.value.details()

    order = await api.orders.GetOrder(o.GetOrderRequest(name=claimed.order), metadata=MP)
    assert order.state == o.ORDER_STATE_ALLOCATED and order.routing.store == store.name  # routed, like PlaceOrder
    assert order.total_fen == 59_900  # one unit at the drop's price
    paid = await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=claimed.order, paid_fen=59_900), metadata=MP
    )
    assert paid.state == o.ORDER_STATE_PAID
    mine = await drops.GetDropEntry(d.GetDropEntryRequest(name=entry_name(drop.name, winner)), metadata=MP)
    assert (mine.result, mine.order) == (d.DROP_RESULT_CLAIMED, claimed.order)


async def test_a_store_drops_claim_is_pinned_there_and_its_cancelled_order_passes_the_unit_on(api):
    drops = drops_pb2_grpc.DropServiceStub(api.channel)
    near = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-N", 31.2306, 121.4739))
        ),
        metadata=OP,
    )
    pool = await api.stores.OpenCloudStore(  # farther from the winner, beyond its radius: the pool's store all the same
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-P", 31.2900, 121.4739, dealer="D2", radius=1000)),
        ),
        metadata=OP,
    )
    drop, (first, second, _) = await drawn_drop(api, "SNK-S", 9_900, store=pool.name)

    def claim_by(member: str, **kw) -> d.ClaimDropOfferRequest:
        return d.ClaimDropOfferRequest(request_id=api.rid(), name=entry_name(drop.name, member), **kw)

    with pytest.raises(grpc.aio.AioRpcError) as e:
        await drops.ClaimDropOffer(claim_by(first, pickup_store=near.name), metadata=MP)
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "POOL_STORE_MISMATCH")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await drops.ClaimDropOffer(claim_by(first, fulfilment=c.FULFILMENT_MODE_DELIVERY), metadata=MP)
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "DROP_POOL_PICKUP_ONLY")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await drops.ClaimDropOffer(claim_by(second), metadata=MP)  # not (yet) a winner
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_OFFER")

    claimed = await drops.ClaimDropOffer(
        claim_by(first, pickup_store=pool.name, customer_location=gcj(*CUSTOMER)), metadata=MP
    )
    order = await api.orders.GetOrder(o.GetOrderRequest(name=claimed.order), metadata=MP)
    assert order.state == o.ORDER_STATE_ALLOCATED and order.routing.store == pool.name  # pinned, not the nearest
    assert order.fulfilment == c.FULFILMENT_MODE_PICKUP and order.total_fen == 9_900

    await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=claimed.order), metadata=MP)
    lapsed = await drops.GetDropEntry(d.GetDropEntryRequest(name=entry_name(drop.name, first)), metadata=MP)
    assert (lapsed.result, lapsed.order) == (d.DROP_RESULT_LAPSED, claimed.order)
    await api.settled()
    assert await api.running.scheduler.pass_on_offers() == 1  # the scheduler sees the returned unit
    offered = await drops.GetDropEntry(d.GetDropEntryRequest(name=entry_name(drop.name, second)), metadata=MP)
    assert offered.result == d.DROP_RESULT_WON and offered.offered_units == 1
    results = await drops.ListDropResults(d.ListDropResultsRequest(parent=drop.name), metadata=AU)
    assert sum(r.units for r in results.offers if r.result != d.DROP_RESULT_LAPSED) == 1  # never more than the drop's

    claimed = await drops.ClaimDropOffer(claim_by(second), metadata=MP)  # the pool's store, at its own position
    paid = await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=claimed.order, paid_fen=9_900), metadata=MP
    )
    assert paid.state == o.ORDER_STATE_PAID and paid.routing.store == pool.name


async def test_the_payment_timeout_sweep_gives_an_unpaid_orders_units_back(api):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    store, unpaid = await stocked_store_with_an_unpaid_and_a_paid_order(api, "S-T", CUSTOMER)

    api.clock.advance(minutes=121)
    assert await api.running.scheduler.cancel_unpaid() == 1

    level = await stock.GetStockLevel(k.GetStockLevelRequest(name=f"{store.name}/stock/SKU-1"), metadata=OP)
    assert (level.on_hand_units, level.reserved_units, level.available_online_units) == (3, 1, 2)
    assert (
        await api.orders.GetOrder(o.GetOrderRequest(name=unpaid.name), metadata=MP)
    ).state == o.ORDER_STATE_CANCELLED


async def _publish_stock_fallback(api, fallback: p.StockFallback, reach: int) -> p.Programme:
    programmes = programmes_pb2_grpc.ProgrammeServiceStub(api.channel)
    await programmes.PublishProgramme(
        p.PublishProgrammeRequest(
            request_id=api.rid(),
            programme=p.Programme(
                brand="acme",
                version=2,
                attribution=p.AttributionRules(stock_fallback=fallback, stock_max_distance_m=reach),
            ),
        ),
        metadata=OP,
    )
    return await programmes.GetProgramme(p.GetProgrammeRequest(brand="acme"), metadata=AU)


async def test_the_programmes_stock_fallback_and_its_reach_are_published_and_read_back(api):
    programmes = programmes_pb2_grpc.ProgrammeServiceStub(api.channel)
    default = await programmes.GetProgramme(p.GetProgrammeRequest(brand="acme"), metadata=AU)
    assert (default.attribution.stock_fallback, default.attribution.stock_max_distance_m) == (
        p.STOCK_FALLBACK_UNALLOCATED,
        20_000,
    )
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await programmes.PublishProgramme(
            p.PublishProgrammeRequest(
                request_id=api.rid(),
                programme=p.Programme(brand="acme", version=2, attribution=p.AttributionRules(stock_fallback=99)),
            ),
            metadata=OP,
        )
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ENUM")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await programmes.PublishProgramme(
            p.PublishProgrammeRequest(
                request_id=api.rid(),
                programme=p.Programme(brand="acme", version=2, attribution=p.AttributionRules(stock_max_distance_m=-1)),
            ),
            metadata=OP,
        )
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_POLICY")

    published = await _publish_stock_fallback(api, p.STOCK_FALLBACK_NEAREST_IN_STOCK, 7_500)
    assert (published.version, published.attribution.stock_fallback, published.attribution.stock_max_distance_m) == (
        2,
        p.STOCK_FALLBACK_NEAREST_IN_STOCK,
        7_500,
    )


async def test_a_split_order_shows_its_parts_in_every_parts_routing_decision(api):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    near = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-A", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    farther = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-B", 31.2340, 121.4740, dealer="D2")),
        ),
        metadata=OP,
    )
    await stock.ImportStock(
        k.ImportStockRequest(
            request_id=api.rid(),
            batch_id="opening",
            lines=[k.StockLine(store=near.name, sku="A", count=1), k.StockLine(store=farther.name, sku="B", count=1)],
        ),
        metadata=OP,
    )
    await _publish_stock_fallback(api, p.STOCK_FALLBACK_SPLIT, 50_000)
    member = await register_member(api)
    await api.settled()

    order = o.OrderDraft(
        member=member.name,
        fulfilment=c.FULFILMENT_MODE_DELIVERY,
        customer_location=gcj(*CUSTOMER),
        lines=[
            o.OrderLine(sku="A", quantity=1, unit_price_fen=100),
            o.OrderLine(sku="B", quantity=2, unit_price_fen=200),
        ],
    )
    with pytest.raises(grpc.aio.AioRpcError) as e:  # B: one unit at the farther store, two wanted
        await api.orders.PlaceOrder(o.PlaceOrderRequest(request_id=api.rid(), order=order), metadata=MP)
    assert (e.value.code(), reason(e.value)) == (grpc.StatusCode.FAILED_PRECONDITION, "OUT_OF_STOCK")
    del order.lines[1]
    order.lines.append(o.OrderLine(sku="B", quantity=1, unit_price_fen=200))
    first = await api.orders.PlaceOrder(o.PlaceOrderRequest(request_id=api.rid(), order=order), metadata=MP)

    split = first.routing.split
    assert [(part.store, part.dealer, [(n.sku, n.quantity) for n in part.needs]) for part in split] == [
        (near.name, "dealers/D1", [("A", 1)]),
        (farther.name, "dealers/D2", [("B", 1)]),
    ]
    assert split[0].order == first.name and split[1].order.startswith("orders/") and split[1].order != first.name
    assert first.routing.allocated and first.routing.store == near.name and first.total_fen == 100
    assert first.routing.attribution[-1].reason == o.STEP_REASON_SPLIT_ACROSS_STORES
    assert all(
        o.REJECTION_REASON_OUT_OF_STOCK in cand.rejected_because
        for cand in first.routing.candidates
        if cand.rejected_because
    )
    second = await api.orders.GetOrder(o.GetOrderRequest(name=split[1].order), metadata=MP)
    assert (second.routing.store, second.routing.dealer, second.total_fen) == (farther.name, "dealers/D2", 200)
    assert list(second.routing.split) == list(split)


async def test_the_nearest_store_in_stock_is_chosen_when_the_programme_says_so(api):
    stock = stock_pb2_grpc.StockServiceStub(api.channel)
    await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-N", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    holder = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(),
            brand="acme",
            cloud_store=s.CloudStore(spec=store_spec("S-F", 31.2800, 121.4740, radius=1000)),
        ),
        metadata=OP,
    )
    await stock.ImportStock(
        k.ImportStockRequest(
            request_id=api.rid(), batch_id="opening", lines=[k.StockLine(store=holder.name, sku="SKU-1", count=2)]
        ),
        metadata=OP,
    )
    member = await register_member(api)
    await api.settled()
    simulated = await api.orders.SimulateOrder(o.SimulateOrderRequest(order=draft(member.name, *CUSTOMER)), metadata=MP)
    assert not simulated.allocated and simulated.unallocated_reason == o.UNALLOCATED_REASON_NO_ELIGIBLE_STORE

    await _publish_stock_fallback(api, p.STOCK_FALLBACK_NEAREST_IN_STOCK, 10_000)
    placed = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *CUSTOMER)), metadata=MP
    )
    assert placed.routing.store == holder.name and not placed.routing.split
    assert placed.routing.attribution[-1].reason == o.STEP_REASON_NEAREST_IN_STOCK


async def test_the_results_name_each_live_claims_order_and_no_longer_once_it_is_cancelled_or_timed_out(api):
    """ListDropResults names the order holding a claim's units, as the winner's entry does (DropEntry.order): after
    the claim, not once the order is cancelled or its payment times out, and then the next claimant's."""
    drops = drops_pb2_grpc.DropServiceStub(api.channel)
    await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-R", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    drop, (first, second, third) = await drawn_drop(api, "SNK-R", 19_900)
    await api.settled()  # routing knows the store

    async def results() -> dict[str, tuple[int, str]]:
        listed = await drops.ListDropResults(d.ListDropResultsRequest(parent=drop.name), metadata=AU)
        return {r.member: (r.result, r.order) for r in listed.offers}

    async def entry(member: str) -> d.DropEntry:
        return await drops.GetDropEntry(d.GetDropEntryRequest(name=entry_name(drop.name, member)), metadata=MP)

    async def claim(member: str) -> str:
        claimed = await drops.ClaimDropOffer(
            d.ClaimDropOfferRequest(
                request_id=api.rid(),
                name=entry_name(drop.name, member),
                fulfilment=c.FULFILMENT_MODE_DELIVERY,
                customer_location=gcj(*CUSTOMER),
            ),
            metadata=MP,
        )
        assert claimed.order.startswith("orders/")
        return claimed.order

    async def read_model() -> dict[str, str]:
        await api.settled()
        rows = await api.running.store.pool.fetch(
            "SELECT member_id, order_id FROM drop_offers WHERE drop_id = $1", UUID(drop.name.split("/")[1])
        )
        return {f"members/{r['member_id']}": f"orders/{r['order_id']}" if r["order_id"] else "" for r in rows}

    assert await results() == {first: (d.DROP_RESULT_WON, "")}  # won, not claimed: no order
    first_order = await claim(first)
    assert await results() == {first: (d.DROP_RESULT_CLAIMED, first_order)}
    assert (await entry(first)).order == first_order  # the same order the winner's entry names
    assert await read_model() == {first: first_order}

    await api.orders.CancelOrder(o.CancelOrderRequest(request_id=api.rid(), name=first_order), metadata=MP)
    assert await results() == {first: (d.DROP_RESULT_LAPSED, "")}  # the units left with the cancelled order
    assert await read_model() == {first: ""}
    await drops.PassOnUnclaimedOffers(d.PassOnUnclaimedOffersRequest(request_id=api.rid(), name=drop.name), metadata=OP)
    assert await results() == {first: (d.DROP_RESULT_LAPSED, ""), second: (d.DROP_RESULT_WON, "")}
    second_order = await claim(second)
    assert await results() == {first: (d.DROP_RESULT_LAPSED, ""), second: (d.DROP_RESULT_CLAIMED, second_order)}
    assert await read_model() == {first: "", second: second_order}

    api.clock.advance(minutes=31)  # the second claimant does not pay: the payment timeout cancels the order
    await api.settled()
    assert await api.running.scheduler.cancel_unpaid() == 1
    assert await results() == {first: (d.DROP_RESULT_LAPSED, ""), second: (d.DROP_RESULT_LAPSED, "")}
    assert await read_model() == {first: "", second: ""}
    assert await api.running.scheduler.pass_on_offers() == 1
    third_order = await claim(third)
    paid = await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=third_order, paid_fen=19_900), metadata=MP
    )
    assert paid.state == o.ORDER_STATE_PAID
    final = {
        first: (d.DROP_RESULT_LAPSED, ""),
        second: (d.DROP_RESULT_LAPSED, ""),
        third: (d.DROP_RESULT_CLAIMED, third_order),
    }
    assert await results() == final  # paid: the claim and its order stand
    assert (await entry(third)).order == third_order
    assert await read_model() == {m: order for m, (_, order) in final.items()}
