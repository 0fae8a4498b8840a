"""Drop (限量发售) use cases: create with a committed seed, register (idempotent, invitation bonus), draw, claim,
pass unclaimed units on.

A winner's claim places the order that holds the offered units (``claim``): the drop and the order
(and the store that accepts it) commit in one unit of work, so the offer names its order exactly when
the order exists. A store pool's order is pinned to the pool's store (``pool_decision``: collected
there); an online pool's order is routed like PlaceOrder, without stock needs: the units are the
drop's allotment, not the stores' open stock (``domain.drop``). Cancelling that order, or its payment
timing out, releases the claim in the cancellation's unit of work (``OrderService._release_capacity``)
and the next pass-on offers the units to the next member in draw order.

The seed comes from a ``SeedSource`` port (the server derives it from a secret key; tests
pass a fixed one): the drop records only its SHA-256 at creation, and the draw reveals it.
The draw gathers every entry of the drop from the log (``entries``) and pins them in the
``Drawn`` event by count and digest; it waits ``DRAW_GRACE`` after registration closes so
that a registration accepted just before the close has committed before the entries are read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from application.auth import owned
from application.clock import Clock
from application.commands import Answer, Call, Service
from application.orders import OrderDraft, OrderService
from application.ports import Notifications, SeedSource
from application.programmes import ProgrammeCatalog
from application.unit_of_work import CommandRunner, UnitOfWork
from domain.attribution import EntryContext, guide_credit_for
from domain.cloud_store import CloudStore
from domain.drop import (
    Drop,
    DropEntry,
    DropPool,
    EarlyAccess,
    EntryTickets,
    InviteeFacts,
    Offer,
    commitment_of,
    entry_id,
    pool_decision,
)
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import Location
from domain.member import Member
from domain.order import Order, OrderLine
from domain.programme import LoyaltyProgramme
from domain.routing import OrderFacts
from domain.store_values import FulfilmentMode

log = logging.getLogger(__name__)

DRAW_GRACE = timedelta(seconds=30)  # longer than any command may take (the lock timeout and the call deadlines)
MAX_UPLINE = 64

ENTRY_TOPICS = tuple(
    get_topic(v) for v in vars(DropEntry).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)
)


@dataclass(frozen=True)
class DropSpec:
    name: str
    sku: str
    pools: tuple[DropPool, ...]
    registration_opens_at: datetime
    registration_closes_at: datetime
    purchase_window_minutes: int
    per_member_limit: int
    early_access: tuple[EarlyAccess, ...] = ()
    tickets_per_invite: int = 0
    invite_ticket_cap: int = 0
    price_fen: int = 0  # a unit's price; required (1 or more): 0 is refused by Drop.create


@dataclass(frozen=True)
class ClaimRequest:
    """What the claim's order needs to be fulfilled, as PlaceOrder's draft gives it.

    An online pool: ``mode`` and ``customer`` (routing measures from there), no ``pickup_store_id``. A store
    pool: collected at the pool's store: ``mode`` PICKUP (None: PICKUP), ``pickup_store_id`` the pool's store
    (None: that store), ``customer`` optional (None: the store's position)."""

    mode: FulfilmentMode | None = None
    customer: Location | None = None
    pickup_store_id: UUID | None = None


@dataclass(frozen=True)
class Claimed:
    """A claim's answer: the drop, the winner's entry and the order that holds the units."""

    drop: Drop
    entry: DropEntry
    order: Order


ENTRY_BYTES = 500
"""What one entry takes in the index, at most (its tickets, its member id, its owner row): tracemalloc measured
about 410 bytes (tests/application/test_drop_entry_index.py checks the estimate stays above what it measures)."""


class DropEntryIndex:
    """Every drop's entries as the draw sees them (``EntryTickets``: member, pool, tickets), following the log.

    Each entry event is decoded once, as it arrives (a server keeps this current in the background
    during registration), so the draw only reads the tail since the last catch-up: the draw of a
    drop with 20,000 entries does not decode 20,000 events at the draw, nor build an object per entry.
    Reads the events' fields; builds no aggregates.

    Bounded in bytes (``max_bytes``, ``ENTRY_BYTES`` an entry): past the bound the least recently used
    drops are dropped whole, and later events of a dropped drop are skipped. A dropped drop's entries
    are read again from the log when the draw (or a pass-on) asks for them: slower, never wrong.
    """

    def __init__(self, store: Notifications, mapper: Mapper[UUID], *, max_bytes: int = 64 * 2**20) -> None:
        self._store = store
        self._mapper = mapper
        self.max_bytes = max_bytes
        self.position: int | None = None
        self._drops: OrderedDict[UUID, dict[UUID, EntryTickets]] = OrderedDict()  # least recently used first
        self._owner: dict[UUID, tuple[UUID, UUID]] = {}  # entry id -> drop id, member id
        self._dropped: set[UUID] = set()  # drops whose entries were dropped for the bound (one id each)
        self._count = 0  # entries held
        self._task: asyncio.Task[None] | None = None

    @property
    def usage(self) -> tuple[int, int]:
        """Entries held and their estimated bytes."""
        return self._count, self._count * ENTRY_BYTES

    async def catch_up(self) -> None:
        while True:
            batch = await self._store.select_notifications(
                self.position, 5000, topics=ENTRY_TOPICS, inclusive_of_start=False
            )
            if not batch:
                return
            self._apply(batch)

    def _scanned(self, position: int) -> None:
        """The log was read up to ``position`` and nothing more of ours is in it: resume after it."""
        self.position = max(self.position or 0, position)

    def _apply(self, notifications: Iterable[Notification]) -> None:
        for n in notifications:
            if self.position is not None and n.id <= self.position:
                continue  # applied already (the follower and a catch-up both read it)
            self.position = n.id
            event = self._mapper.to_domain_event(n)
            if isinstance(event, DropEntry.Registered):
                if event.drop_id in self._dropped:
                    continue
                entries = self._drops.get(event.drop_id)
                if entries is None:
                    entries = self._drops[event.drop_id] = {}
                if event.member_id not in entries:
                    self._count += 1
                entries[event.member_id] = EntryTickets(event.member_id, event.store_id, 1)
                self._owner[event.originator_id] = (event.drop_id, event.member_id)
                self._drops.move_to_end(event.drop_id)
                self._bound()
            elif isinstance(event, DropEntry.BonusGranted):
                owner = self._owner.get(event.originator_id)
                if owner is None:
                    continue  # its drop was dropped for the bound
                e = self._drops[owner[0]][owner[1]]
                self._drops[owner[0]][owner[1]] = EntryTickets(e.member_id, e.store_id, e.tickets + event.tickets)

    def _bound(self, keep: UUID | None = None) -> None:
        while self._count * ENTRY_BYTES > self.max_bytes and self._drops:
            drop_id = next(iter(self._drops))
            if drop_id == keep:
                break
            self._drop(drop_id)

    def _drop(self, drop_id: UUID) -> None:
        entries = self._drops.pop(drop_id)
        for member_id in entries:
            self._owner.pop(entry_id(drop_id, member_id), None)
        self._count -= len(entries)
        self._dropped.add(drop_id)

    async def of(self, drop_id: UUID) -> list[EntryTickets]:
        """Every entry of the drop as of now (the log read up to its end)."""
        await self.catch_up()
        entries = self._drops.get(drop_id)
        if entries is not None:
            self._drops.move_to_end(drop_id)
            return list(entries.values())
        if drop_id not in self._dropped:
            return []  # nobody registered
        return await self._reread(drop_id)

    async def _reread(self, drop_id: UUID) -> list[EntryTickets]:
        """A dropped drop's entries, from the whole log of entry events up to this index's position (the
        follower skips them meanwhile); kept again if they fit the bound."""
        log.info("drop %s: its entries were dropped for the index's bound; reading them from the log", drop_id)
        entries: dict[UUID, EntryTickets] = {}
        owners: dict[UUID, UUID] = {}
        pos: int | None = None
        while True:
            batch = await self._store.select_notifications(pos, 5000, topics=ENTRY_TOPICS, inclusive_of_start=False)
            past = False
            for n in batch:
                if self.position is None or n.id > self.position:
                    past = True  # the follower has not got this far: it applies what comes next
                    break
                pos = n.id
                event = self._mapper.to_domain_event(n)
                if isinstance(event, DropEntry.Registered) and event.drop_id == drop_id:
                    entries[event.member_id] = EntryTickets(event.member_id, event.store_id, 1)
                    owners[event.originator_id] = event.member_id
                elif isinstance(event, DropEntry.BonusGranted) and event.originator_id in owners:
                    e = entries[owners[event.originator_id]]
                    entries[e.member_id] = EntryTickets(e.member_id, e.store_id, e.tickets + event.tickets)
            # every entry event up to the follower's position, as it stands now (no await since), is read
            if past or not batch or pos == self.position:
                break
        if drop_id in self._dropped and len(entries) * ENTRY_BYTES <= self.max_bytes:
            self._dropped.discard(drop_id)
            self._drops[drop_id] = entries
            self._owner.update({eid: (drop_id, m) for eid, m in owners.items()})
            self._count += len(entries)
            self._bound(keep=drop_id)
        return list(entries.values())

    def start(self) -> None:
        async def follow() -> None:
            while True:
                try:
                    async for n in self._store.subscribe(gt=self.position, topics=ENTRY_TOPICS, progress=self._scanned):
                        self._apply([n])
                except asyncio.CancelledError:
                    raise
                except Exception:  # a lost LISTEN connection: resume from the position
                    await asyncio.sleep(1)

        self._task = asyncio.create_task(follow(), name="drop-entries")

    async def stop(self) -> None:
        from application.background import stop_task

        await stop_task(self._task)


class DropService(Service):
    def __init__(
        self,
        runner: CommandRunner,
        clock: Clock,
        programmes: ProgrammeCatalog,
        seeds: SeedSource,
        mapper: Mapper[UUID],
        index: DropEntryIndex,
        orders: OrderService | None = None,
    ) -> None:
        super().__init__(runner, clock, programmes)
        self.orders = orders  # routing a claim's order (an online pool's); claims need it
        self.seeds = seeds
        self.mapper = mapper
        self.index = index  # the entries as the draw reads them, from the log (the EventStore port has no log)

    async def create(self, brand: str, spec: DropSpec, *, call: Call | None = None) -> Answer:
        drop_id = uuid4()

        async def handler(uow: UnitOfWork) -> Drop:
            for pool in spec.pools:  # a store pool names one of the brand's stores
                if pool.store_id is not None:
                    owned(await self.repository.get(pool.store_id, CloudStore), brand)
            drop = Drop.create(
                brand=brand,
                name=spec.name,
                sku=spec.sku,
                pools=spec.pools,
                registration_opens_at=spec.registration_opens_at,
                registration_closes_at=spec.registration_closes_at,
                early_access=spec.early_access,
                purchase_window_minutes=spec.purchase_window_minutes,
                per_member_limit=spec.per_member_limit,
                tickets_per_invite=spec.tickets_per_invite,
                invite_ticket_cap=spec.invite_ticket_cap,
                price_fen=spec.price_fen,
                commitment=commitment_of(self.seeds.seed_for(drop_id)),
                at=self.clock.now(),
                id=drop_id,
            )
            await uow.add(drop)
            return drop

        return await self.execute(handler, call)

    async def get(self, drop_id: UUID, *, brand: str | None = None) -> Drop:
        return owned(await self.repository.get(drop_id, Drop), brand)

    async def register(
        self,
        drop_id: UUID,
        member_id: UUID,
        *,
        store_id: UUID | None = None,
        invited_by: UUID | None = None,
        brand: str | None = None,
        call: Call | None = None,
    ) -> Answer:
        """Idempotent: a member registered already gets their entry back, unchanged."""

        async def handler(uow: UnitOfWork) -> DropEntry:
            at = self.clock.now()
            drop = owned(await self.repository.get(drop_id, Drop), brand)
            member = owned(await self.repository.get(member_id, Member), drop.brand)
            if member.merged_into is not None:
                raise RuleViolation(
                    "member was merged into another", reason="MEMBER_MERGED", survivor_id=member.merged_into
                )
            if invited_by is not None:  # another brand's member is not found, as everywhere
                owned(await self.repository.get(invited_by, Member), drop.brand)
            eid = entry_id(drop.id, member.id)
            if await uow.exists(eid):
                return await self.repository.get(eid, DropEntry)
            entry = DropEntry.register(drop=drop, member_id=member.id, tier=member.tier, store_id=store_id, at=at)
            await uow.add(entry)
            if invited_by is not None and invited_by != member.id:
                inviter_entry = entry_id(drop.id, invited_by)
                if await uow.exists(inviter_entry):  # the inviter registered first (their share link)
                    inviter = await uow.get(inviter_entry, DropEntry)
                    facts = InviteeFacts(
                        member.id,
                        member.referred_by,
                        member.registered_at,
                        member.first_paid_order is not None,
                        await self._upline(invited_by),
                    )
                    inviter.grant_bonus(drop, facts, at)  # by rule: no bonus for a self-invite, cycle or old customer
            return entry

        return await self.execute(handler, call)

    async def _upline(self, member_id: UUID) -> tuple[UUID, ...]:
        chain: list[UUID] = []
        current = (await self.repository.get(member_id, Member)).referred_by
        while current is not None and len(chain) < MAX_UPLINE and current not in chain:
            chain.append(current)
            current = (await self.repository.get(current, Member)).referred_by
        return tuple(chain)

    async def entry(self, drop_id: UUID, member_id: UUID, *, brand: str | None = None) -> DropEntry:
        drop = owned(await self.repository.get(drop_id, Drop), brand)
        return await self.repository.get(entry_id(drop.id, member_id), DropEntry)

    async def entries(self, drop_id: UUID) -> list[EntryTickets]:
        """Every entry of the drop, as the draw sees it, read from the log (``DropEntryIndex``)."""
        return await self.index.of(drop_id)

    async def draw(self, drop_id: UUID, *, brand: str | None = None, call: Call | None = None) -> Answer:
        drop = owned(await self.repository.get(drop_id, Drop), brand)
        if self.clock.now() < drop.registration_closes_at + DRAW_GRACE:
            raise RuleViolation(
                "the draw waits for registration to close",
                reason="REGISTRATION_OPEN",
                draw_from=(drop.registration_closes_at + DRAW_GRACE).isoformat(),
            )
        entries = await self.entries(drop.id)
        seed = self.seeds.seed_for(drop.id)

        async def handler(uow: UnitOfWork) -> Drop:
            locked = await uow.get(drop.id, Drop)
            locked.draw(seed, entries, self.clock.now())
            return locked

        return await self.execute(handler, call)

    async def claim(
        self,
        drop_id: UUID,
        member_id: UUID,
        request: ClaimRequest = ClaimRequest(),
        *,
        brand: str | None = None,
        call: Call | None = None,
    ) -> Answer:
        """The winner buys: one unit of work records the claim on the drop and places the order holding the
        offered units (``offer.units`` x ``price_fen``, payable until the offer's purchase window closes), accepted
        by its store. Answers ``Claimed``. A second claim of the same offer is refused (``OFFER_CLAIMED``, naming
        the order); a retry of the same request gets the first answer (the request log)."""
        if self.orders is None:
            raise RuntimeError("DropService was built without an OrderService: claims place orders")
        orders = self.orders

        async def handler(uow: UnitOfWork) -> Claimed:
            at = self.clock.now()
            drop = owned(await uow.get(drop_id, Drop), brand)  # locked first: then the store (as cancellations do)
            offer = drop.check_claim(member_id, at)  # nothing is built for a claim the drop refuses
            entry = await self.repository.get(entry_id(drop.id, member_id), DropEntry)
            if offer.store_id is None:
                order = await self._routed_order(uow, orders, drop, offer, request, at)
            else:
                order = await self._pool_order(uow, orders, drop, offer, request, at)
            drop.claim(member_id, order.id, at)
            await uow.add(order)
            return Claimed(drop, entry, order)

        return await self.execute(handler, call)

    @staticmethod
    def _lines(drop: Drop, offer: Offer) -> tuple[OrderLine, ...]:
        return (OrderLine(drop.sku, offer.units, drop.price_fen),)

    async def _placed(
        self, orders: OrderService, drop: Drop, offer: Offer, draft: OrderDraft, at: datetime
    ) -> tuple[Order, Member, OrderFacts, EntryContext, LoyaltyProgramme]:
        """The claim's order, placed (not yet routed): the winner's units at the drop's price, payable until the
        offer lapses; with what routing it needs (the member, the order's facts and entry, the programme)."""
        member, facts, entry = await orders._facts(uuid4(), draft, drop.brand)
        programme = await self.programmes.current(drop.brand)
        order = Order.place(
            member_id=member.id,
            brand=drop.brand,
            mode=draft.mode,
            customer_location=draft.customer,
            entry=entry,
            lines=draft.lines,
            at=at,
            payment_due_at=offer.expires_at,
            id=facts.order_id,
            drop_id=drop.id,
        )
        return order, member, facts, entry, programme

    async def _routed_order(
        self, uow: UnitOfWork, orders: OrderService, drop: Drop, offer: Offer, request: ClaimRequest, at: datetime
    ) -> Order:
        """An online pool's order: routed as PlaceOrder routes (the brand's precedence, eligibility, capacity,
        re-routing when a store's copy was stale; unallocated with the brand's fallback when no store can take
        it) but with no stock needs: the units are the drop's, so no store's stock is reserved."""
        if request.pickup_store_id is not None:
            raise InvalidArgument(
                "an online pool's order is routed: name no pickup store",
                reason="POOL_STORE_MISMATCH",
                field="pickup_store",
            )
        if request.mode is None:
            raise InvalidArgument("fulfilment is required", reason="FULFILMENT_MODE_REQUIRED", field="fulfilment")
        if request.customer is None:
            raise InvalidArgument(
                "customer_location is required for routing", reason="FIELD_REQUIRED", field="customer_location"
            )
        draft = OrderDraft(offer.member_id, self._lines(drop, offer), request.mode, request.customer)
        order, member, facts, entry, programme = await self._placed(orders, drop, offer, draft, at)
        # no stock needs (facts.needs is empty): PlaceOrder's routing, reserving nothing
        return await orders._allocate(uow, order, draft, facts, member, entry, programme, at, offer.expires_at)

    async def _pool_order(
        self, uow: UnitOfWork, orders: OrderService, drop: Drop, offer: Offer, request: ClaimRequest, at: datetime
    ) -> Order:
        """A store pool's order: collected at the pool's store, which accepts it (open, taking online orders,
        its daily capacity) or the claim is refused with the store's reason, nothing written."""
        assert offer.store_id is not None
        if request.mode not in (None, FulfilmentMode.PICKUP):
            raise InvalidArgument(
                "a store pool's units are collected at its store: fulfilment is PICKUP",
                reason="DROP_POOL_PICKUP_ONLY",
                field="fulfilment",
            )
        if request.pickup_store_id not in (None, offer.store_id):
            raise InvalidArgument(
                "the pickup store is the store of the winner's pool",
                reason="POOL_STORE_MISMATCH",
                field="pickup_store",
                store_id=offer.store_id,
            )
        store = await uow.get(offer.store_id, CloudStore)
        snapshot = store.snapshot(at)
        customer = request.customer or Location(snapshot.lat, snapshot.lng)
        draft = OrderDraft(offer.member_id, self._lines(drop, offer), FulfilmentMode.PICKUP, customer)
        order, _, facts, _, programme = await self._placed(orders, drop, offer, draft, at)
        credit = guide_credit_for(facts.entry, facts.bound_guide, programme.attribution, facts.departed_guides)
        decision = pool_decision(
            order.id, snapshot, customer, at, guide_credit=credit, programme_version=programme.version
        )
        store.accept_order(order.id, at)  # refused (closed, online orders off, full): the claim is refused
        order.allocate(decision, at)
        return order

    async def pass_on(self, drop_id: UUID, *, brand: str | None = None, call: Call | None = None) -> Answer:
        """Lapse the offers unclaimed past their window and offer their units to the next in draw order."""
        drop = owned(await self.repository.get(drop_id, Drop), brand)
        entries = await self.entries(drop.id)

        async def handler(uow: UnitOfWork) -> Drop:
            locked = await uow.get(drop.id, Drop)
            locked.pass_on(entries, self.clock.now())
            return locked

        return await self.execute(handler, call)

    async def pass_on_lapsed(self, drop_id: UUID) -> bool:
        """The scheduler's pass-on (``pass_on``): True if offers lapsed here. Idempotent and safe beside another
        process doing the same: the lapsed offers are read on the locked drop, and a write built on a version
        another process has moved past is refused at commit and run again on the fresh drop, which has none."""
        drop = await self.repository.get(drop_id, Drop)
        if not drop.drawn or not drop.to_pass_on(self.clock.now()):
            return False
        entries = await self.entries(drop.id)

        async def handler(uow: UnitOfWork) -> bool:
            at = self.clock.now()
            locked = await uow.get(drop.id, Drop)
            if not locked.to_pass_on(at):
                return False
            locked.pass_on(entries, at)
            return True

        return await self.execute(handler, None)
