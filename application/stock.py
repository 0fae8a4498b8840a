"""Store stock use cases: operators import and adjust counts and set walk-in protection; the till reports sales.

A bulk import is one unit of work over every (store, SKU) it names: every line is
checked before any is applied, so it lands whole or not at all, and each line is
idempotent by its batch id (a retried batch changes nothing; the request id makes
the retry return the first answer too). Stock starts being counted (``StoreStock``
opened) by its first import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.auth import PermissionDenied, owned
from application.clock import Clock
from application.commands import Answer, Call, Service
from application.programmes import ProgrammeCatalog
from application.stock_directory import StockDirectory
from application.unit_of_work import CommandRunner, UnitOfWork
from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument
from domain.loyalty_args import check_text
from domain.stock import Protection, StoreStock, stock_id

MAX_LINES = 5000


@dataclass(frozen=True)
class StockLine:
    """One line of an import: the store's count of a SKU (``count``) or a correction (``delta``)."""

    store_id: UUID
    sku: str
    count: int | None = None
    delta: int | None = None


def _dealer_may(store: CloudStore, dealer: str | None) -> CloudStore:
    """A dealer acts on and reads its own stores only (None: not a dealer)."""
    if dealer is not None and store.dealer_id != dealer:
        raise PermissionDenied("a dealer may only act on its own stores", reason="OTHER_DEALER", dealer=dealer)
    return store


class StockService(Service):
    def __init__(
        self, runner: CommandRunner, clock: Clock, programmes: ProgrammeCatalog, view: StockDirectory | None = None
    ) -> None:
        super().__init__(runner, clock, programmes)
        self.view = view

    async def _stock(
        self, uow: UnitOfWork, brand: str | None, store_id: UUID, sku: str, *, create: bool, dealer: str | None = None
    ) -> StoreStock:
        store = _dealer_may(owned(await self.repository.get(store_id, CloudStore), brand), dealer)
        sid = stock_id(store.id, sku)
        if await uow.exists(sid):
            return await uow.get(sid, StoreStock)
        if not create:
            await uow.get(sid, StoreStock)  # raises STORESTOCK_NOT_FOUND
        stock = StoreStock.open(brand=store.brand, store_id=store.id, sku=sku, at=self.clock.now())
        await uow.add(stock)
        return stock

    async def import_counts(
        self,
        brand: str | None,
        batch_id: str,
        lines: Sequence[StockLine],
        reason: str = "",
        *,
        call: Call | None = None,
    ) -> Answer:
        """All or nothing; idempotent per ``batch_id``."""
        check_text("batch_id", batch_id, max_length=64)
        if not 1 <= len(lines) <= MAX_LINES:
            raise InvalidArgument(f"import 1..{MAX_LINES} lines per call", reason="OUT_OF_RANGE", field="lines")
        keys = [(line.store_id, line.sku) for line in lines]
        if len(set(keys)) != len(keys):
            raise InvalidArgument("a store and SKU repeat within the batch", reason="DUPLICATE_LINE")

        async def handler(uow: UnitOfWork) -> list[StoreStock]:
            at = self.clock.now()
            ordered = sorted(lines, key=lambda line: (str(line.store_id), line.sku))  # one lock order for all
            stocks = [await self._stock(uow, brand, line.store_id, line.sku, create=True) for line in ordered]
            for stock, line in zip(
                stocks, ordered, strict=True
            ):  # check every line first: nothing applies if one is refused
                stock.check_adjustment(batch_id, delta=line.delta, count=line.count)
            for stock, line in zip(stocks, ordered, strict=True):
                stock.adjust(batch_id, at, delta=line.delta, count=line.count, reason=reason)
            return stocks

        return await self.execute(handler, call)

    async def sell_in_store(
        self,
        store_id: UUID,
        sku: str,
        qty: int,
        *,
        brand: str | None = None,
        dealer: str | None = None,
        call: Call | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> StoreStock:
            stock = await self._stock(uow, brand, store_id, sku, create=False, dealer=dealer)
            stock.sell_in_store(qty, self.clock.now())
            return stock

        return await self.execute(handler, call)

    async def protect(
        self,
        store_id: UUID,
        skus: Sequence[str],
        protection: Protection,
        *,
        brand: str | None = None,
        dealer: str | None = None,
        call: Call | None = None,
    ) -> Answer:
        """What the franchise keeps for walk-ins, for each of ``skus`` at the store."""
        if not 1 <= len(skus) <= MAX_LINES or len(set(skus)) != len(skus):
            raise InvalidArgument("name 1..5000 distinct SKUs", reason="OUT_OF_RANGE", field="skus")

        async def handler(uow: UnitOfWork) -> list[StoreStock]:
            at = self.clock.now()
            stocks = [await self._stock(uow, brand, store_id, sku, create=False, dealer=dealer) for sku in sorted(skus)]
            for stock in stocks:
                stock.protect(protection, at)
            return stocks

        return await self.execute(handler, call)

    async def get(self, store_id: UUID, sku: str, *, brand: str | None = None, dealer: str | None = None) -> StoreStock:
        store = _dealer_may(owned(await self.repository.get(store_id, CloudStore), brand), dealer)
        return await self.repository.get(stock_id(store.id, check_text("sku", sku, max_length=64)), StoreStock)

    async def levels(self, store_id: UUID, *, brand: str | None = None, dealer: str | None = None) -> list[StoreStock]:
        """Every SKU counted at the store, by SKU: which ones from the stock directory, each read afresh."""
        store = _dealer_may(owned(await self.repository.get(store_id, CloudStore), brand), dealer)
        if self.view is None:
            return []
        await self.view.catch_up()
        out = []
        for sku in self.view.skus_at(store.id, store.brand):
            stock = await self.repository.find(stock_id(store.id, sku), StoreStock)
            if stock is not None:
                out.append(stock)
        return out

    async def sweep_expired(self, store_id: UUID, sku: str) -> int:
        """Release holds past their time on one stock (a safety net: the due-payments sweep cancels the
        unpaid order, which releases its stock in the same transaction). Returns how many were released."""
        return await self.sweep_expired_stock(stock_id(store_id, sku))

    async def sweep_expired_stock(self, sid: UUID) -> int:
        """The scheduler's sweep of one stock aggregate (``sweep_expired``). Idempotent and safe beside another
        process sweeping the same stock: the holds are read on the locked aggregate, and a write built on a
        version another process has moved past is refused at commit and run again on the fresh state (which
        then finds nothing to release)."""

        async def handler(uow: UnitOfWork) -> int:
            at = self.clock.now()
            stock = await uow.get(sid, StoreStock)
            lapsed = stock.expired(at)
            for order_id in lapsed:
                stock.expire(order_id, at)
            return len(lapsed)

        return await self.execute(handler, None)
