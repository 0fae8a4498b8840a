"""Dealer settlement use cases: read a month's statement, close a month.

An open month's statement is computed from the settlement read model; a
closed month's totals are the ones its ``SettlementPeriod.Closed`` event
froze, and the read model's lines are recomputed beside them
(``reproduced``), so an auditor sees at once whether the events still say
what was settled. Both read at one log position, so totals and lines agree
even while new bookings arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.clock import Clock
from application.commands import Answer, Call, Service
from application.programmes import ProgrammeCatalog
from application.unit_of_work import CommandRunner, UnitOfWork
from domain.errors import AlreadyExists, NotFound
from domain.settlement import Month, SettlementLine, SettlementPeriod, StatementTotals, Tally, period_id

MAX_PAGE = 5000


class SettlementLines(Protocol):
    """What the use cases need from the read model (infrastructure.projections.settlement)."""

    async def catch_up(self) -> int: ...

    async def last_closed(self, brand: str, dealer_id: str) -> Month | None: ...

    async def open_month_before(self, brand: str, dealer_id: str, month: Month) -> Month | None: ...

    def lines(
        self, brand: str, dealer_id: str, month: Month, *, through: int, after: int = 0, limit: int | None = None
    ) -> AsyncIterator[tuple[int, SettlementLine]]: ...


@dataclass(frozen=True)
class Statement:
    dealer_id: str
    month: Month
    closed: bool
    totals: StatementTotals
    closed_at: datetime | None = None
    reproduced: bool = True  # the lines recompute the totals (always true for an open month)
    lines: tuple[SettlementLine, ...] = ()
    next_after: int = 0  # log position to continue the lines from; 0 when there are no more


class SettlementService(Service):
    def __init__(
        self, runner: CommandRunner, clock: Clock, programmes: ProgrammeCatalog, read_model: SettlementLines
    ) -> None:
        super().__init__(runner, clock, programmes)
        self.read_model = read_model

    async def _tally(self, brand: str, dealer_id: str, month: Month, through: int) -> StatementTotals:
        tally = Tally()
        async for _, line in self.read_model.lines(brand, dealer_id, month, through=through):
            tally.add(line)
        return tally.totals()

    async def _closed(self, brand: str, dealer_id: str, month: Month) -> SettlementPeriod | None:
        try:
            return await self.repository.get(period_id(brand, dealer_id, month), SettlementPeriod)
        except NotFound:
            return None

    async def statement(
        self, brand: str, dealer_id: str, month: Month, *, page_size: int = 1000, after: int = 0
    ) -> Statement:
        """Totals of the brand's dealer's whole month and one page of its lines after log position ``after``."""
        position = await self.read_model.catch_up()
        period = await self._closed(brand, dealer_id, month)
        through = period.through_position if period is not None else position
        computed = await self._tally(brand, dealer_id, month, through)
        page = [
            x
            async for x in self.read_model.lines(
                brand, dealer_id, month, through=through, after=after, limit=page_size + 1
            )
        ]
        more = len(page) > page_size
        lines = tuple(line for _, line in page[:page_size])
        next_after = page[page_size - 1][0] if more else 0
        if period is None:
            return Statement(dealer_id, month, False, computed, lines=lines, next_after=next_after)
        return Statement(
            dealer_id, month, True, period.totals, period.closed_at, computed == period.totals, lines, next_after
        )

    async def close(self, brand: str, dealer_id: str, month: Month, *, call: Call | None = None) -> Answer:
        """Freeze the month's statement as a ``SettlementPeriod.Closed`` event (totals only, no lines)."""

        async def handler(uow: UnitOfWork) -> Statement:
            at = self.clock.now()
            if await uow.exists(period_id(brand, dealer_id, month)):
                raise AlreadyExists(f"{month} is already closed", reason="PERIOD_ALREADY_CLOSED", month=month)
            position = await self.read_model.catch_up()
            period = SettlementPeriod.close(
                brand=brand,
                dealer_id=dealer_id,
                month=month,
                totals=await self._tally(brand, dealer_id, month, position),
                through_position=position,
                at=at,
                last_closed=await self.read_model.last_closed(brand, dealer_id),
                open_earlier=await self.read_model.open_month_before(brand, dealer_id, month),
            )
            await uow.add(period)
            return Statement(dealer_id, month, True, period.totals, at)

        return await self.execute(handler, call)
