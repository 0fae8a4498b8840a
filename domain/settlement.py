"""Dealer settlement (经销商月结): monthly statements and closing a month.

A statement is the dealer's money for one month of the brand calendar
(``domain.calendar.BRAND_CALENDAR``, Asia/Shanghai): the
revenue of orders booked to its stores, their refunds, and the guide
commission on those orders. Each booking event becomes one *line* of the
month it falls in. Closing the month freezes the statement: the
``SettlementPeriod.Closed`` event records the totals, the number of lines,
a SHA-256 over the lines and the position in the global log up to which the
lines were read, so the closed statement can be recomputed from events and
compared at any time.

Rules:

* a month closes only after it ended (at or after the first instant of the
  next month, Shanghai time), once, and in order: a month closes only when
  every earlier month holding lines of that dealer is closed, so a late line
  always has an open month after the last closed one to land in;
* a line whose month is already closed when it is recorded lands in the
  first open month after the last closed one (a *late* line); a refund of an
  order whose own month was closed is a LATE_REFUND even when its time falls
  in an open month, and names the original order and month.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.calendar import BRAND_CALENDAR
from domain.errors import AlreadyExists, InvalidArgument, RuleViolation
from domain.store_values import require_int, require_text, require_utc

SHANGHAI = BRAND_CALENDAR.tzinfo  # kept for readers of this name; the calendar module decides
NAMESPACE = UUID("5b0f3c62-58a4-4c55-9d43-1f2a7c3e9e01")  # stored data: never change
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month in Shanghai time; ``str()`` is ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        require_int(self.year, "year", 2000, 9998)
        require_int(self.month, "month", 1, 12)

    @classmethod
    def parse(cls, text: object, field: str = "month") -> Month:
        match = _MONTH.match(text) if isinstance(text, str) else None
        if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 9998:
            raise InvalidArgument(f"{field} must look like YYYY-MM", reason="INVALID_MONTH", field=field)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, at: datetime) -> Month:
        local = BRAND_CALENDAR.local(require_utc(at))
        return cls(local.year, local.month)

    @classmethod
    def of_day(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def starts_at(self) -> datetime:
        """The first instant of the month, in UTC."""
        return BRAND_CALENDAR.start_of(self.first_day)

    @property
    def ends_at(self) -> datetime:
        """The first instant of the next month, in UTC: the month is over from then on."""
        return self.next().starts_at

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class LineKind(str, Enum):
    ORDER = "ORDER"  # a paid order's revenue
    LATE_ORDER = "LATE_ORDER"  # revenue recorded after its month closed (clock skew, a slow commit)
    REFUND = "REFUND"
    LATE_REFUND = "LATE_REFUND"  # a refund after its order's month (or its own month) closed
    COMMISSION = "COMMISSION"  # guide commission credited on a sale of the dealer's store
    COMMISSION_CLAWBACK = "COMMISSION_CLAWBACK"  # commission taken back by a refund

    @property
    def late(self) -> LineKind:
        return {LineKind.ORDER: LineKind.LATE_ORDER, LineKind.REFUND: LineKind.LATE_REFUND}.get(self, self)


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One booking on a statement (never stored in events: statements are recomputed)."""

    order_id: UUID
    store_id: UUID | None
    guide_id: UUID | None
    kind: LineKind
    amount_fen: int
    original_month: Month  # the month the order itself was booked in
    at: datetime

    def canonical(self) -> bytes:
        """The line as hashed into ``lines_sha256``: ``|``-separated, UTC ISO time, ``\\n``-terminated."""
        parts = (
            self.kind.value,
            str(self.order_id),
            str(self.store_id or ""),
            str(self.guide_id or ""),
            str(self.amount_fen),
            str(self.original_month),
            self.at.astimezone(UTC).isoformat(),
        )
        return ("|".join(parts) + "\n").encode()


@dataclass(frozen=True, slots=True)
class StatementTotals:
    revenue_fen: int = 0
    refunds_fen: int = 0
    commission_fen: int = 0  # credited minus clawed back; negative when a month only claws back
    order_count: int = 0
    line_count: int = 0
    lines_sha256: str = hashlib.sha256().hexdigest()

    @property
    def net_fen(self) -> int:
        return self.revenue_fen - self.refunds_fen


