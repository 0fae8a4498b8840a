from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import AlreadyExists, InvalidArgument, RuleViolation
from domain.settlement import (
    LineKind,
    Month,
    SettlementLine,
    SettlementPeriod,
    StatementTotals,
    landing_month,
    line_kind,
    period_id,
    tally,
)

NOV, DEC, JAN = Month(2026, 11), Month(2026, 12), Month(2027, 1)
DEC_1_SHANGHAI = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Shanghai


def line(kind: LineKind, fen: int, at: datetime = DEC_1_SHANGHAI, original: Month = NOV) -> SettlementLine:
    return SettlementLine(uuid4(), uuid4(), None, kind, fen, original, at)


def close(month: Month = NOV, at: datetime = DEC_1_SHANGHAI, **kw) -> SettlementPeriod:
    args: dict[str, Any] = dict(
        brand="acme", dealer_id="D1", month=month, totals=StatementTotals(100, 10, 3, 1, 3), through_position=42, at=at
    )
    return SettlementPeriod.close(**(args | kw))


# ---- months ----------------------------------------------------------------------------


def test_a_month_is_the_shanghai_calendar_month():
    assert Month.of(DEC_1_SHANGHAI - timedelta(microseconds=1)) == NOV
    assert Month.of(DEC_1_SHANGHAI) == DEC
    assert NOV.ends_at == DEC_1_SHANGHAI == DEC.starts_at


def test_december_is_followed_by_january_of_the_next_year():
    assert DEC.next() == JAN and str(JAN) == "2027-01"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "", None, "2026-11-01"])
def test_a_month_must_be_written_yyyy_mm(text):
    with pytest.raises(InvalidArgument):
        Month.parse(text)


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(9990, 1, 1), timezones=st.just(UTC)))
def test_every_instant_falls_inside_its_month(at):
    month = Month.of(at)
    assert month.starts_at <= at < month.ends_at
    assert Month.parse(str(month)) == month


# ---- totals ----------------------------------------------------------------------------


def test_totals_add_orders_subtract_refunds_and_net_the_commission():
    totals = tally(
        [
            line(LineKind.ORDER, 10_000),
            line(LineKind.LATE_ORDER, 500),
            line(LineKind.REFUND, 2_000),
            line(LineKind.LATE_REFUND, 1_000),
            line(LineKind.COMMISSION, 300),
            line(LineKind.COMMISSION_CLAWBACK, 90),
        ]
    )
    assert (totals.revenue_fen, totals.refunds_fen, totals.net_fen) == (10_500, 3_000, 7_500)
    assert (totals.commission_fen, totals.order_count, totals.line_count) == (210, 2, 6)


def test_the_lines_hash_changes_with_any_line_and_with_their_order():
    a, b = line(LineKind.ORDER, 100), line(LineKind.REFUND, 40)
    assert tally([a, b]).lines_sha256 == tally([a, b]).lines_sha256
    assert tally([a, b]).lines_sha256 != tally([b, a]).lines_sha256
    assert tally([a]).lines_sha256 != tally([a, b]).lines_sha256
    assert tally([]) == StatementTotals()


# ---- where lines land -----------------------------------------------------------------


def test_a_line_lands_in_its_own_month_while_that_month_is_open():
    assert landing_month(DEC_1_SHANGHAI, None) == DEC
    assert landing_month(DEC_1_SHANGHAI, NOV) == DEC


def test_a_line_whose_month_is_closed_lands_in_the_first_open_month():
    late_november = DEC_1_SHANGHAI - timedelta(seconds=1)
    assert landing_month(late_november, NOV) == DEC
    assert line_kind(LineKind.REFUND, late_november, NOV, NOV) is LineKind.LATE_REFUND
    assert line_kind(LineKind.ORDER, late_november, NOV, NOV) is LineKind.LATE_ORDER


def test_a_refund_of_an_order_from_a_closed_month_is_late_even_in_an_open_month():
    assert line_kind(LineKind.REFUND, DEC_1_SHANGHAI, NOV, NOV) is LineKind.LATE_REFUND


def test_a_refund_of_an_order_whose_month_is_still_open_is_not_late():
    assert line_kind(LineKind.REFUND, DEC_1_SHANGHAI, NOV, None) is LineKind.REFUND
    assert line_kind(LineKind.REFUND, DEC_1_SHANGHAI, DEC, NOV) is LineKind.REFUND


def test_commission_lines_keep_their_kind():
    assert line_kind(LineKind.COMMISSION_CLAWBACK, DEC_1_SHANGHAI, NOV, NOV) is LineKind.COMMISSION_CLAWBACK


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.one_of(st.none(), st.builds(Month, st.integers(2001, 2100), st.integers(1, 12))),
)
def test_no_line_ever_lands_in_a_closed_month(at, last_closed):
    month = landing_month(at, last_closed)
    assert month >= Month.of(at)
    assert last_closed is None or month > last_closed


# ---- closing ----------------------------------------------------------------------------


def test_closing_records_the_totals_it_closed_with():
    period = close()
    assert period.id == period_id("acme", "D1", NOV)
    assert period.totals == StatementTotals(100, 10, 3, 1, 3)
    assert (period.month, period.through_position, period.closed_at) == (NOV, 42, DEC_1_SHANGHAI)
    [closed] = period.collect_events()
    assert type(closed).__name__ == "Closed" and closed.month == "2026-11" and closed.revenue_fen == 100


def test_a_period_id_is_stable_per_dealer_and_month():
    assert period_id("acme", "D1", NOV) == period_id("acme", "D1", Month(2026, 11))
    assert len({period_id("acme", "D1", NOV), period_id("acme", "D2", NOV), period_id("acme", "D1", DEC)}) == 3


def test_a_month_cannot_close_before_it_ended():
    with pytest.raises(RuleViolation) as e:
        close(at=DEC_1_SHANGHAI - timedelta(microseconds=1))
    assert e.value.reason == "PERIOD_NOT_ENDED"


def test_a_month_closes_once():
    with pytest.raises(AlreadyExists) as e:
        close(last_closed=NOV)
    assert e.value.reason == "PERIOD_ALREADY_CLOSED"


def test_months_close_in_order():
    with pytest.raises(RuleViolation) as e:
        close(last_closed=DEC, at=JAN.starts_at)
    assert e.value.reason == "PERIOD_BEFORE_LAST_CLOSED"
    with pytest.raises(RuleViolation) as e:
        close(month=DEC, open_earlier=NOV, at=JAN.starts_at)
    assert e.value.reason == "PREVIOUS_PERIOD_OPEN"
    assert close(month=DEC, last_closed=NOV, at=JAN.starts_at).month == DEC


@pytest.mark.parametrize(
    "change",
    [
        {"dealer_id": ""},
        {"month": "2026-11"},
        {"through_position": -1},
        {"at": datetime(2026, 12, 2)},
        {"totals": StatementTotals(-1)},
        {"totals": StatementTotals(lines_sha256="xyz")},
        {"totals": (1, 2)},
        {"last_closed": "2026-10"},
    ],
)
def test_a_malformed_close_is_refused(change):
    with pytest.raises(InvalidArgument):
        close(**change)
