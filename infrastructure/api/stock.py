"""StockService: store stock levels, imports, till sales and walk-in protection."""

from __future__ import annotations

from uuid import UUID

from application.auth import Role, brand_scope
from application.commands import Call
from application.stock import StockLine, StockService
from domain.errors import InvalidArgument
from domain.stock import Protection, StoreStock
from infrastructure.api import convert, names
from infrastructure.api.names import STORES
from infrastructure.api.rpc import Servicer, idempotency, unary
from protos.loyalty.v1 import stock_pb2 as pb
from protos.loyalty.v1 import stock_pb2_grpc

READERS = (Role.OPERATOR, Role.AUDITOR, Role.DEALER)
KEEPERS = (Role.OPERATOR, Role.DEALER)  # the store's own dealer keeps its walk-in stock and runs its till


def level_name(stock: StoreStock) -> str:
    return f"{names.name(STORES, stock.store_id)}/stock/{stock.sku}"


def level_message(stock: StoreStock) -> pb.StockLevel:
    return pb.StockLevel(
        name=level_name(stock),
        store=names.name(STORES, stock.store_id),
        sku=stock.sku,
        on_hand_units=stock.on_hand,
        reserved_units=stock.reserved,
        protected_units=stock.protected,
        available_online_units=stock.available_online,
        protection_floor_units=stock.protection.floor_units,
        protection_share_basis_points=stock.protection.share_bp,
        consumed_units=stock.consumed,
        sold_in_store_units=stock.sold_in_store,
        reservation_count=len(stock.reservations),
        update_time=convert.timestamp(stock.modified_on),
        version=stock.version,
    )


def parse_level_name(name: str) -> tuple[UUID, str]:
    store, sep, sku = name.rpartition("/stock/")
    if not sep or not sku:
        raise InvalidArgument(
            "name must look like cloudStores/{uuid}/stock/{sku}", reason="INVALID_RESOURCE_NAME", field="name"
        )
    return names.parse(store, STORES, field="name"), sku


def stock_line(msg: pb.StockLine) -> StockLine:
    if msg.HasField("count") == msg.HasField("delta"):
        raise InvalidArgument("give exactly one of count and delta", reason="FIELD_REQUIRED", field="lines.count")
    return StockLine(
        names.parse(msg.store, STORES, field="lines.store"),
        msg.sku,
        count=msg.count if msg.HasField("count") else None,
        delta=msg.delta if msg.HasField("delta") else None,
    )


def _dealer(principal) -> str | None:
    return principal.dealer_id if principal.role is Role.DEALER else None


class StockServicer(Servicer, stock_pb2_grpc.StockServiceServicer):
    def __init__(self, auth, stock: StockService) -> None:
        super().__init__(auth)
        self.stock = stock

    @unary(Role.OPERATOR)
    async def ImportStock(self, request, principal):
        build = lambda stocks: pb.ImportStockResponse(levels=[level_message(s) for s in stocks])  # noqa: E731
        call = Call(idempotency(request, "ImportStock", principal), lambda r: build(r).SerializeToString())
        brand = brand_scope(principal, request.brand)
        lines = [stock_line(line) for line in request.lines]
        return await self.stock.import_counts(brand, request.batch_id, lines, request.reason, call=call)

    @unary(*KEEPERS)
    async def RecordInStoreSale(self, request, principal):
        call = Call(
            idempotency(request, "RecordInStoreSale", principal), lambda r: level_message(r).SerializeToString()
        )
        store = names.parse(request.store, STORES, field="store")
        return await self.stock.sell_in_store(
            store, request.sku, request.quantity, brand=principal.brand, dealer=_dealer(principal), call=call
        )

    @unary(*KEEPERS)
    async def SetStockProtection(self, request, principal):
        build = lambda stocks: pb.SetStockProtectionResponse(levels=[level_message(s) for s in stocks])  # noqa: E731
        call = Call(idempotency(request, "SetStockProtection", principal), lambda r: build(r).SerializeToString())
        store = names.parse(request.store, STORES, field="store")
        protection = Protection(floor_units=request.floor_units, share_bp=request.share_basis_points)
        return await self.stock.protect(
            store, list(request.skus), protection, brand=principal.brand, dealer=_dealer(principal), call=call
        )

    @unary(*READERS)
    async def GetStockLevel(self, request, principal):
        store, sku = parse_level_name(request.name)
        return level_message(await self.stock.get(store, sku, brand=principal.brand, dealer=_dealer(principal)))

    @unary(*READERS)
    async def ListStockLevels(self, request, principal):
        store = names.parse(request.parent, STORES, field="parent")
        levels = await self.stock.levels(store, brand=principal.brand, dealer=_dealer(principal))
        return pb.ListStockLevelsResponse(levels=[level_message(s) for s in levels])
