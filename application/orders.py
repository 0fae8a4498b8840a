"""Order use cases: place (route + attribute), simulate, pay, fulfil, cancel, refund, settle.

Placing an order routes it to the nearest eligible cloud store and books it on
that store in the same transaction; if the store turns out full or closed
when locked (another process got there first), routing runs again with that
store's fresh state. Paying earns the member's points, books revenue to the
store's dealer as of acceptance (the order's ``dealer_id``, fixed by its
routing decision), and freezes the guide's commission; refunding reverses all
three in proportion, the store's part against that same dealer.

Routing follows the attribution precedence of the member's brand
(``programme.attribution`` of the programme in force), so brands tune it by
publishing a programme rather than by configuring the server; each decision
records that programme's version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from application.auth import owned
from application.clock import Clock
from application.commands import Answer, Call, Service
from application.programmes import ProgrammeCatalog
from application.stock_directory import StockDirectory
from application.store_directory import StoreDirectory
from application.unit_of_work import CommandRunner, Conflict, UnitOfWork
from domain.attribution import AttributionPolicy, EntryContext, EntryKind, GuideRef, StockFallback
from domain.cloud_store import CloudStore
from domain.drop import Drop
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import Location
from domain.guide import Guide
from domain.member import Member
from domain.order import Order, OrderLine, OrderStatus
from domain.programme import LoyaltyProgramme
from domain.routing import (
    OrderFacts,
    Rejection,
    RoutingDecision,
    StockNeed,
    StoreSnapshot,
    UnallocatedReason,
    part_decision,
)
from domain.stock import StoreStock, stock_id
from domain.store_values import FulfilmentMode

MAX_REROUTES = 8  # each stale store is corrected once, so this bounds a pathological race
MAX_MERGE_CHAIN = 32  # A merged into B merged into C...: far beyond any real chain of merges
DEFAULT_HOLD = timedelta(minutes=120)  # a stock order's payment time when the programme sets none: stock is never
# held without a time limit (the due-payments sweep releases it)


@dataclass(frozen=True)
class OrderDraft:
    member_id: UUID
    lines: tuple[OrderLine, ...]
    mode: FulfilmentMode
    customer: Location
    entry_kind: EntryKind = EntryKind.NONE
    entry_store_id: UUID | None = None
    entry_guide_id: UUID | None = None


async def surviving_member(uow: UnitOfWork, member_id: UUID) -> Member:
    """The member an order's points and rewards go to: its own member, or whoever absorbed it in a merge.

    An order placed before a merge keeps naming the absorbed member; paying,
    refunding and settling it act on the survivor, which carried the absorbed
    member's order lots over (``Member.absorb``).
    """
    for _ in range(MAX_MERGE_CHAIN):
        member = await uow.get(member_id, Member)
        if member.merged_into is None:
            return member
        member_id = member.merged_into
    raise RuleViolation("member merged too many times over", reason="MERGE_CHAIN_TOO_LONG")


def _allocation(order: Order) -> tuple[UUID, str] | None:
    """The store an allocated order went to and that store's dealer (an allocated decision names both)."""
    decision = order.decision
    if decision is None or decision.store_id is None or decision.dealer_id is None:
        return None
    return decision.store_id, decision.dealer_id


