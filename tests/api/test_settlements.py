"""Dealer settlement through a real gRPC channel: monthly statements, closing, late refunds, CSV export."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC

import grpc
import pytest

from application.repository import Repository
from domain.settlement import Month, SettlementPeriod, StatementTotals
from infrastructure.api import pages
from infrastructure.projections.settlement import SettlementLines
from infrastructure.rebuild import rebuild
from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec
from tests.api.conftest import auth

OP, MP, AU, D1, D2 = auth("operator"), auth("miniprogram"), auth("auditor"), auth("dealer:D1"), auth("dealer:D2")
K = a.SettlementLineKind


async def _november(api):
    """D1's store sells two orders on 2 November (one guide-credited pair), one is partly refunded."""
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    guide = await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(),
            brand="acme",
            guide=s.Guide(store=store.name, wecom_userid="wx-g1", display_name="Wang Fang"),
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )
    await api.settled()
    orders = []
    for fen in (12_800, 5_000):
        order = await api.orders.PlaceOrder(
            o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738, fen=fen)), metadata=MP
        )
        assert order.routing.store == store.name
        await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=fen), metadata=MP)
        orders.append(order.name)
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=orders[1], amount_fen=2_000), metadata=MP
    )
    return store.name, guide.name, orders


def _statement(month: str, dealer: str = "", **kw) -> a.GetSettlementStatementRequest:
    return a.GetSettlementStatementRequest(dealer=dealer, month=month, **kw)


def _close(api, month: str, dealer: str = "dealers/D1", request_id: str | None = None):
    return a.CloseSettlementPeriodRequest(request_id=request_id or api.rid(), dealer=dealer, month=month)


def _totals(st: a.SettlementStatement) -> tuple:
    return (st.revenue_fen, st.refunds_fen, st.net_fen, st.commission_fen, st.order_count, st.line_count)


def _sha256(lines) -> str:
    """The lines hash as the proto documents it, computed the way a client would."""
    h = hashlib.sha256()
    for x in lines:
        kind = a.SettlementLineKind.Name(x.kind).removeprefix("SETTLEMENT_LINE_KIND_")
        ids = [name.partition("/")[2] for name in (x.order, x.store, x.guide)]
        at = x.book_time.ToDatetime(tzinfo=UTC).isoformat()
        h.update("|".join([kind, *ids, str(x.amount_fen), x.original_month, at]).encode() + b"\n")
    return h.hexdigest()


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        if isinstance(call, grpc.aio.UnaryStreamCall):
            [_ async for _ in call]
        else:
            await call
    return e.value.code()


async def test_a_month_statement_totals_its_orders_refunds_and_guide_commission(api):
    store, guide, (big, small) = await _november(api)
    st = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert (st.dealer, st.month, st.closed) == ("dealers/D1", "2026-11", False)
    # 3 % commission: 384 + 150, of which 60 clawed back by the 2,000 fen refund of the 5,000 fen order.
    assert _totals(st) == (17_800, 2_000, 15_800, 474, 2, 6)
    assert [(x.order, x.kind, x.amount_fen) for x in st.lines] == [
        (big, K.SETTLEMENT_LINE_KIND_ORDER, 12_800),
        (big, K.SETTLEMENT_LINE_KIND_COMMISSION, 384),
        (small, K.SETTLEMENT_LINE_KIND_ORDER, 5_000),
        (small, K.SETTLEMENT_LINE_KIND_COMMISSION, 150),
        (small, K.SETTLEMENT_LINE_KIND_REFUND, 2_000),
        (small, K.SETTLEMENT_LINE_KIND_COMMISSION_CLAWBACK, 60),
    ]
    assert {x.store for x in st.lines} == {store} and {x.original_month for x in st.lines} == {"2026-11"}
    assert st.lines_sha256 == _sha256(st.lines)
    assert {x.guide for x in st.lines if x.kind == K.SETTLEMENT_LINE_KIND_COMMISSION} == {guide}
    # The operator and the auditor read any dealer; the other dealer has nothing this month.
    assert await api.attribution.GetSettlementStatement(_statement("2026-11", "dealers/D1"), metadata=AU) == st
    empty = await api.attribution.GetSettlementStatement(_statement("2026-11", "dealers/D2"), metadata=OP)
    assert _totals(empty) == (0, 0, 0, 0, 0, 0) and not empty.lines


