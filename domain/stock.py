"""Store stock (门店库存): units of one SKU at one cloud store, and the online orders holding some.

Aggregate boundary: one ``StoreStock`` per (store, SKU), id ``stock_id(store_id, sku)``.

Why not one aggregate per store, or per SKU across stores: a flash sale is hundreds of
orders a second on *one SKU at a few stores*. Every reservation must see every other
reservation of the same units (never oversell), so the units of one SKU at one store
are one consistency boundary and their writes serialise: the group commit batches the
commands queued on that one aggregate into one transaction, each building on the
previous one's uncommitted state. A wider boundary (the whole store) would make orders
for unrelated SKUs of that store queue behind the hot one; a narrower one (per unit, or
sharded counts) would need a cross-aggregate check to know what is left. An order with
several lines takes each line's aggregate in one unit of work (one transaction, all or
nothing), always in SKU order so two orders never wait on each other crosswise.

State is bounded by what is *open*: on-hand units, the live reservations (one per
order holding units here, gone when released or consumed), running totals for the
conservation check, and the last few import batch ids (idempotency). Snapshots stay
small however many orders the SKU has seen. The units held are a running total
(``held_units``) and the reservations change in place, so a reservation costs the same
with ten open holds or a flash sale's thousand (summing and copying them on every
order grew with the holds).

Rules:

* **Reserve** (an online order allocated here) takes at most ``available_online``:
  on-hand, less what is reserved, less what franchise protection keeps for walk-ins.
  A reservation holds until ``expires_at`` (the order's payment time).
* **Commit** (the order is paid) makes the hold permanent: it no longer expires.
* **Release** (cancellation, or expiry once ``expires_at`` has passed) frees an
  uncommitted hold; a committed one is released only by a refund before fulfilment.
* **Consume** (fulfilment) takes a committed hold's units off the shelf.
* **In-store sale** (reported by the till) takes units off the shelf; it may take
  protected units (they are kept for walk-ins) but never reserved ones.
* **Adjust / import** (operator, stocktake) change on-hand by a delta or to a count,
  idempotent per batch id; never below what is reserved.
* **Protection** (a franchise's walk-in stock): ``floor_units`` and/or
  ``share_bp`` (basis points of on-hand, rounded up); the larger binds.

Invariants (``check_invariants``, property-tested): on-hand = initial + adjustments -
consumed (consumed = online fulfilment + in-store sales), 0 <= reserved <= on-hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.errors import InvalidArgument, RuleViolation
from domain.loyalty_args import check_brand
from domain.store_values import require_int, require_text, require_utc, require_uuid

MAX_UNITS = 10**9
MAX_BASIS_POINTS = 10_000
KEPT_BATCHES = 64  # import/adjust batch ids remembered per SKU (idempotency of a retried batch)

_STOCK_NAMESPACE = uuid5(NAMESPACE_URL, "loyalty:store-stock")


def stock_id(store_id: UUID, sku: str) -> UUID:
    """The id of one store's stock of one SKU (deterministic: the caller need not look it up)."""
    return uuid5(_STOCK_NAMESPACE, f"{require_uuid(store_id, 'store_id')}:{require_text(sku, 'sku', 64)}")


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units one online order holds here: until ``expires_at`` unless ``committed`` (paid)."""

    order_id: UUID
    qty: int
    expires_at: datetime
    committed: bool = False


@dataclass(frozen=True, slots=True)
class Protection:
    """Stock kept for walk-in customers: the larger of a floor of units and a share of on-hand."""

    floor_units: int = 0
    share_bp: int = 0  # basis points of on-hand, rounded up

    def __post_init__(self) -> None:
        require_int(self.floor_units, "floor_units", 0, MAX_UNITS)
        require_int(self.share_bp, "share_bp", 0, MAX_BASIS_POINTS)

    def kept(self, on_hand: int) -> int:
        share = -(-on_hand * self.share_bp // MAX_BASIS_POINTS)
        return min(on_hand, max(self.floor_units, share))


class StoreStock(Aggregate):
    """One store's units of one SKU. Commands check first, then trigger one event."""

    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        Opened: ClassVar[DecoratedEvent]
        Reserved: ClassVar[DecoratedEvent]
        Committed: ClassVar[DecoratedEvent]
        Released: ClassVar[DecoratedEvent]
        Consumed: ClassVar[DecoratedEvent]
        SoldInStore: ClassVar[DecoratedEvent]
        Adjusted: ClassVar[DecoratedEvent]
        ProtectionSet: ClassVar[DecoratedEvent]

    @classmethod
    def open(cls, *, brand: str, store_id: UUID, sku: str, at: datetime) -> StoreStock:
        """The SKU starts being counted at the store, at zero units (an import brings the count)."""
        return cls._create(
            cls.Opened,
            id=stock_id(store_id, sku),
            brand=check_brand(brand),
            store_id=require_uuid(store_id, "store_id"),
            sku=require_text(sku, "sku", 64),
            at=require_utc(at),
        )

    @event("Opened")
    def __init__(self, brand: str, store_id: UUID, sku: str, at: datetime) -> None:
        self.brand = brand
        self.store_id = store_id
        self.sku = sku
        self.on_hand = 0
        self.adjusted = 0  # sum of every adjustment (imports are adjustments to a count)
        self.consumed = 0  # online fulfilment + in-store sales
        self.sold_in_store = 0
        self.protection = Protection()
        self.reservations: dict[UUID, Reservation] = {}
        self.batches: tuple[str, ...] = ()
        self.held_units = 0  # sum of the reservations' qty, kept by the events that change them

    # --- reading ------------------------------------------------------------------------

    @property
    def reserved(self) -> int:
        held = self.__dict__.get("held_units")
        if held is None:  # state from before the running total (an older snapshot): count once
            held = self.held_units = sum(r.qty for r in self.reservations.values())
        return held

    @property
    def protected(self) -> int:
        return self.protection.kept(self.on_hand)

    @property
    def available_online(self) -> int:
        """Units an online order may reserve now: on-hand, less reserved, less what walk-ins keep."""
        return max(0, self.on_hand - self.reserved - self.protected)

    @property
    def free_in_store(self) -> int:
        """Units on the shelf not held for an online order (walk-ins may take protected ones)."""
        return self.on_hand - self.reserved

    def expired(self, at: datetime) -> tuple[UUID, ...]:
        """Uncommitted holds whose time has run out (the sweep releases them)."""
        return tuple(r.order_id for r in self.reservations.values() if not r.committed and at >= r.expires_at)

    def check_invariants(self) -> None:
        assert self.on_hand == self.adjusted - self.consumed, "on-hand is not adjustments minus consumed"
        assert self.reserved == sum(r.qty for r in self.reservations.values()), "running total of held units"
        assert 0 <= self.reserved <= self.on_hand, "reserved beyond on-hand (oversold)"
        assert all(r.qty > 0 for r in self.reservations.values())

    # --- online orders ------------------------------------------------------------------

    def reserve(self, order_id: UUID, qty: int, expires_at: datetime, at: datetime) -> None:
        require_uuid(order_id, "order_id")
        require_int(qty, "qty", 1, MAX_UNITS)
        require_utc(expires_at, "expires_at")
        require_utc(at)
        if order_id in self.reservations:
            raise RuleViolation(
                "this order already holds stock here", reason="ALREADY_RESERVED", order_id=order_id, sku=self.sku
            )
        if expires_at <= at:
            raise InvalidArgument(
                "a reservation must expire after it is made", reason="OUT_OF_RANGE", field="expires_at"
            )
        if qty > self.available_online:
            raise RuleViolation(
                f"only {self.available_online} of {self.sku} can be reserved at this store",
                reason="OUT_OF_STOCK",
                sku=self.sku,
                store_id=self.store_id,
                requested=qty,
                available=self.available_online,
            )
        self._reserved(order_id=order_id, qty=qty, expires_at=expires_at, at=at)

    @event("Reserved")
    def _reserved(self, order_id: UUID, qty: int, expires_at: datetime, at: datetime) -> None:
        self.held_units = self.reserved + qty
        self.reservations[order_id] = Reservation(order_id, qty, expires_at)

    def _held(self, order_id: UUID) -> Reservation:
        r = self.reservations.get(order_id)
        if r is None:
            raise RuleViolation(
                "this order holds no stock here", reason="NO_RESERVATION", order_id=order_id, sku=self.sku
            )
        return r

    def holds(self, order_id: UUID) -> bool:
        return order_id in self.reservations

    def commit(self, order_id: UUID, at: datetime) -> None:
        """The order is paid: its hold no longer expires (the sweep may not have run yet: still held)."""
        require_utc(at)
        r = self._held(order_id)
        if r.committed:
            raise RuleViolation("reservation already committed", reason="RESERVATION_COMMITTED", order_id=order_id)
        self._committed(order_id=order_id, at=at)

    @event("Committed")
    def _committed(self, order_id: UUID, at: datetime) -> None:
        r = self.reservations[order_id]
        self.reservations[order_id] = Reservation(r.order_id, r.qty, r.expires_at, True)

    def release(self, order_id: UUID, reason: str, at: datetime, *, refund: bool = False) -> None:
        """The order was cancelled (or refunded before fulfilment, ``refund``): its units are free again."""
        require_text(reason, "reason")
        require_utc(at)
        r = self._held(order_id)
        if r.committed and not refund:
            raise RuleViolation(
                "a paid order's stock is released only by a refund", reason="RESERVATION_COMMITTED", order_id=order_id
            )
        self._released(order_id=order_id, qty=r.qty, reason=reason, at=at)

    def expire(self, order_id: UUID, at: datetime) -> None:
        """The sweep: an unpaid hold past its time is released."""
        require_utc(at)
        r = self._held(order_id)
        if r.committed:
            raise RuleViolation(
                "a paid order's stock does not expire", reason="RESERVATION_COMMITTED", order_id=order_id
            )
        if at < r.expires_at:
            raise RuleViolation(
                "the reservation has not expired", reason="RESERVATION_NOT_EXPIRED", expires_at=r.expires_at
            )
        self._released(order_id=order_id, qty=r.qty, reason="EXPIRED", at=at)

    @event("Released")
    def _released(self, order_id: UUID, qty: int, reason: str, at: datetime) -> None:
        self.held_units = self.reserved - self.reservations.pop(order_id).qty

    def consume(self, order_id: UUID, at: datetime) -> None:
        """The order was fulfilled: its committed units leave the shelf."""
        require_utc(at)
        r = self._held(order_id)
        if not r.committed:
            raise RuleViolation(
                "only a paid order's stock is consumed", reason="RESERVATION_NOT_COMMITTED", order_id=order_id
            )
        self._consumed(order_id=order_id, qty=r.qty, at=at)

    @event("Consumed")
    def _consumed(self, order_id: UUID, qty: int, at: datetime) -> None:
        self.held_units = self.reserved - self.reservations.pop(order_id).qty
        self.on_hand -= qty
        self.consumed += qty

    # --- the till, the operator -------------------------------------------------------

    def sell_in_store(self, qty: int, at: datetime) -> None:
        """The till reports a walk-in sale: it may take protected units, never ones held for online orders."""
        require_int(qty, "qty", 1, MAX_UNITS)
        require_utc(at)
        if qty > self.free_in_store:
            raise RuleViolation(
                f"only {self.free_in_store} of {self.sku} are not held for online orders",
                reason="OUT_OF_STOCK",
                sku=self.sku,
                store_id=self.store_id,
                requested=qty,
                available=self.free_in_store,
            )
        self._sold_in_store(qty=qty, at=at)

    @event("SoldInStore")
    def _sold_in_store(self, qty: int, at: datetime) -> None:
        self.on_hand -= qty
        self.consumed += qty
        self.sold_in_store += qty

    def has_batch(self, batch_id: str) -> bool:
        return batch_id in self.batches

    def check_adjustment(self, batch_id: str, *, delta: int | None = None, count: int | None = None) -> int:
        """The delta an adjustment would apply (0 when the batch was already applied); raises if refused.

        Exactly one of ``delta`` (a correction) and ``count`` (an import: the shelf now holds this many).
        A bulk import checks every line first, then applies them, so it is all or nothing.
        """
        require_text(batch_id, "batch_id", 64)
        if (delta is None) == (count is None):
            raise InvalidArgument("give a delta or a count", reason="FIELD_REQUIRED", field="delta")
        if self.has_batch(batch_id):
            return 0
        if count is not None:
            delta = require_int(count, "count", 0, MAX_UNITS) - self.on_hand
        else:
            require_int(delta, "delta", -MAX_UNITS, MAX_UNITS)
        assert delta is not None
        new = self.on_hand + delta
        if new > MAX_UNITS:
            raise InvalidArgument("count too large", reason="OUT_OF_RANGE", field="count")
        if new < self.reserved:
            raise RuleViolation(
                f"{self.sku}: {self.reserved} units are held for online orders; on-hand cannot go to {new}",
                reason="STOCK_RESERVED",
                sku=self.sku,
                store_id=self.store_id,
                reserved=self.reserved,
            )
        return delta

    def adjust(
        self, batch_id: str, at: datetime, *, delta: int | None = None, count: int | None = None, reason: str = ""
    ) -> bool:
        """Apply one line of a batch (idempotent per batch id). True if it changed anything."""
        require_utc(at)
        if reason:
            require_text(reason, "reason")
        d = self.check_adjustment(batch_id, delta=delta, count=count)
        if self.has_batch(batch_id):
            return False
        self._adjusted(batch_id=batch_id, delta=d, reason=reason, at=at)
        return True

    @event("Adjusted")
    def _adjusted(self, batch_id: str, delta: int, reason: str, at: datetime) -> None:
        self.on_hand += delta
        self.adjusted += delta
        self.batches = (*self.batches, batch_id)[-KEPT_BATCHES:]

    def protect(self, protection: Protection, at: datetime) -> None:
        """Set what the franchise keeps for walk-ins (existing reservations stand)."""
        if not isinstance(protection, Protection):
            raise InvalidArgument("protection must be a Protection", reason="INVALID_ARGUMENT", field="protection")
        require_utc(at)
        self._protected(protection=protection, at=at)

    @event("ProtectionSet")
    def _protected(self, protection: Protection, at: datetime) -> None:
        self.protection = protection


def stock_state(stock: StoreStock) -> dict[str, Any]:
    """The figures a read model shows."""
    return {
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "protected": stock.protected,
        "available_online": stock.available_online,
    }


VALUE_TYPES = (Reservation, Protection)
