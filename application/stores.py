"""Cloud store (云店) use cases for brand operators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from application.auth import owned
from application.commands import Answer, Call, Service
from application.unit_of_work import UnitOfWork
from domain.cloud_store import CloudStore
from domain.errors import AlreadyExists, InvalidArgument
from domain.geo import Location
from domain.identity import NAMESPACE
from domain.loyalty_args import check_brand
from domain.store_values import FulfilmentMode, OpeningHours

MAX_IMPORT = 1000


@dataclass(frozen=True)
class StoreSpec:
    code: str
    name: str
    dealer_id: str
    location: Location
    service_radius_m: int
    modes: tuple[FulfilmentMode, ...]
    hours: OpeningHours
    daily_capacity: int = 0
    online_orders_enabled: bool = True


@dataclass(frozen=True)
class StoreChanges:
    """What an operator changes on a store; None leaves it as it is."""

    hours: OpeningHours | None = None
    daily_capacity: int | None = None
    service_area: tuple[int, tuple[FulfilmentMode, ...]] | None = None
    online_orders_enabled: bool | None = None


def store_id_for(brand: str, code: str) -> UUID:
    """Deterministic per brand and store code: a store code is opened once."""
    return uuid5(NAMESPACE, f"{brand}:store:{code}")


class StoreService(Service):
    async def open(self, brand: str, spec: StoreSpec, *, call: Call | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> CloudStore:
            return await self._open(uow, brand, spec, self.clock.now())

        return await self.execute(handler, call)

    async def import_many(
        self,
        brand: str,
        specs: Sequence[StoreSpec],
        *,
        call: Call | None = None,
        limit: int | None = MAX_IMPORT,
        on_opened: Callable[[int], None] | None = None,
    ) -> Answer:
        """All or nothing: one transaction for the whole batch.

        ``limit`` bounds the batch (an API call's; the operator's command imports a whole file at
        once); ``on_opened`` is told how many stores are opened so far (progress), before the commit.
        """
        if not specs or (limit is not None and len(specs) > limit):
            raise InvalidArgument(
                f"import 1..{limit} stores per call" if limit else "import at least one store",
                reason="OUT_OF_RANGE",
                field="stores",
            )
        codes = [s.code for s in specs]
        if len(set(codes)) != len(codes):
            raise InvalidArgument("store codes repeat within the batch", reason="DUPLICATE_CODE")

        async def handler(uow: UnitOfWork) -> list[CloudStore]:
            at = self.clock.now()
            opened = []
            for spec in specs:
                opened.append(await self._open(uow, brand, spec, at))
                if on_opened is not None:
                    on_opened(len(opened))
            return opened

        return await self.execute(handler, call)

    async def _open(self, uow: UnitOfWork, brand: str, spec: StoreSpec, at: datetime) -> CloudStore:
        check_brand(brand)  # one rule for brands everywhere
        store_id = store_id_for(brand, spec.code)
        if await uow.exists(store_id):
            raise AlreadyExists(f"store code {spec.code} is already open", reason="STORE_CODE_EXISTS", code=spec.code)
        store = CloudStore.open(
            code=spec.code,
            name=spec.name,
            location=spec.location,
            service_radius_m=spec.service_radius_m,
            modes=spec.modes,
            dealer_id=spec.dealer_id,
            hours=spec.hours,
            brand=brand,
            online_orders_enabled=spec.online_orders_enabled,
            daily_capacity=spec.daily_capacity,
            at=at,
            id=store_id,
        )
        await uow.add(store)
        return store

    async def get(self, store_id: UUID, *, brand: str | None = None) -> CloudStore:
        return owned(await self.repository.get(store_id, CloudStore), brand)

    async def _change(
        self, store_id: UUID, change: Callable[[CloudStore, datetime], None], call: Call | None, brand: str | None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> CloudStore:
            store = owned(await uow.get(store_id, CloudStore), brand)
            change(store, self.clock.now())
            return store

        return await self.execute(handler, call)

    async def relocate(
        self, store_id: UUID, location: Location, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        return await self._change(store_id, lambda s, at: s.relocate(location, at), call, brand)

    async def update(
        self, store_id: UUID, changes: StoreChanges, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        """Apply the given changes in one transaction (each one its own event)."""

        def change(store: CloudStore, at: datetime) -> None:
            if changes.hours is not None:
                store.change_hours(changes.hours, at)
            if changes.daily_capacity is not None:
                store.change_capacity(changes.daily_capacity, at)
            if changes.service_area is not None:
                store.change_service_area(*changes.service_area, at)
            if changes.online_orders_enabled is not None:
                store.toggle_online_orders(changes.online_orders_enabled, at)

        if changes == StoreChanges():
            raise InvalidArgument("nothing to change", reason="EMPTY_UPDATE")
        return await self._change(store_id, change, call, brand)

    async def suspend(
        self, store_id: UUID, reason: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        return await self._change(store_id, lambda s, at: s.suspend(reason, at), call, brand)

    async def reopen(self, store_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        return await self._change(store_id, lambda s, at: s.reopen(at), call, brand)

    async def close(self, store_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        return await self._change(store_id, lambda s, at: s.close(at), call, brand)

    async def transfer(
        self,
        store_id: UUID,
        to_dealer: str,
        effective_at: datetime | None,
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        return await self._change(
            store_id, lambda s, at: s.transfer_to_dealer(to_dealer, effective_at or at, at), call, brand
        )