class OrderService(Service):
    def __init__(
        self,
        runner: CommandRunner,
        clock: Clock,
        programmes: ProgrammeCatalog,
        directory: StoreDirectory,
        stock: StockDirectory | None = None,
    ) -> None:
        super().__init__(runner, clock, programmes)
        self.directory = directory
        self.stock = stock

    def _needs(self, lines: tuple[OrderLine, ...], brand: str) -> tuple[StockNeed, ...]:
        """The order's stock-tracked lines, one need per SKU (SKU order: the order stock aggregates are locked in)."""
        if self.stock is None:
            return ()
        qty: dict[str, int] = {}
        for line in lines:
            if self.stock.tracked(brand, line.sku):
                qty[line.sku] = qty.get(line.sku, 0) + line.qty
        return tuple(StockNeed(sku, qty[sku]) for sku in sorted(qty))

    async def _route(
        self,
        facts: OrderFacts,
        policy: AttributionPolicy,
        at: datetime,
        overrides: dict[UUID, StoreSnapshot],
        stock_overrides: dict[UUID, dict[str, int]],
        version: int,
        brand: str,
    ) -> RoutingDecision:
        """The directory's decision, on known stock figures: while a candidate's figures were dropped by the stock
        directory for its memory bound (a store near the customer, or one the stock fallback was offered as a
        possible holder), read them afresh into ``stock_overrides`` and route again. The decision is the one an
        unbounded directory gives; the bound costs only these reads. Ends: each round reads stores not read
        before, of finitely many."""
        if not facts.needs or self.stock is None:
            return self.directory.route(facts, policy, at, overrides, programme_version=version, brand=brand)
        skus = [n.sku for n in facts.needs]
        view = self.stock

        def figures(store_id: UUID) -> dict[str, int]:
            fresh = stock_overrides.get(store_id)
            return fresh if fresh is not None else view.figures([store_id], skus)[store_id]

        while True:
            holders = (
                view.stores_holding(brand, skus, stock_overrides)
                if policy.stock_fallback is not StockFallback.UNALLOCATED
                else ()
            )
            decision = self.directory.route(
                facts, policy, at, overrides, programme_version=version, brand=brand, stock=figures, holders=holders
            )
            if not await self._read_unknown_stock(decision, stock_overrides, brand):
                return decision

    @staticmethod
    def _refuse_out_of_stock(decision: RoutingDecision) -> None:
        """No store considered holds every line (and no split does): the units are gone; refuse, explaining."""
        if (
            decision.needs
            and decision.candidates
            and all(Rejection.OUT_OF_STOCK in c.rejections for c in decision.candidates)
        ):
            raise RuleViolation(
                "no store can hold every line of this order: "
                + ", ".join(f"{n.qty} x {n.sku}" for n in decision.needs),
                reason="OUT_OF_STOCK",
                skus=",".join(n.sku for n in decision.needs),
                stores_considered=len(decision.candidates),
            )

    async def _facts(
        self, order_id: UUID, draft: OrderDraft, brand: str | None
    ) -> tuple[Member, OrderFacts, EntryContext]:
        """The member and its entry (store QR, guide share) must belong to ``brand`` (the caller's)."""
        member = owned(await self.repository.get(draft.member_id, Member), brand)
        if member.merged_into is not None:  # new orders name the survivor; orders placed before still work
            raise RuleViolation(
                "member was merged into another", reason="MEMBER_MERGED", survivor_id=member.merged_into
            )
        if member.erased:  # nobody to deliver to: the person is forgotten (orders placed before still work)
            raise RuleViolation("member's personal data was erased", reason="MEMBER_ERASED")
        departed: set[UUID] = set()
        if draft.entry_kind is EntryKind.STORE_QR:
            if draft.entry_store_id is None:
                raise InvalidArgument("a store QR entry names its store", reason="FIELD_REQUIRED", field="entry.store")
            owned(await self.repository.get(draft.entry_store_id, CloudStore), member.brand)
            entry = EntryContext.store_qr(draft.entry_store_id)
        elif draft.entry_kind is EntryKind.GUIDE_SHARE:
            if draft.entry_guide_id is None:
                raise InvalidArgument(
                    "a guide share entry names its guide", reason="FIELD_REQUIRED", field="entry.guide"
                )
            guide = owned(await self.repository.get(draft.entry_guide_id, Guide), member.brand)
            entry = EntryContext.guide_share(guide.id, guide.store_id)
            if not guide.employed:
                departed.add(guide.id)
        else:
            entry = EntryContext.none()
        bound = None
        if member.guide_id is not None:  # the guide's store now, not the one cached at binding (MoveGuide)
            guide = await self.repository.get(member.guide_id, Guide)
            bound = GuideRef(guide.id, guide.store_id)
            if not guide.employed:
                departed.add(guide.id)
        facts = OrderFacts(
            order_id, draft.mode, draft.customer, entry, bound, member.home_store_id, frozenset(departed)
        )
        return member, facts, entry

    async def _merge_chain(self, member_id: UUID) -> list[Member]:
        """The member, then whoever absorbed it, and so on to the surviving member (read only)."""
        chain = [await self.repository.get(member_id, Member)]
        while chain[-1].merged_into is not None and len(chain) <= MAX_MERGE_CHAIN:
            chain.append(await self.repository.get(chain[-1].merged_into, Member))
        return chain

    async def settle_due_at(self, order: Order) -> datetime:
        """When a paid order settles: fixed at payment (``Order.Paid.settle_due_at``).

        Orders paid before the event carried it are derived once, the same way, from
        the programme that was in force when they were paid.
        """
        if order.settle_due_at is not None:
            return order.settle_due_at
        assert order.paid_at is not None
        programme = await self.programmes.in_force_at(order.brand, order.paid_at)
        return order.paid_at + timedelta(days=programme.return_window_days)

    async def simulate(self, draft: OrderDraft, *, brand: str | None = None) -> RoutingDecision:
        """What-if: the decision an order would get now. Writes nothing."""
        member, facts, _ = await self._facts(uuid4(), draft, brand)
        facts = replace(facts, needs=self._needs(draft.lines, member.brand))
        programme = await self.programmes.current(member.brand)
        at = self.clock.now()
        return await self._route(facts, programme.attribution, at, {}, {}, programme.version, member.brand)

    async def place(self, draft: OrderDraft, *, call: Call | None = None, brand: str | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            member, facts, entry = await self._facts(uuid4(), draft, brand)
            needs = self._needs(draft.lines, member.brand)
            facts = replace(facts, needs=needs)
            programme = await self.programmes.current(member.brand)
            due = programme.payment_due_at(at) or (at + DEFAULT_HOLD if needs else None)
            order = Order.place(
                member_id=member.id,
                brand=member.brand,
                mode=draft.mode,
                customer_location=draft.customer,
                entry=entry,
                lines=draft.lines,
                at=at,
                payment_due_at=due,
                id=facts.order_id,
            )
            order = await self._allocate(uow, order, draft, facts, member, entry, programme, at, due)
            await uow.add(order)
            return order

        return await self.execute(handler, call)

    async def _allocate(
        self,
        uow: UnitOfWork,
        order: Order,
        draft: OrderDraft,
        facts: OrderFacts,
        member: Member,
        entry: EntryContext,
        programme: LoyaltyProgramme,
        at: datetime,
        due: datetime | None,
    ) -> Order:
        """Route ``order`` and have its store accept it (reserving its stock-tracked lines, ``facts.needs``), or
        leave it unallocated, or split it; re-routed while the router's copies of stores or stock prove stale.
        Returns the order to add (the first part of a split: its other parts are added here)."""
        needs = facts.needs
        policy, version = programme.attribution, programme.version
        overrides: dict[UUID, StoreSnapshot] = {}
        stock_overrides: dict[UUID, dict[str, int]] = {}
        for _ in range(MAX_REROUTES):
            decision = await self._route(facts, policy, at, overrides, stock_overrides, version, member.brand)
            if decision.store_id is None:  # not allocated
                if await self._refresh_full_stores(decision, overrides, at):
                    continue  # the router's copy may lag a release: route again on fresh counts
                if await self._refresh_stock(uow, decision, stock_overrides):
                    continue  # ... or a release of stock
                if decision.unallocated_reason is UnallocatedReason.SPLIT:
                    parts = await self._split(uow, decision, draft, member, entry, due, at, stock_overrides)
                    if parts is None:
                        continue  # a part's store was short on fresh figures: route again
                    for part in parts[1:]:
                        await uow.add(part)
                    order = parts[0]
                    break
                self._refuse_out_of_stock(decision)
                order.leave_unallocated(decision, at)
                break
            store = await uow.get(decision.store_id, CloudStore)
            if store.dealer_at(at) == decision.dealer_id:  # else transferred meanwhile
                stocks = [await uow.get(stock_id(store.id, n.sku), StoreStock) for n in needs]  # SKU order
                if self.stock is not None and self.stock.dropped:  # bring rows dropped for the bound back
                    for s in stocks:
                        if self.repository.pending_ticket(s.id) is None:  # committed state only
                            self.stock.observe(s)
                if any(s.available_online < n.qty for s, n in zip(stocks, needs, strict=True)):
                    stock_overrides[store.id] = {s.sku: s.available_online for s in stocks}
                    continue  # the router's copy of the stock was stale: route again on fresh figures
                try:
                    store.accept_order(order.id, at)
                except RuleViolation:
                    pass  # full or closed meanwhile
                else:
                    for s, n in zip(stocks, needs, strict=True):
                        assert due is not None  # an order holding stock always has a payment time
                        s.reserve(order.id, n.qty, due, at)  # checked above: cannot be refused
                    order.allocate(decision, at)
                    break
            overrides[store.id] = store.snapshot(at)  # the router's copy was stale: route again
        else:
            raise Conflict("stores kept changing while the order was routed", attempts=MAX_REROUTES)
        return order

    async def _read_unknown_stock(
        self, decision: RoutingDecision, stock_overrides: dict[UUID, dict[str, int]], brand: str
    ) -> bool:
        """Candidates whose stock figures the directory dropped for its memory bound: read them afresh (True: route
        again on them). Never the case while the directory holds every row."""
        if self.stock is None or not decision.needs:
            return False
        skus = [n.sku for n in decision.needs]
        unknown = [
            c.store_id
            for c in decision.candidates
            if c.store_id not in stock_overrides and self.stock.unknown(c.store_id, skus, brand)
        ]
        for store_id in unknown:
            figures = {}
            for sku in skus:
                stock = await self.repository.find(stock_id(store_id, sku), StoreStock)
                figures[sku] = stock.available_online if stock is not None else 0
                if stock is not None:
                    self.stock.observe(stock)
            stock_overrides[store_id] = figures
        return bool(unknown)

    async def _refresh_full_stores(
        self, decision: RoutingDecision, overrides: dict[UUID, StoreSnapshot], at: datetime
    ) -> bool:
        """Before leaving an order unallocated: re-read the stores the router found full and nothing else
        wrong with (a cancellation may have released a slot the directory has not seen yet)."""
        full = [
            c.store_id
            for c in decision.candidates
            if c.rejections == (Rejection.CAPACITY_REACHED,) and c.store_id not in overrides
        ][:MAX_REROUTES]
        for store_id in full:
            overrides[store_id] = (await self.repository.get(store_id, CloudStore)).snapshot(at)
        return bool(full)

    async def _split(
        self,
        uow: UnitOfWork,
        decision: RoutingDecision,
        draft: OrderDraft,
        member: Member,
        entry: EntryContext,
        due: datetime | None,
        at: datetime,
        stock_overrides: dict[UUID, dict[str, int]],
    ) -> list[Order] | None:
        """One order per part of a split decision, each allocated to its own store (booked to its dealer) and holding
        its SKUs there; lines of untracked SKUs go with the first part. None: a store was short, nothing changed."""
        stores = {}  # lock order as everywhere: stores, then their stock, each sorted
        for part in sorted(decision.split, key=lambda p: str(p.store_id)):
            stores[part.store_id] = await uow.get(part.store_id, CloudStore)
        holds = []
        for part in sorted(decision.split, key=lambda p: str(p.store_id)):
            for n in part.needs:
                await uow.get(stock_id(part.store_id, n.sku), StoreStock)
        for part in decision.split:
            stocks = [await uow.get(stock_id(part.store_id, n.sku), StoreStock) for n in part.needs]
            if any(s.available_online < n.qty for s, n in zip(stocks, part.needs, strict=True)):
                stock_overrides[part.store_id] = {s.sku: s.available_online for s in stocks}
                return None
            holds.append(stocks)
        tracked = {n.sku for n in decision.needs}
        orders = []
        for i, (part, stocks) in enumerate(zip(decision.split, holds, strict=True)):
            skus = {n.sku for n in part.needs}
            lines = tuple(line for line in draft.lines if line.sku in skus or (i == 0 and line.sku not in tracked))
            store = stores[part.store_id]
            if store.dealer_at(at) != part.dealer_id:
                raise Conflict("a store of the split changed hands while the order was routed")
            part_order = Order.place(
                member_id=member.id,
                brand=member.brand,
                mode=draft.mode,
                customer_location=draft.customer,
                entry=entry,
                lines=lines,
                at=at,
                payment_due_at=due,
                id=part.order_id,
            )
            store.accept_order(part_order.id, at)  # refused (full, closed): the whole order is refused, unwritten
            for s, n in zip(stocks, part.needs, strict=True):
                assert due is not None  # an order holding stock always has a payment time
                s.reserve(part_order.id, n.qty, due, at)
            part_order.allocate(part_decision(decision, i), at)
            orders.append(part_order)
        return orders

    async def _refresh_stock(
        self, uow: UnitOfWork, decision: RoutingDecision, stock_overrides: dict[UUID, dict[str, int]]
    ) -> bool:
        """Before refusing or leaving an order unallocated for stock: read the nearest few stores refused only for
        stock afresh (the directory may not have seen a release yet)."""
        if not decision.needs:
            return False
        short = [
            c.store_id
            for c in decision.candidates
            if Rejection.OUT_OF_STOCK in c.rejections and c.store_id not in stock_overrides
        ][:2]
        for store_id in short:
            figures = {}
            for n in decision.needs:
                sid = stock_id(store_id, n.sku)
                figures[n.sku] = (
                    (await self.repository.get(sid, StoreStock)).available_online if await uow.exists(sid) else 0
                )
            stock_overrides[store_id] = figures
        return any(all(f.get(n.sku, 0) >= n.qty for n in decision.needs) for f in (stock_overrides[s] for s in short))

    async def get(self, order_id: UUID, *, brand: str | None = None) -> Order:
        return owned(await self.repository.get(order_id, Order), brand)

    async def pay(self, order_id: UUID, paid_fen: int, *, call: Call | None = None, brand: str | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            order = owned(await uow.get(order_id, Order), brand)
            programme = await self.programmes.current(order.brand)
            order.pay(paid_fen, programme, at)  # fixes settle_due_at from the programme in force now
            for stock in await self._held_stock(uow, order):
                stock.commit(order.id, at)  # held until fulfilment; no longer expires
            member = await surviving_member(uow, order.member_id)
            member.earn_points_for_order(str(order.id), paid_fen, programme, at)
            member.evaluate_tier(programme, at)
            if (allocation := _allocation(order)) is not None:
                store = await uow.get(allocation[0], CloudStore)
                store.attribute_order(order.id, allocation[1], paid_fen, at)
            credit = order.decision.guide_credit if order.decision else None
            if credit is not None and paid_fen > 0:
                guide = await uow.get(credit.guide_id, Guide)
                settle_after = order.settle_due_at
                assert settle_after is not None  # order.pay fixed it just above
                if guide.employed:  # a guide who left since the order was placed earns nothing
                    guide.credit_sale(
                        str(order.id),
                        credit.guide_store_id,
                        paid_fen,
                        programme.commission_fen(paid_fen),
                        programme,
                        at,
                        settle_after=settle_after,
                    )
            return order

        return await self.execute(handler, call)

    async def fulfil(self, order_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> Order:
            order = owned(await uow.get(order_id, Order), brand)
            at = self.clock.now()
            order.fulfil(at)
            for stock in await self._held_stock(uow, order):
                stock.consume(order.id, at)
            return order

        return await self.execute(handler, call)

    async def cancel(
        self, order_id: UUID, reason: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        """The customer cancels before paying; the store's capacity is released in the same transaction."""

        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            order = owned(await uow.get(order_id, Order), brand)
            order.cancel(reason or "CANCELLED_BY_CUSTOMER", at)
            await self._release_capacity(uow, order, at)
            return order

        return await self.execute(handler, call)

    async def cancel_unpaid(self, order_id: UUID, *, call: Call | None = None) -> Answer:
        """The scheduler cancels an order left unpaid past its payment time, releasing its capacity."""

        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            order = await uow.get(order_id, Order)
            order.cancel_unpaid(at)
            await self._release_capacity(uow, order, at, expired=True)
            return order

        return await self.execute(handler, call)

    @staticmethod
    async def _release_capacity(uow: UnitOfWork, order: Order, at: datetime, *, expired: bool = False) -> None:
        """Capacity and stock go back together, in the cancellation's transaction: nothing is stranded."""
        if order.drop_id is not None:  # a drop's claim: its units go back to the drop (locked before the store)
            drop = await uow.get(order.drop_id, Drop)
            drop.release_claim(order.id, "PAYMENT_TIMED_OUT" if expired else "CANCELLED", at)
        decision = order.decision
        if decision is not None and decision.store_id is not None:  # an allocated order was accepted by its store
            store = await uow.get(decision.store_id, CloudStore)
            store.release_order(order.id, decision.decided_at, at)
        for stock in await OrderService._held_stock(uow, order):
            if expired:
                stock.expire(order.id, at)  # the hold's time is the order's payment time
            else:
                stock.release(order.id, "CANCELLED", at)

    @staticmethod
    async def _held_stock(uow: UnitOfWork, order: Order) -> list[StoreStock]:
        """The stock aggregates holding units for this order (its decision's needs at its store), SKU order."""
        if order.store_id is None or order.decision is None or not order.decision.needs:
            return []
        out = []
        for n in order.decision.needs:
            stock = await uow.get(stock_id(order.store_id, n.sku), StoreStock)
            if stock.holds(order.id):
                out.append(stock)
        return out

    async def refund(
        self,
        order_id: UUID,
        refund_id: str,
        amount_fen: int,
        reason: str = "",
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            order = owned(await uow.get(order_id, Order), brand)
            was = order.status
            order.refund(refund_id, amount_fen, at, reason)
            if was is OrderStatus.PAID and order.status is OrderStatus.REFUNDED:  # refunded before it went out
                for stock in await self._held_stock(uow, order):
                    stock.release(order.id, "REFUNDED", at, refund=True)
            member = await surviving_member(uow, order.member_id)
            member.reverse_order_points(str(order.id), amount_fen, at)
            if (allocation := _allocation(order)) is not None:
                store = await uow.get(allocation[0], CloudStore)
                store.attribute_refund(order.id, allocation[1], amount_fen, at)
            credit = order.decision.guide_credit if order.decision else None
            guide = await uow.get(credit.guide_id, Guide) if credit is not None else None
            if guide is not None and guide.has_sale(str(order.id)):  # none when the guide had left by payment
                guide.claw_back(str(order.id), amount_fen, at)
            return order

        return await self.execute(handler, call)

    async def settle(self, order_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        """After the return window: settle the guide's commission and release a referral reward."""

        async def handler(uow: UnitOfWork) -> Order:
            at = self.clock.now()
            order = owned(await uow.get(order_id, Order), brand)
            if order.status not in (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.REFUNDED):
                raise RuleViolation("only paid orders settle", reason=f"ORDER_{order.status.value}")
            members = await self._merge_chain(order.member_id)
            programme = await self.programmes.current(members[0].brand)  # for the reward's size and cap
            due = await self.settle_due_at(order)
            if at < due:
                raise RuleViolation(
                    "order still inside its return window", reason="NOT_YET_DUE", due_at=due.isoformat()
                )
            credit = order.decision.guide_credit if order.decision else None
            if credit is not None:
                guide = await uow.get(credit.guide_id, Guide)
                if str(order.id) in guide.unsettled_orders():
                    guide.settle_commission(str(order.id), at)
            # The invitee whose first paid order this is: the order's member if paid before a merge, else the survivor.
            for member in members:
                first = member.first_paid_order
                if (
                    member.referred_by is not None
                    and first is not None
                    and first.order_id == str(order.id)
                    and order.refunded_fen < order.paid_fen
                ):
                    referrer = await uow.get(member.referred_by, Member)
                    if referrer.merged_into is None and referrer.referral_pending(member.id):
                        referrer.release_referral_reward(member.id, first.order_id, due, programme, at)
                        if member.guide_id is not None:
                            referring_guide = await uow.get(member.guide_id, Guide)
                            if referring_guide.employed:  # a guide earns nothing after leaving
                                referring_guide.credit_referral(member.id, programme, at)
            return order

        return await self.execute(handler, call)
