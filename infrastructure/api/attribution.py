"""AttributionService: dealers read their own stores' revenue; operators and auditors any dealer's of their brand.

A dealer is one brand's: every figure is read within the caller's brand, so the
same dealer id in another brand is another dealer, whose figures stay invisible.
"""

from __future__ import annotations

from datetime import date

from application.auth import Principal, Role, dealer_scope
from application.commands import Call
from application.orders import OrderService
from application.settlements import MAX_PAGE, SettlementService, Statement
from domain.errors import InvalidArgument, NotFound
from domain.settlement import Month
from infrastructure.api import convert, names, pages
from infrastructure.api.names import GUIDES, ORDERS, STORES
from infrastructure.api.orders import decision_message
from infrastructure.api.rpc import Servicer, idempotency, streaming, unary
from infrastructure.export import export_csv
from infrastructure.projections.dealer_ledger import store_days
from protos.loyalty.v1 import attribution_pb2 as pb
from protos.loyalty.v1 import attribution_pb2_grpc

READERS = (Role.DEALER, Role.OPERATOR, Role.AUDITOR)
MAX_DAYS = 3660
LEDGER_COLUMNS = ("dealer", "store", "day", "orders", "revenue_fen", "refunds", "refunded_fen", "net_fen")


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{field} must be YYYY-MM-DD", reason="INVALID_DATE", field=field) from None


def _days(request) -> tuple[date, date]:
    first, last = _day(request.from_day, "from_day"), _day(request.to_day, "to_day")
    if last < first or (last - first).days > MAX_DAYS:
        raise InvalidArgument("to_day must be on or after from_day, within ten years", reason="OUT_OF_RANGE")
    return first, last


def _dealer(request, principal: Principal) -> str:
    """The dealer named in the request, or the caller's own; a dealer never reads another's."""
    return dealer_scope(principal, names.dealer_id(request.dealer, required=principal.role is not Role.DEALER))


def statement_message(s: Statement, scope: tuple = ()) -> pb.SettlementStatement:
    t = s.totals
    return pb.SettlementStatement(
        dealer=f"dealers/{s.dealer_id}",
        month=str(s.month),
        closed=s.closed,
        revenue_fen=t.revenue_fen,
        refunds_fen=t.refunds_fen,
        net_fen=t.net_fen,
        commission_fen=t.commission_fen,
        order_count=t.order_count,
        line_count=t.line_count,
        lines_sha256=t.lines_sha256,
        close_time=convert.timestamp(s.closed_at),
        reproduced=s.reproduced,
        next_page_token=pages.encode("GetSettlementStatement", scope, s.next_after) if s.next_after else "",
        lines=[
            pb.SettlementLine(
                order=names.name(ORDERS, line.order_id),
                store=names.name(STORES, line.store_id),
                kind=f"SETTLEMENT_LINE_KIND_{line.kind.value}",
                amount_fen=line.amount_fen,
                original_month=str(line.original_month),
                book_time=convert.timestamp(line.at),
                guide=names.name(GUIDES, line.guide_id),
            )
            for line in s.lines
        ],
    )


class AttributionServicer(Servicer, attribution_pb2_grpc.AttributionServiceServicer):
    def __init__(self, auth, pool, orders: OrderService, settlements: SettlementService) -> None:
        super().__init__(auth)
        self.pool = pool
        self.orders = orders
        self.settlements = settlements

    @streaming(*READERS)
    async def StreamStoreRevenue(self, request: pb.StreamStoreRevenueRequest, principal: Principal):
        dealer = _dealer(request, principal)
        first, last = _days(request)
        async for row in store_days(self.pool, principal.brand, dealer, first, last):
            yield pb.StoreDayRevenue(
                dealer=f"dealers/{dealer}",
                store=names.name(STORES, row["store_id"]),
                day=row["day"].isoformat(),
                orders=row["orders"],
                revenue_fen=row["revenue_fen"],
                refunds=row["refunds"],
                refunded_fen=row["refunded_fen"],
                net_fen=row["revenue_fen"] - row["refunded_fen"],
            )

    @streaming(*READERS)
    async def ExportLedgerCsv(self, request: pb.ExportLedgerCsvRequest, principal: Principal):
        dealer = _dealer(request, principal)
        first, last = _days(request)

        async def rows():
            async for row in store_days(self.pool, principal.brand, dealer, first, last):
                yield {
                    "dealer": f"dealers/{dealer}",
                    "store": names.name(STORES, row["store_id"]),
                    "day": row["day"],
                    "orders": row["orders"],
                    "revenue_fen": row["revenue_fen"],
                    "refunds": row["refunds"],
                    "refunded_fen": row["refunded_fen"],
                    "net_fen": row["revenue_fen"] - row["refunded_fen"],
                }

        async for chunk in export_csv(rows(), columns=LEDGER_COLUMNS):
            yield pb.CsvChunk(data=chunk)

    @unary(*READERS)
    async def GetSettlementStatement(self, request: pb.GetSettlementStatementRequest, principal: Principal):
        dealer = _dealer(request, principal)
        month = Month.parse(request.month)
        size = pages.page_size(request.page_size, default=1000, maximum=MAX_PAGE)
        scope = (principal.brand, dealer, str(month))
        statement = await self.settlements.statement(
            principal.brand,
            dealer,
            month,
            page_size=size,
            after=pages.decode(request.page_token, "GetSettlementStatement", scope),
        )
        return statement_message(statement, scope)

    @unary(Role.OPERATOR)
    async def CloseSettlementPeriod(self, request: pb.CloseSettlementPeriodRequest, principal: Principal):
        call = Call(
            idempotency(request, "CloseSettlementPeriod", principal),
            lambda statement: statement_message(statement).SerializeToString(),
        )
        dealer = names.dealer_id(request.dealer)
        data = await self.settlements.close(principal.brand, dealer, Month.parse(request.month), call=call)
        return data

    @unary(*READERS)
    async def GetOrderAttribution(self, request: pb.GetOrderAttributionRequest, principal: Principal):
        order = await self.orders.get(names.parse(request.name, ORDERS, field="name"), brand=principal.brand)
        if principal.role is Role.DEALER and order.dealer_id != principal.dealer_id:
            # Not "permission denied": a dealer learns nothing about other dealers' orders.
            raise NotFound(f"order {order.id} not found", reason="ORDER_NOT_FOUND")
        return pb.OrderAttribution(
            order=names.name(ORDERS, order.id),
            store=names.name(STORES, order.store_id),
            dealer=f"dealers/{order.dealer_id}" if order.dealer_id else "",
            paid_fen=order.paid_fen,
            refunded_fen=order.refunded_fen,
            routing=decision_message(order.decision),
            pay_time=convert.timestamp(order.paid_at),
        )
