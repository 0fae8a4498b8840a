"""OrderService: the mini-program backend places and pays orders; routing is explained on each."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple
from uuid import UUID

from application.auth import Role, owned
from application.commands import Call
from application.orders import OrderDraft, OrderService
from domain.attribution import AttributionSource, EntryKind
from domain.errors import InvalidArgument
from domain.member import Member
from domain.order import Order, OrderLine
from domain.routing import (
    Rejection,
    RoutingDecision,
    StepOutcome,
    StepReason,
    UnallocatedReason,
)
from infrastructure.api import convert, names, pages
from infrastructure.api.names import GUIDES, MEMBERS, ORDERS, STORES
from infrastructure.api.rpc import Servicer, idempotency, unary
from infrastructure.projections.member_orders import member_orders
from protos.loyalty.v1 import orders_pb2 as pb
from protos.loyalty.v1 import orders_pb2_grpc, programmes_pb2

WRITE = (Role.MINIPROGRAM, Role.OPERATOR)
READ = (Role.MINIPROGRAM, Role.OPERATOR, Role.AUDITOR)
MAX_LINES = 200
MAX_STORE_NAMES = 100_000
LIST_DEFAULT, LIST_MAX = 20, 100


def rejections(values: Iterable[Rejection]) -> list[str]:
    return [f"REJECTION_REASON_{r.value}" for r in values]


def _wire(enum: type[Enum], prefix: str, wire: Any) -> dict[Any, Any]:
    """Each member of a domain enum as its protobuf enum number (built once: a constructor given a number does
    not look a label up)."""
    return {member: wire.Value(f"{prefix}{member.value}") for member in enum}


_REJECTION = _wire(Rejection, "REJECTION_REASON_", pb.RejectionReason)
_SOURCE = _wire(AttributionSource, "ATTRIBUTION_SOURCE_", programmes_pb2.AttributionSource)
_OUTCOME = _wire(StepOutcome, "STEP_OUTCOME_", pb.StepOutcome)
_REASON = _wire(StepReason, "STEP_REASON_", pb.StepReason)
_UNALLOCATED = _wire(UnallocatedReason, "UNALLOCATED_REASON_", pb.UnallocatedReason)
_store_names: dict[UUID, str] = {}


def _store(store_id: UUID | None) -> str:
    """``cloudStores/{uuid}``, remembered: a decision names its few candidates again and again."""
    if store_id is None:
        return ""
    name = _store_names.get(store_id)
    if name is None:
        if len(_store_names) >= MAX_STORE_NAMES:
            _store_names.clear()
        name = _store_names[store_id] = names.name(STORES, store_id)
    return name


def decision_message(d: RoutingDecision | None) -> pb.RoutingDecision:
    if d is None:
        return pb.RoutingDecision()
    credit = None
    if d.guide_credit is not None:
        credit = pb.GuideCredit(
            guide=names.name(GUIDES, d.guide_credit.guide_id),
            guide_store=_store(d.guide_credit.guide_store_id),
            source=f"GUIDE_CREDIT_SOURCE_{d.guide_credit.source.value}",
            dual_credit=d.dual_credit,
        )
    return pb.RoutingDecision(
        allocated=d.allocated,
        programme_version=d.programme_version,
        store=_store(d.store_id),
        dealer=f"dealers/{d.dealer_id}" if d.dealer_id else "",
        distance_m=float(d.distance_m or 0),
        candidates=[
            pb.Candidate(
                store=_store(c.store_id),
                distance_m=float(c.distance_m),
                rejected_because=[_REJECTION[r] for r in c.rejections],
            )
            for c in d.candidates
        ],
        attribution=[
            pb.AttributionStep(
                source=_SOURCE[s.source],
                outcome=_OUTCOME[s.outcome],
                reason=_REASON[s.reason],
                rejections=[_REJECTION[r] for r in s.rejections],
                store=_store(s.store_id),
            )
            for s in d.explanation
        ],
        guide_credit=credit,
        unallocated_reason=_UNALLOCATED[d.unallocated_reason] if d.unallocated_reason else None,
        fallback=d.fallback_target or "",
        split=[
            pb.SplitPart(
                order=names.name(ORDERS, p.order_id) if p.order_id else "",
                store=_store(p.store_id),
                dealer=f"dealers/{p.dealer_id}",
                distance_m=float(p.distance_m),
                needs=[pb.StockNeed(sku=n.sku, quantity=n.qty) for n in p.needs],
            )
            for p in d.split
        ],
    )


def order_message(order: Order, *, routing: bool = True) -> pb.Order:
    return pb.Order(
        name=names.name(ORDERS, order.id),
        member=names.name(MEMBERS, order.member_id),
        state=f"ORDER_STATE_{order.status.name}",
        total_fen=order.total_fen,
        paid_fen=order.paid_fen,
        refunded_fen=order.refunded_fen,
        fulfilment=convert.mode_value(order.mode),
        routing=decision_message(order.decision) if routing else None,
        place_time=convert.timestamp(order.placed_at),
        version=order.version,
        refunds=[
            pb.Refund(
                refund_id=r.refund_id, amount_fen=r.amount_fen, reason=r.reason, refund_time=convert.timestamp(r.at)
            )
            for r in order.refunds
        ],
    )


_ROUTING_TAG = bytes([pb.Order.ROUTING_FIELD_NUMBER << 3 | 2])  # field 8, length-delimited


class _Routing(NamedTuple):
    order: weakref.ref[Order]  # its callback drops the entry when the order object goes
    decision: RoutingDecision | None
    field: bytes


_routings: dict[UUID, _Routing] = {}


def order_bytes(order: Order) -> bytes:
    """``order_message(order).SerializeToString()``, with the routing field's bytes remembered per order.

    An order's decision (a few kB: every candidate and step) is made once and answered on every later
    command (PayOrder, FulfilOrder ...): those encode the rest and append the stored field. Fields may come in
    any order on the wire (protobuf encoding), so the bytes parse to the same message.

    An entry lives as long as the order object it was made for (the aggregate cache's, or a command's): it
    holds the order weakly and goes with it, so it never keeps a decision the cache let go of, and the cache's
    bound in bytes bounds these too. (A separate bound in entries let 10,000 decisions outlive their orders:
    memory the aggregate cache's estimate had already given back.)
    """
    hit = _routings.get(order.id)
    if hit is None or hit.order() is not order or hit.decision is not order.decision:
        routing = decision_message(order.decision).SerializeToString()
        field = _ROUTING_TAG + _varint(len(routing)) + routing  # present even when empty, as order_message has it
        hit = _routings[order.id] = _Routing(weakref.ref(order, _forget_routing(order.id)), order.decision, field)
    return order_message(order, routing=False).SerializeToString() + hit.field


def _forget_routing(order_id: UUID) -> Callable[[weakref.ref[Order]], None]:
    def forget(ref: weakref.ref[Order]) -> None:
        hit = _routings.get(order_id)
        if hit is not None and hit.order is ref:  # not an entry made since for another object of the order
            del _routings[order_id]

    return forget


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def draft(msg: pb.OrderDraft) -> OrderDraft:
    if not msg.lines:
        raise InvalidArgument("an order has at least one line", reason="FIELD_REQUIRED", field="order.lines")
    if len(msg.lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_LINES} lines", reason="OUT_OF_RANGE", field="order.lines")
    if not msg.HasField("customer_location"):
        raise InvalidArgument(
            "customer_location is required for routing", reason="FIELD_REQUIRED", field="order.customer_location"
        )
    entry_kind = EntryKind.NONE
    if msg.entry.kind == pb.ENTRY_KIND_STORE_QR:
        entry_kind = EntryKind.STORE_QR
    elif msg.entry.kind == pb.ENTRY_KIND_GUIDE_SHARE:
        entry_kind = EntryKind.GUIDE_SHARE
    elif msg.entry.kind != pb.ENTRY_KIND_UNSPECIFIED:
        raise InvalidArgument("unknown entry kind", reason="OUT_OF_RANGE", field="order.entry.kind")
    return OrderDraft(
        member_id=names.parse(msg.member, MEMBERS, field="order.member"),
        lines=tuple(OrderLine(line.sku, line.quantity, line.unit_price_fen) for line in msg.lines),
        mode=convert.mode(msg.fulfilment, field="order.fulfilment"),
        customer=convert.location(msg.customer_location, field="order.customer_location"),
        entry_kind=entry_kind,
        entry_store_id=names.parse(msg.entry.store, STORES, field="order.entry.store", required=False),
        entry_guide_id=names.parse(msg.entry.guide, GUIDES, field="order.entry.guide", required=False),
    )


def _call(request, method: str, principal) -> Call:
    return Call(idempotency(request, method, principal), order_bytes)


class OrderServicer(Servicer, orders_pb2_grpc.OrderServiceServicer):
    def __init__(self, auth, orders: OrderService, pool=None) -> None:
        super().__init__(auth)
        self.orders = orders
        self.pool = pool  # the read models' database (ListOrders)

    def _order(self, request):
        return names.parse(request.name, ORDERS, field="name")

    @unary(*WRITE)
    async def PlaceOrder(self, request, principal):
        call = _call(request, "PlaceOrder", principal)
        return await self.orders.place(draft(request.order), call=call, brand=principal.brand)

    @unary(*WRITE)
    async def SimulateOrder(self, request, principal):
        return decision_message(await self.orders.simulate(draft(request.order), brand=principal.brand))

    @unary(*WRITE)
    async def PayOrder(self, request, principal):
        call = _call(request, "PayOrder", principal)
        return await self.orders.pay(self._order(request), request.paid_fen, call=call, brand=principal.brand)

    @unary(*WRITE)
    async def FulfilOrder(self, request, principal):
        call = _call(request, "FulfilOrder", principal)
        return await self.orders.fulfil(self._order(request), call=call, brand=principal.brand)

    @unary(*WRITE)
    async def CancelOrder(self, request, principal):
        call = _call(request, "CancelOrder", principal)
        return await self.orders.cancel(self._order(request), request.reason, call=call, brand=principal.brand)

    @unary(*WRITE)
    async def RefundOrder(self, request, principal):
        call = _call(request, "RefundOrder", principal)
        data = await self.orders.refund(
            self._order(request),
            request.request_id,
            request.amount_fen,
            request.reason,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)
    async def SettleOrder(self, request, principal):
        call = _call(request, "SettleOrder", principal)
        return await self.orders.settle(self._order(request), call=call, brand=principal.brand)

    @unary(*READ)
    async def GetOrder(self, request, principal):
        return order_message(
            await self.orders.get(names.parse(request.name, ORDERS, field="name"), brand=principal.brand)
        )

    @unary(*READ)
    async def ListOrders(self, request, principal):
        member_id = names.parse(request.parent, MEMBERS, field="parent")
        owned(await self.orders.repository.get(member_id, Member), principal.brand)  # another brand's: NOT_FOUND
        size = pages.page_size(request.page_size, default=LIST_DEFAULT, maximum=LIST_MAX)
        scope = (principal.brand, request.parent)
        key = pages.decode(request.page_token, "ListOrders", scope, key=True)
        before = None
        if key is not None:
            try:
                before = (datetime.fromisoformat(key[0]), UUID(key[1]))
            except (ValueError, IndexError):
                raise InvalidArgument(
                    "page_token is not one this server issued for this call",
                    reason="INVALID_PAGE_TOKEN",
                    field="page_token",
                ) from None
        rows = await member_orders(self.pool, principal.brand, member_id, before=before, limit=size + 1)
        page = rows[:size]
        orders = [order_message(await self.orders.get(row["order_id"], brand=principal.brand)) for row in page]
        token = ""
        if len(rows) > size:  # then the page is full: its last row is where the next one starts
            last = page[-1]
            token = pages.encode("ListOrders", scope, [last["placed_at"].isoformat(), str(last["order_id"])])
        return pb.ListOrdersResponse(orders=orders, next_page_token=token)
