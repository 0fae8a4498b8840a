"""A seeded random workload through the application services, as the server wires them.

Two brands with different programmes (calendar-year and 30-day rolling expiry),
stores of two dealers, guides, members with referrals; then a random walk of
orders, payments, refunds, settlements, rule points, redemptions, adjustments,
merges, guide bindings and handovers, with the clock moving hours to weeks at a
time. Commands the domain refuses are part of the walk (they write nothing).

``checkpoint`` records what the aggregates say at that moment (points liability
per brand, every store's dealer ledger) and then moves the clock past the next
local midnight, so the moment is a clean "as of" boundary for later queries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import Mapper

from application.clock import ManualClock
from application.guides import GuideService
from application.members import MemberService
from application.orders import OrderDraft, OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.store_directory import StoreDirectory
from application.stores import StoreService, StoreSpec
from application.unit_of_work import CommandRunner
from domain.attribution import EntryKind
from domain.cloud_store import CloudStore
from domain.errors import DomainError
from domain.geo import Location
from domain.guide import Guide
from domain.member import Member
from domain.order import OrderLine, OrderStatus
from domain.programme import SHANGHAI, CapPeriod, ExpiryPolicy, LoyaltyProgramme
from domain.store_values import FulfilmentMode, OpeningHours
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from infrastructure.projections.points_liability import last_usable_month

START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
BRANDS = ("acme", "brio")
PROGRAMMES = (
    LoyaltyProgramme.default("acme"),
    LoyaltyProgramme(
        brand="brio",
        version=1,
        points_per_yuan=2,
        pending_days=3,
        expiry_policy=ExpiryPolicy.ROLLING_DAYS,
        expiry_days=30,
        referral_reward_points=50,
        referral_cap_per_period=1,
        referral_cap_period=CapPeriod.CALENDAR_MONTH,
        protection_days=0,
        handover_waiting_hours=1,
        guide_customer_limit=6,
        return_window_days=3,
    ),
)


@dataclass
class Expected:
    """What the aggregates said at one checkpoint."""

    at: datetime
    liability: dict[
        str, tuple[int, int, int, tuple[tuple[str | None, int], ...]]
    ]  # brand -> avail, pending, debt, profile
    ledgers: dict[tuple[str, str], dict[UUID, tuple[int, int]]]  # (brand, dealer) -> store -> (revenue, refunded)


@dataclass
class World:
    store: EventStore
    clock: ManualClock
    repository: Repository
    directory: StoreDirectory
    members: MemberService
    stores: StoreService
    guides: GuideService
    orders: OrderService
    rng: random.Random
    member_ids: dict[str, list[UUID]] = field(default_factory=lambda: {b: [] for b in BRANDS})
    guide_ids: dict[str, list[UUID]] = field(default_factory=lambda: {b: [] for b in BRANDS})
    store_ids: list[UUID] = field(default_factory=list)  # every brand's
    brand_store_ids: dict[str, list[UUID]] = field(default_factory=lambda: {b: [] for b in BRANDS})
    order_ids: list[UUID] = field(default_factory=list)
    settled: set[UUID] = field(default_factory=set)
    checkpoints: list[Expected] = field(default_factory=list)
    refused: int = 0

    @classmethod
    async def build(cls, store: EventStore, seed: int, mapper: Mapper | None = None) -> World:
        mapper = mapper or build_mapper({})
        repository = Repository(store, mapper, snapshot_interval=10)
        runner = CommandRunner(repository)
        clock = ManualClock(START)
        programmes = ProgrammeCatalog(runner, clock, PROGRAMMES)
        directory = StoreDirectory(store, mapper)
        await directory.load()
        return cls(
            store,
            clock,
            repository,
            directory,
            MemberService(runner, clock, programmes),
            StoreService(runner, clock, programmes),
            GuideService(runner, clock, programmes),
            OrderService(runner, clock, programmes, directory),
            random.Random(seed),
        )

    # --- the walk -----------------------------------------------------------------------------

    async def run(self, steps: int, checkpoints: int = 2) -> World:
        """Walk ``steps`` random steps (the first call opens stores, hires guides, registers members)."""
        if not self.store_ids:
            await self._populate()
        marks = {steps * (k + 1) // (checkpoints + 1) for k in range(checkpoints)}
        actions = [
            (self._register, 2),
            (self._bind, 2),
            (self._order, 6),
            (self._refund, 2),
            (self._settle, 1),
            (self._earn, 2),
            (self._redeem, 3),
            (self._adjust, 1),
            (self._merge, 1),
            (self._handover, 1),
            (self._misc_guide, 1),
        ]
        population = [a for a, w in actions for _ in range(w)]
        for step in range(steps):
            brand = self.rng.choice(BRANDS)
            try:
                await self.rng.choice(population)(brand)
            except DomainError:
                self.refused += 1
            self.clock.advance(hours=self.rng.choice((1, 3, 9, 26, 26, 50, 170)))
            if step in marks:
                await self.checkpoint()
        return self

    async def _populate(self) -> None:
        await self._open_stores()
        for brand in BRANDS:
            for i in range(3):
                guide = await self.guides.hire(brand, self.brand_store_ids[brand][i], f"wx-{brand}-{i}", f"Guide {i}")
                self.guide_ids[brand].append(guide.id)
            for _ in range(6):
                await self._register(brand)

    async def _open_stores(self) -> None:
        places = ((31.2310, 121.4740, "D1"), (31.2400, 121.4800, "D2"), (31.2200, 121.4600, "D1"))
        for b, brand in enumerate(BRANDS):  # each brand its own stores, a few hundred metres apart; same dealer ids
            for i, (lat, lng, dealer) in enumerate(places):
                spec = StoreSpec(
                    code=f"S{i}",
                    name=f"Store {i}",
                    dealer_id=dealer,
                    location=Location(lat + 0.003 * b, lng),
                    service_radius_m=30_000,
                    modes=(FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP),
                    hours=OpeningHours.always(),
                )
                store_id = (await self.stores.open(brand, spec)).id
                self.store_ids.append(store_id)
                self.brand_store_ids[brand].append(store_id)
        await self.directory.catch_up()

    def _pick(self, ids: list[UUID]) -> UUID:
        return self.rng.choice(ids)

    async def _register(self, brand: str) -> None:
        ids = self.member_ids[brand]
        referrer = self._pick(ids) if ids and self.rng.random() < 0.5 else None
        member = await self.members.register(brand, f"o-{brand}-{len(ids)}", referrer_id=referrer)
        ids.append(member.id)

    async def _bind(self, brand: str) -> None:
        await self.members.bind_guide(self._pick(self.member_ids[brand]), self._pick(self.guide_ids[brand]))

    async def _order(self, brand: str) -> None:
        entry = self.rng.choice((EntryKind.NONE, EntryKind.NONE, EntryKind.GUIDE_SHARE))
        draft = OrderDraft(
            member_id=self._pick(self.member_ids[brand]),
            lines=(OrderLine("SKU-1", self.rng.randint(1, 3), self.rng.choice((99, 4_990, 12_800, 39_900))),),
            mode=FulfilmentMode.DELIVERY,
            customer=Location(31.2305, 121.4738),
            entry_kind=entry,
            entry_guide_id=self._pick(self.guide_ids[brand]) if entry is EntryKind.GUIDE_SHARE else None,
        )
        order = await self.orders.place(draft)
        if order.status is OrderStatus.ALLOCATED and self.rng.random() < 0.9:  # some stay unpaid (due payments)
            await self.orders.pay(order.id, order.total_fen)
            self.order_ids.append(order.id)
        await self.directory.catch_up()

    async def _paid_order(self):
        if not self.order_ids:
            raise _Nothing("no orders yet")
        return await self.orders.get(self._pick(self.order_ids))

    async def _refund(self, brand: str) -> None:
        order = await self._paid_order()
        left = order.paid_fen - order.refunded_fen
        if left > 0:
            amount = left if self.rng.random() < 0.5 else self.rng.randint(1, left)
            await self.orders.refund(order.id, f"r-{self.rng.random()}", amount)

    async def _settle(self, brand: str) -> None:
        """The nightly job: settle every order past its return window (commission, referral reward)."""
        for order_id in self.order_ids:
            if order_id not in self.settled:
                try:
                    await self.orders.settle(order_id)
                    self.settled.add(order_id)
                except DomainError:
                    self.refused += 1

    async def _earn(self, brand: str) -> None:
        await self.members.earn_points(self._pick(self.member_ids[brand]), "SIGN_IN", self.rng.randint(1, 80))

    async def _redeem(self, brand: str) -> None:
        member_id = self._pick(self.member_ids[brand])
        balance = (await self.members.get(member_id)).balance(self.clock.now())
        await self.members.redeem_points(
            member_id, max(1, self.rng.randint(1, max(1, balance))), f"x-{self.rng.random()}"
        )

    async def _adjust(self, brand: str) -> None:
        points = self.rng.choice((-30, -5, 10, 120))
        await self.members.adjust_points(self._pick(self.member_ids[brand]), points, "goodwill", "ops", None)

    async def _merge(self, brand: str) -> None:
        a, b = self.rng.sample(self.member_ids[brand], 2)
        await self.members.merge(a, b)

    async def _handover(self, brand: str) -> None:
        giver, receiver = self.rng.sample(self.guide_ids[brand], 2)
        await self.guides.inherit(giver, receiver, ())
        guide = await self.guides.get(receiver)
        for member_id in list(guide.incoming)[:2]:
            await self.guides.conclude(receiver, member_id, self.rng.random() < 0.7, "")

    async def _misc_guide(self, brand: str) -> None:
        guide_id = self._pick(self.guide_ids[brand])
        if self.rng.random() < 0.2:
            await self.guides.release(guide_id)  # leaves; a later handover from them is a resignation
        elif self.rng.random() < 0.5:
            await self.guides.complete_due(guide_id)
        else:
            await self.guides.move(guide_id, self._pick(self.brand_store_ids[brand]))
        await self.directory.catch_up()

    # --- what the aggregates say --------------------------------------------------------------

    async def all_members(self) -> list[Member]:
        return [await self.members.get(m) for ids in self.member_ids.values() for m in ids]

    async def all_guides(self) -> list[Guide]:
        return [await self.guides.get(g) for ids in self.guide_ids.values() for g in ids]

    async def checkpoint(self) -> None:
        at = self.clock.now()
        liability = {}
        for brand in BRANDS:
            members = [await self.members.get(m) for m in self.member_ids[brand]]
            profile: dict[str | None, int] = {}
            for member in members:
                for lot, remaining in member.lots():
                    if remaining > 0 and not lot.is_expired(at):
                        month = last_usable_month(lot.expires_at)
                        profile[month] = profile.get(month, 0) + remaining
            liability[brand] = (
                sum(m.balance(at) for m in members),
                sum(m.pending(at) for m in members),
                sum(m.debt for m in members),
                tuple(sorted(profile.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))),
            )
        ledgers: dict[tuple[str, str], dict[UUID, tuple[int, int]]] = {}  # by (brand, dealer): a brand's dealer
        for brand in BRANDS:
            for store_id in self.brand_store_ids[brand]:
                for dealer, totals in (await self.repository.get(store_id, CloudStore)).ledger().items():
                    ledgers.setdefault((brand, dealer), {})[store_id] = (totals.revenue_fen, totals.refunds_fen)
        self.checkpoints.append(Expected(at, liability, ledgers))
        local = at.astimezone(SHANGHAI)
        midnight = datetime(local.year, local.month, local.day, tzinfo=SHANGHAI) + timedelta(days=1)
        self.clock.advance(seconds=(midnight - at).total_seconds() + 3600)


class _Nothing(DomainError):
    """Nothing to act on yet: a refused step of the walk."""