async def test_closing_freezes_the_month_and_a_later_refund_lands_in_the_next_month_as_late(api):
    _, _, (big, _) = await _november(api)
    before = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert (
        await _code(api.attribution.CloseSettlementPeriod(_close(api, "2026-11"), metadata=OP))
        == grpc.StatusCode.FAILED_PRECONDITION
    )  # November has not ended
    assert (
        await _code(api.attribution.CloseSettlementPeriod(_close(api, "2026-11"), metadata=D1))
        == grpc.StatusCode.PERMISSION_DENIED
    )  # only operators close

    api.clock.advance(days=30)  # 2 December
    request = _close(api, "2026-11")
    closed = await api.attribution.CloseSettlementPeriod(request, metadata=OP)
    assert closed.closed and closed.reproduced and _totals(closed) == _totals(before)
    assert closed.lines_sha256 == before.lines_sha256 and closed.close_time.ToSeconds() > 0
    assert await api.attribution.CloseSettlementPeriod(request, metadata=OP) == closed  # a retry: same answer
    assert (
        await _code(api.attribution.CloseSettlementPeriod(_close(api, "2026-11"), metadata=OP))
        == grpc.StatusCode.ALREADY_EXISTS
    )

    await api.orders.RefundOrder(o.RefundOrderRequest(request_id=api.rid(), name=big, amount_fen=3_000), metadata=MP)
    december = await api.attribution.GetSettlementStatement(_statement("2026-12"), metadata=D1)
    assert not december.closed
    assert [(x.order, x.kind, x.amount_fen, x.original_month) for x in december.lines] == [
        (big, K.SETTLEMENT_LINE_KIND_LATE_REFUND, 3_000, "2026-11"),
        (big, K.SETTLEMENT_LINE_KIND_COMMISSION_CLAWBACK, 90, "2026-11"),
    ]
    assert _totals(december) == (0, 3_000, -3_000, -90, 0, 2)

    after = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert after.closed and after.reproduced
    assert _totals(after) == _totals(before) and list(after.lines) == list(before.lines)
    assert after.lines_sha256 == before.lines_sha256

    # December cannot close before it ends; January cannot close while December is open.
    api.clock.advance(days=31)
    assert (
        await _code(api.attribution.CloseSettlementPeriod(_close(api, "2027-01"), metadata=OP))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    api.clock.advance(days=31)
    assert (
        await _code(api.attribution.CloseSettlementPeriod(_close(api, "2027-01"), metadata=OP))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert (await api.attribution.CloseSettlementPeriod(_close(api, "2026-12"), metadata=OP)).refunds_fen == 3_000


async def test_a_refund_dated_in_a_closed_month_lands_in_the_next_open_month(api):
    _, _, (_, small) = await _november(api)
    api.clock.advance(days=30)
    closed = await api.attribution.CloseSettlementPeriod(_close(api, "2026-11"), metadata=OP)
    api.clock.advance(days=-10)  # a clock running behind: the refund is dated 22 November
    await api.orders.RefundOrder(o.RefundOrderRequest(request_id=api.rid(), name=small, amount_fen=500), metadata=MP)
    december = await api.attribution.GetSettlementStatement(_statement("2026-12"), metadata=D1)
    x = december.lines[0]
    assert (x.order, x.kind, x.amount_fen, x.original_month, x.book_time.ToDatetime().month) == (
        small,
        K.SETTLEMENT_LINE_KIND_LATE_REFUND,
        500,
        "2026-11",
        11,
    )
    november = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert _totals(november) == _totals(closed) and november.reproduced


async def test_lines_committed_after_the_close_read_its_position_move_on_to_the_next_month(api):
    await _november(api)
    api.clock.advance(days=30)
    first_four = await api.attribution.GetSettlementStatement(_statement("2026-11", page_size=4), metadata=D1)
    # The token is opaque to clients; this test knows its layout (infrastructure.api.pages) to reuse the position.
    through = pages.decode(first_four.next_page_token, "GetSettlementStatement", ("acme", "D1", "2026-11"))
    totals = StatementTotals(17_800, 0, 534, 2, 4, _sha256(first_four.lines))
    period = SettlementPeriod.close(
        brand="acme", dealer_id="D1", month=Month(2026, 11), totals=totals, through_position=through, at=api.clock.now()
    )
    await Repository(api.running.store, api.running.store.mapper).save(period)

    november = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert november.closed and november.reproduced and list(november.lines) == list(first_four.lines)
    december = await api.attribution.GetSettlementStatement(_statement("2026-12"), metadata=D1)
    assert [(x.kind, x.amount_fen, x.original_month) for x in december.lines] == [
        (K.SETTLEMENT_LINE_KIND_LATE_REFUND, 2_000, "2026-11"),
        (K.SETTLEMENT_LINE_KIND_COMMISSION_CLAWBACK, 60, "2026-11"),
    ]


async def test_a_closed_statement_that_its_events_no_longer_reproduce_says_so(api):
    await _november(api)
    api.clock.advance(days=30)
    wrong = StatementTotals(1, 0, 0, 1, 1, "0" * 64)
    period = SettlementPeriod.close(
        brand="acme", dealer_id="D1", month=Month(2026, 11), totals=wrong, through_position=10**9, at=api.clock.now()
    )
    await Repository(api.running.store, api.running.store.mapper).save(period)
    november = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    assert november.closed and not november.reproduced and november.revenue_fen == 1 and november.line_count == 1


async def test_closed_statements_are_reproduced_by_rebuilding_the_read_model_from_events(api):
    _, _, (big, _) = await _november(api)
    api.clock.advance(days=30)
    await api.attribution.CloseSettlementPeriod(_close(api, "2026-11"), metadata=OP)
    await api.orders.RefundOrder(o.RefundOrderRequest(request_id=api.rid(), name=big, amount_fen=800), metadata=MP)
    before = [
        await api.attribution.GetSettlementStatement(_statement(month), metadata=D1) for month in ("2026-11", "2026-12")
    ]

    await rebuild(api.running.store, SettlementLines(), api.running.store.mapper, out=None)

    after = [
        await api.attribution.GetSettlementStatement(_statement(month), metadata=D1) for month in ("2026-11", "2026-12")
    ]
    assert after == before and after[0].reproduced
    assert after[1].lines[0].kind == K.SETTLEMENT_LINE_KIND_LATE_REFUND


async def test_statement_lines_come_in_pages(api):
    await _november(api)
    whole = await api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=D1)
    lines, token = [], ""
    while True:
        page = await api.attribution.GetSettlementStatement(
            _statement("2026-11", page_size=4, page_token=token), metadata=D1
        )
        assert len(page.lines) <= 4 and _totals(page) == _totals(whole)
        lines += page.lines
        token = page.next_page_token
        if not token:
            break
    assert lines == list(whole.lines)
    assert (
        await _code(api.attribution.GetSettlementStatement(_statement("2026-11", page_token="x"), metadata=D1))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_a_dealer_reads_only_its_own_statements_and_ledger(api):
    await _november(api)
    assert (
        await _code(api.attribution.GetSettlementStatement(_statement("2026-11", "dealers/D1"), metadata=D2))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await _code(
            api.attribution.ExportLedgerCsv(
                a.ExportLedgerCsvRequest(dealer="dealers/D1", from_day="2026-11-01", to_day="2026-11-30"), metadata=D2
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await _code(api.attribution.GetSettlementStatement(_statement("2026-11"), metadata=MP))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await _code(api.attribution.GetSettlementStatement(_statement("2026-13"), metadata=D1))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


async def _csv(call) -> list[dict[str, str]]:
    data = b"".join([chunk.data async for chunk in call])
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


async def test_the_ledger_exports_as_csv_with_the_same_rows_as_the_revenue_stream(api):
    _, _, (big, _) = await _november(api)
    api.clock.advance(days=3)
    await api.orders.RefundOrder(o.RefundOrderRequest(request_id=api.rid(), name=big, amount_fen=800), metadata=MP)
    await api.settled()
    request = dict(from_day="2026-11-01", to_day="2026-11-30")
    streamed = [
        r async for r in api.attribution.StreamStoreRevenue(a.StreamStoreRevenueRequest(**request), metadata=D1)
    ]
    exported = await _csv(api.attribution.ExportLedgerCsv(a.ExportLedgerCsvRequest(**request), metadata=D1))
    assert len(streamed) == 2
    assert exported == [
        {
            "dealer": r.dealer,
            "store": r.store,
            "day": r.day,
            "orders": str(r.orders),
            "revenue_fen": str(r.revenue_fen),
            "refunds": str(r.refunds),
            "refunded_fen": str(r.refunded_fen),
            "net_fen": str(r.net_fen),
        }
        for r in streamed
    ]
    by_operator = await _csv(
        api.attribution.ExportLedgerCsv(a.ExportLedgerCsvRequest(dealer="dealers/D1", **request), metadata=OP)
    )
    assert by_operator == exported
    nothing = await _csv(
        api.attribution.ExportLedgerCsv(a.ExportLedgerCsvRequest(dealer="dealers/D2", **request), metadata=AU)
    )
    assert nothing == []