class Tally:
    """Folds lines, in log order, into totals: constant memory, whatever the month's size."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._sums = {kind: 0 for kind in LineKind}
        self._orders = 0
        self._lines = 0

    def add(self, line: SettlementLine) -> None:
        self._hash.update(line.canonical())
        self._sums[line.kind] += line.amount_fen
        self._orders += line.kind in (LineKind.ORDER, LineKind.LATE_ORDER)
        self._lines += 1

    def totals(self) -> StatementTotals:
        s = self._sums
        return StatementTotals(
            revenue_fen=s[LineKind.ORDER] + s[LineKind.LATE_ORDER],
            refunds_fen=s[LineKind.REFUND] + s[LineKind.LATE_REFUND],
            commission_fen=s[LineKind.COMMISSION] - s[LineKind.COMMISSION_CLAWBACK],
            order_count=self._orders,
            line_count=self._lines,
            lines_sha256=self._hash.hexdigest(),
        )


def tally(lines: Iterable[SettlementLine]) -> StatementTotals:
    t = Tally()
    for line in lines:
        t.add(line)
    return t.totals()


# ---- where a line lands -------------------------------------------------------------------


def landing_month(at: datetime, last_closed: Month | None) -> Month:
    """The month of ``at``, or the first open month after the last closed one if that is later."""
    own = Month.of(at)
    return own if last_closed is None or own > last_closed else last_closed.next()


def line_kind(kind: LineKind, at: datetime, original_month: Month, last_closed: Month | None) -> LineKind:
    """ORDER/REFUND, or their late forms when recorded after their month (or the order's month) closed."""
    if kind not in (LineKind.ORDER, LineKind.REFUND) or last_closed is None:
        return kind
    if Month.of(at) <= last_closed or (kind is LineKind.REFUND and original_month <= last_closed):
        return kind.late
    return kind


def period_id(brand: str, dealer_id: str, month: Month) -> UUID:
    """A dealer is one brand's: the same dealer id in two brands is two dealers."""
    return uuid5(NAMESPACE, f"{brand}:{dealer_id}:{month}")


# ---- the aggregate ------------------------------------------------------------------------


def _totals(value: object) -> StatementTotals:
    if not isinstance(value, StatementTotals):
        raise InvalidArgument("totals must be StatementTotals", reason="INVALID_TOTALS")
    require_int(value.revenue_fen, "revenue_fen", 0)
    require_int(value.refunds_fen, "refunds_fen", 0)
    require_int(value.commission_fen, "commission_fen", -(2**62))
    require_int(value.order_count, "order_count", 0)
    require_int(value.line_count, "line_count", 0)
    if not isinstance(value.lines_sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", value.lines_sha256):
        raise InvalidArgument("lines_sha256 must be 64 lowercase hex digits", reason="INVALID_TOTALS")
    return value


class SettlementPeriod(Aggregate):
    """One dealer's closed month; its id is ``period_id(brand, dealer, month)``, so a month closes once."""

    class Closed(Aggregate.Created):
        """Version 1 (before periods recorded their brand) upcasts to brand ``""``: no caller's."""

        class_version = 2
        brand: str
        dealer_id: str
        month: str
        revenue_fen: int
        refunds_fen: int
        commission_fen: int
        order_count: int
        line_count: int
        lines_sha256: str
        through_position: int
        previous_month: str
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["brand"] = ""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before periods recorded their brand."""
        state["brand"] = ""

    class_version = 2

    @classmethod
    def close(
        cls,
        *,
        brand: str,
        dealer_id: str,
        month: Month,
        totals: StatementTotals,
        through_position: int,
        at: datetime,
        last_closed: Month | None = None,
        open_earlier: Month | None = None,
    ) -> SettlementPeriod:
        """Close ``month`` with the totals of its lines up to ``through_position`` in the global log.

        ``last_closed`` is the dealer's latest closed month and ``open_earlier`` an earlier
        month still holding open lines, if any (facts the caller reads from the read model).
        """
        require_text(brand, "brand", 64)
        require_text(dealer_id, "dealer_id", 64)
        if not isinstance(month, Month):
            raise InvalidArgument("month must be a Month", reason="INVALID_MONTH", field="month")
        _totals(totals)
        require_int(through_position, "through_position", 0)
        require_utc(at)
        for name, value in (("last_closed", last_closed), ("open_earlier", open_earlier)):
            if value is not None and not isinstance(value, Month):
                raise InvalidArgument(f"{name} must be a Month", reason="INVALID_MONTH", field=name)
        if at < month.ends_at:
            raise RuleViolation(
                f"{month} has not ended yet", reason="PERIOD_NOT_ENDED", month=month, ends_at=month.ends_at.isoformat()
            )
        if last_closed == month:
            raise AlreadyExists(f"{month} is already closed", reason="PERIOD_ALREADY_CLOSED", month=month)
        if last_closed is not None and month < last_closed:
            raise RuleViolation(
                "months close in order", reason="PERIOD_BEFORE_LAST_CLOSED", month=month, last_closed=last_closed
            )
        if open_earlier is not None and open_earlier < month:
            raise RuleViolation(
                f"{open_earlier} must be closed first",
                reason="PREVIOUS_PERIOD_OPEN",
                month=month,
                open_month=open_earlier,
            )
        return cls._create(
            cls.Closed,
            id=period_id(brand, dealer_id, month),
            brand=brand,
            dealer_id=dealer_id,
            month=str(month),
            revenue_fen=totals.revenue_fen,
            refunds_fen=totals.refunds_fen,
            commission_fen=totals.commission_fen,
            order_count=totals.order_count,
            line_count=totals.line_count,
            lines_sha256=totals.lines_sha256,
            through_position=through_position,
            previous_month=str(last_closed) if last_closed else "",
            at=at,
        )

    @event(Closed)
    def __init__(
        self,
        brand: str,
        dealer_id: str,
        month: str,
        revenue_fen: int,
        refunds_fen: int,
        commission_fen: int,
        order_count: int,
        line_count: int,
        lines_sha256: str,
        through_position: int,
        previous_month: str,
        at: datetime,
    ) -> None:
        self.brand = brand
        self.dealer_id = dealer_id
        self.month = Month.parse(month)
        self.totals = StatementTotals(revenue_fen, refunds_fen, commission_fen, order_count, line_count, lines_sha256)
        self.through_position = through_position
        self.closed_at = at


# Events carry only str, int and datetime; Month, LineKind and the totals are state and
# statement values, listed for snapshots of the aggregate.
VALUE_TYPES = (Month, LineKind, StatementTotals)
