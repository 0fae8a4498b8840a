"""AttributionService: dealers read their own stores' revenue; operators and auditors any dealer's."""

from __future__ import annotations

from datetime import date

from application.auth import Principal, Role, dealer_scope
from application.orders import OrderService
from domain.errors import InvalidArgument, NotFound
from infrastructure.api import convert, names
from infrastructure.api.names import ORDERS, STORES
from infrastructure.api.orders import decision_message
from infrastructure.api.rpc import Servicer, streaming, unary
from infrastructure.projections.dealer_ledger import store_days
from protos.loyalty.v1 import attribution_pb2 as pb
from protos.loyalty.v1 import attribution_pb2_grpc

READERS = (Role.DEALER, Role.OPERATOR, Role.AUDITOR)
MAX_DAYS = 3660


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{field} must be YYYY-MM-DD", reason="INVALID_DATE", field=field) from None


class AttributionServicer(Servicer, attribution_pb2_grpc.AttributionServiceServicer):
    def __init__(self, auth, pool, orders: OrderService) -> None:
        super().__init__(auth)
        self.pool = pool
        self.orders = orders

    @streaming(*READERS)
    async def StreamStoreRevenue(self, request: pb.StreamStoreRevenueRequest, principal: Principal):
        requested = names.dealer_id(request.dealer, required=principal.role is not Role.DEALER)
        dealer = dealer_scope(principal, requested)
        first, last = _day(request.from_day, "from_day"), _day(request.to_day, "to_day")
        if last < first or (last - first).days > MAX_DAYS:
            raise InvalidArgument("to_day must be on or after from_day, within ten years", reason="OUT_OF_RANGE")
        async for row in store_days(self.pool, dealer, first, last):
            yield pb.StoreDayRevenue(
                dealer=f"dealers/{dealer}", store=names.name(STORES, row["store_id"]), day=row["day"].isoformat(),
                orders=row["orders"], revenue_fen=row["revenue_fen"], refunds=row["refunds"],
                refunded_fen=row["refunded_fen"], net_fen=row["revenue_fen"] - row["refunded_fen"],
            )

    @unary(*READERS)
    async def GetOrderAttribution(self, request: pb.GetOrderAttributionRequest, principal: Principal):
        order = await self.orders.get(names.parse(request.order, ORDERS, field="order"))
        if principal.role is Role.DEALER and order.dealer_id != principal.dealer_id:
            # Not "permission denied": a dealer learns nothing about other dealers' orders.
            raise NotFound(f"order {order.id} not found", reason="ORDER_NOT_FOUND")
        return pb.OrderAttribution(
            order=names.name(ORDERS, order.id), store=names.name(STORES, order.store_id),
            dealer=f"dealers/{order.dealer_id}" if order.dealer_id else "",
            paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
            routing=decision_message(order.decision), paid_at=convert.timestamp(order.paid_at),
        )

