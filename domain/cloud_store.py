"""CloudStore (云店): the online twin of one franchise store, and its revenue ledger.

Ownership is a history, never an overwrite: a transfer to another dealer
(经销商) takes effect at ``effective_at`` and orders belong to whoever owned the
store when the store accepted them (``dealer_at``, recorded on the
``OrderAccepted`` event and on the order's routing decision). Each order's
revenue and its refunds are booked to that same dealer, even after a later
transfer: the caller names the dealer from the order (``order.dealer_id``).

The store is the hot aggregate of a flash sale, so its state is bounded, not a
history: order counts for the latest two local days (capacity), one revenue and
refund total per dealer (the ledger), the last acceptance time (transfers may
not reassign accepted orders) and the ownership history. Per-order facts live on
the Order aggregate, which enforces them (paid once, refunds never above the
paid amount); the store keeps the weaker per-dealer bound (refunds never above
that dealer's revenue here). Snapshots therefore stay a few kilobytes however
many orders the store has taken. Version-1 snapshots (with per-order state) are
upcast on load (``upcast_v1_v2``); the event classes are unchanged.

Capacity is counted on the aggregate (accepted orders per local day, less the
ones released by a cancellation: ``OrderReleased``), so two
orders racing for the last slot collide on the store's version and one retries:
the aggregate, not the router, is the consistency boundary.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate, DecoratedEvent
from domain.errors import InvalidArgument, RuleViolation
from domain.geo import CoordSystem, Location, to_wgs84
from domain.routing import StoreSnapshot
from domain.store_values import (
    DayHours,
    FulfilmentMode,
    OpeningHours,
    StoreStatus,
    require_int,
    require_modes,
    require_text,
    require_utc,
    require_uuid,
)

MAX_RADIUS_M = 200_000
LEGACY_BRAND = ""  # the brand of a store opened before stores recorded theirs: none
COUNTED_DAYS = 2  # the latest local day with an acceptance and the one before (clock skew around midnight)


@dataclass(frozen=True, slots=True)
class DealerTotals:
    """One dealer's booked revenue at this store, in fen."""

    revenue_fen: int = 0
    refunds_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.revenue_fen - self.refunds_fen


@dataclass(frozen=True, slots=True)
class OrderBooking:
    """Only in version-1 snapshots (per-order state, before the store's state was bounded).

    Kept so those snapshots still decode; ``CloudStore.upcast_v1_v2`` folds them into the ledger.
    """

    dealer_id: str
    amount_fen: int
    refunded_fen: int = 0


def _location(location: object) -> tuple[Location, Location]:
    if not isinstance(location, Location):
        raise InvalidArgument("location must be a Location", reason="INVALID_COORDINATE")
    return to_wgs84(location), location


def _radius(value: object) -> int:
    return require_int(value, "service_radius_m", 1, MAX_RADIUS_M)


def _hours(value: object) -> OpeningHours:
    if not isinstance(value, OpeningHours):
        raise InvalidArgument("hours must be OpeningHours", reason="INVALID_OPENING_HOURS")
    return value


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a bool", reason="INVALID_ARGUMENT", field=name)
    return value


class CloudStore(Aggregate):
    """Commands validate first, then trigger one event (a refused command leaves no trace)."""

    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below, when the class is created
        OrderAttributed: ClassVar[DecoratedEvent]
        RefundAttributed: ClassVar[DecoratedEvent]

    class_version = 3  # snapshots: v1 held every order (accepted, bookings); v2 is bounded; v3 has the brand

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A v1 snapshot's per-order state, folded into the bounded v2 state it replays to."""
        state.pop("_accepted")
        per_day: Counter[date] = state.pop("_accepted_per_day")
        bookings: dict[UUID, OrderBooking] = state.pop("_bookings")
        state["_recent_days"] = _recent(per_day)
        ledger: dict[str, DealerTotals] = {}
        for b in bookings.values():
            t = ledger.get(b.dealer_id, DealerTotals())
            ledger[b.dealer_id] = DealerTotals(t.revenue_fen + b.amount_fen, t.refunds_fen + b.refunded_fen)
        state["_ledger"] = ledger

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A store snapshotted before stores recorded their brand belongs to none (see ``Opened``)."""
        state["brand"] = LEGACY_BRAND

    @classmethod
    def open(
        cls,
        *,
        brand: str,
        code: str,
        name: str,
        location: Location,
        service_radius_m: int,
        modes: Iterable[FulfilmentMode],
        dealer_id: str,
        hours: OpeningHours,
        online_orders_enabled: bool = True,
        daily_capacity: int = 0,
        at: datetime,
        id: UUID | None = None,
    ) -> CloudStore:
        wgs, original = _location(location)
        return cls._create(
            cls.Opened,
            id=require_uuid(id, "id") if id is not None else None,
            brand=require_text(brand, "brand", 64),
            code=require_text(code, "code", 64),
            name=require_text(name, "name"),
            location=wgs,
            original_location=original,
            service_radius_m=_radius(service_radius_m),
            modes=require_modes(modes),
            dealer_id=require_text(dealer_id, "dealer_id", 64),
            hours=_hours(hours),
            online_orders_enabled=_bool(online_orders_enabled, "online_orders_enabled"),
            daily_capacity=require_int(daily_capacity, "daily_capacity", 0, 10_000_000),
            at=require_utc(at),
        )

    class Opened(Aggregate.Created):
        """A store opens for one brand, for good. Version 1 (before stores recorded their brand) upcasts
        to ``LEGACY_BRAND``: such a store belongs to no brand, so no caller can route to or read it."""

        class_version = 2
        brand: str
        code: str
        name: str
        location: Location
        original_location: Location
        service_radius_m: int
        modes: tuple[FulfilmentMode, ...]
        dealer_id: str
        hours: OpeningHours
        online_orders_enabled: bool
        daily_capacity: int
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["brand"] = LEGACY_BRAND

    @event(Opened)
    def __init__(
        self,
        brand: str,
        code: str,
        name: str,
        location: Location,
        original_location: Location,
        service_radius_m: int,
        modes: tuple[FulfilmentMode, ...],
        dealer_id: str,
        hours: OpeningHours,
        online_orders_enabled: bool,
        daily_capacity: int,
        at: datetime,
    ) -> None:
        self.brand = brand
        self.code = code
        self.name = name
        self.location = location
        self.original_location = original_location
        self.service_radius_m = service_radius_m
        self.modes = modes
        self.hours = hours
        self.online_orders_enabled = online_orders_enabled
        self.daily_capacity = daily_capacity
        self.status = StoreStatus.OPEN
        self.opened_at = at
        self.suspension_reason: str | None = None
        self._ownership: list[tuple[datetime, str]] = [(at, dealer_id)]
        self._recent_days: Counter[date] = Counter()  # orders per local day, latest COUNTED_DAYS only
        self._last_accepted_at: datetime | None = None
        self._ledger: dict[str, DealerTotals] = {}

    # ---- guards -------------------------------------------------------------------------

    def _require_not_closed(self) -> None:
        if self.status is StoreStatus.CLOSED:
            raise RuleViolation("the store is closed", reason="STORE_CLOSED", store_id=self.id)

    # ---- lifecycle ----------------------------------------------------------------------

    def relocate(self, location: Location, at: datetime) -> None:
        wgs, original = _location(location)
        require_utc(at)
        self._require_not_closed()
        self._relocated(location=wgs, original_location=original, at=at)

    @event("Relocated")
    def _relocated(self, location: Location, original_location: Location, at: datetime) -> None:
        self.location = location
        self.original_location = original_location

    def suspend(self, reason: str, at: datetime) -> None:
        require_text(reason, "reason")
        require_utc(at)
        if self.status is not StoreStatus.OPEN:
            raise RuleViolation(
                "only an open store can be suspended", reason="STORE_NOT_OPEN", status=self.status.value
            )
        self._suspended(reason=reason, at=at)

    @event("Suspended")
    def _suspended(self, reason: str, at: datetime) -> None:
        self.status = StoreStatus.SUSPENDED
        self.suspension_reason = reason

    def reopen(self, at: datetime) -> None:
        require_utc(at)
        if self.status is not StoreStatus.SUSPENDED:
            raise RuleViolation(
                "only a suspended store can reopen", reason="STORE_NOT_SUSPENDED", status=self.status.value
            )
        self._reopened(at=at)

    @event("Reopened")
    def _reopened(self, at: datetime) -> None:
        self.status = StoreStatus.OPEN
        self.suspension_reason = None

    def close(self, at: datetime) -> None:
        require_utc(at)
        self._require_not_closed()
        self._closed(at=at)

    @event("Closed")
    def _closed(self, at: datetime) -> None:
        self.status = StoreStatus.CLOSED

    # ---- settings -----------------------------------------------------------------------

    def change_hours(self, hours: OpeningHours, at: datetime) -> None:
        _hours(hours)
        require_utc(at)
        self._require_not_closed()
        self._hours_changed(hours=hours, at=at)

    @event("HoursChanged")
    def _hours_changed(self, hours: OpeningHours, at: datetime) -> None:
        self.hours = hours

    def change_capacity(self, daily_capacity: int, at: datetime) -> None:
        require_int(daily_capacity, "daily_capacity", 0, 10_000_000)
        require_utc(at)
        self._require_not_closed()
        self._capacity_changed(daily_capacity=daily_capacity, at=at)

    @event("CapacityChanged")
    def _capacity_changed(self, daily_capacity: int, at: datetime) -> None:
        self.daily_capacity = daily_capacity

    def change_service_area(self, service_radius_m: int, modes: Iterable[FulfilmentMode], at: datetime) -> None:
        radius, checked = _radius(service_radius_m), require_modes(modes)
        require_utc(at)
        self._require_not_closed()
        self._service_area_changed(service_radius_m=radius, modes=checked, at=at)

    @event("ServiceAreaChanged")
    def _service_area_changed(self, service_radius_m: int, modes: tuple[FulfilmentMode, ...], at: datetime) -> None:
        self.service_radius_m = service_radius_m
        self.modes = modes

    def toggle_online_orders(self, enabled: bool, at: datetime) -> None:
        _bool(enabled, "enabled")
        require_utc(at)
        self._require_not_closed()
        if enabled == self.online_orders_enabled:
            raise RuleViolation(
                "online ordering is already in that state", reason="ONLINE_ORDERS_UNCHANGED", enabled=enabled
            )
        self._online_orders_toggled(enabled=enabled, at=at)

    @event("OnlineOrdersToggled")
    def _online_orders_toggled(self, enabled: bool, at: datetime) -> None:
        self.online_orders_enabled = enabled

    # ---- ownership ----------------------------------------------------------------------

    @property
    def dealer_id(self) -> str:
        """The latest owner (possibly from a transfer scheduled in the future)."""
        return self._ownership[-1][1]

    @property
    def ownership_history(self) -> tuple[tuple[datetime, str], ...]:
        return tuple(self._ownership)

    def dealer_at(self, t: datetime) -> str:
        """Owner at instant ``t``: a transfer owns from its effective instant inclusive."""
        require_utc(t, "t")
        i = bisect_right([start for start, _ in self._ownership], t)
        return self._ownership[max(i - 1, 0)][1]

    def transfer_to_dealer(self, to_dealer: str, effective_at: datetime, at: datetime) -> None:
        """Never rewrites history: not before the last transfer, nor before an order already accepted."""
        require_text(to_dealer, "to_dealer", 64)
        require_utc(effective_at, "effective_at")
        require_utc(at)
        self._require_not_closed()
        last_start, last_dealer = self._ownership[-1]
        if effective_at < last_start:
            raise RuleViolation(
                "a transfer cannot take effect before the previous one",
                reason="TRANSFER_BEFORE_LAST_TRANSFER",
                last_effective_at=last_start,
            )
        if self._last_accepted_at is not None and effective_at <= self._last_accepted_at:
            raise RuleViolation(
                "a transfer cannot reassign orders already accepted",
                reason="TRANSFER_BEFORE_ACCEPTED_ORDER",
                last_accepted_at=self._last_accepted_at,
            )
        if to_dealer == last_dealer:
            raise RuleViolation("the store already belongs to that dealer", reason="SAME_DEALER")
        self._transferred(from_dealer=last_dealer, to_dealer=to_dealer, effective_at=effective_at, at=at)

    @event("TransferredToDealer")
    def _transferred(self, from_dealer: str, to_dealer: str, effective_at: datetime, at: datetime) -> None:
        self._ownership.append((effective_at, to_dealer))

    # ---- orders and the revenue ledger ---------------------------------------------------

    def orders_on_local_day(self, day: date) -> int:
        """Orders accepted on ``day`` of the store's local calendar (as it was at acceptance).

        Only the latest two local days with acceptances are counted; earlier days read 0.
        """
        return self._recent_days[day]

    def _forgotten(self, day: date) -> bool:
        """A day before the counted window: its orders are no longer counted."""
        return bool(self._recent_days) and day < max(self._recent_days) - timedelta(days=COUNTED_DAYS - 1)

    def accept_order(self, order_id: UUID, at: datetime) -> None:
        """Take an order routed here; counts toward today's capacity; fixes its dealer (dealer_at(at)).

        Accepting each order once is the Order's job (it is allocated once, in the
        same transaction); the store only counts.
        """
        require_uuid(order_id, "order_id")
        require_utc(at)
        if self.status is not StoreStatus.OPEN:
            raise RuleViolation("the store is not open", reason="STORE_NOT_OPEN", status=self.status.value)
        if not self.online_orders_enabled:
            raise RuleViolation("online ordering is off", reason="ONLINE_ORDERS_DISABLED")
        local_date = self.hours.local_date(at)
        if self.daily_capacity:
            if self._forgotten(local_date):
                raise RuleViolation(
                    "the store no longer counts that day's orders", reason="CAPACITY_DAY_PAST", day=local_date
                )
            if self._recent_days[local_date] >= self.daily_capacity:
                raise RuleViolation("daily capacity reached", reason="CAPACITY_REACHED", day=local_date)
        self._order_accepted(order_id=order_id, dealer_id=self.dealer_at(at), local_date=local_date, at=at)

    @event("OrderAccepted")
    def _order_accepted(self, order_id: UUID, dealer_id: str, local_date: date, at: datetime) -> None:
        if not self._forgotten(local_date):
            new_day = local_date not in self._recent_days
            self._recent_days[local_date] += 1
            if new_day:  # a later day may push older ones out of the window
                self._recent_days = _recent(self._recent_days)
        if self._last_accepted_at is None or at > self._last_accepted_at:
            self._last_accepted_at = at

    def release_order(self, order_id: UUID, accepted_at: datetime, at: datetime) -> None:
        """An accepted order was cancelled (by the customer or the payment timeout): it no longer uses
        the capacity of the local day it was accepted on. The Order cancels once, in the same transaction,
        so each order is released at most once; a day no longer counted has nothing left to release."""
        require_uuid(order_id, "order_id")
        require_utc(accepted_at, "accepted_at")
        require_utc(at)
        self._order_released(order_id=order_id, local_date=self.hours.local_date(accepted_at), at=at)

    @event("OrderReleased")
    def _order_released(self, order_id: UUID, local_date: date, at: datetime) -> None:
        if self._recent_days.get(local_date, 0) > 0:
            self._recent_days[local_date] -= 1

    def _require_owner(self, dealer_id: str) -> None:
        if all(dealer != dealer_id for _, dealer in self._ownership):
            raise RuleViolation(
                "that dealer never owned this store", reason="DEALER_NEVER_OWNED_STORE", dealer_id=dealer_id
            )

    def attribute_order(self, order_id: UUID, dealer_id: str, amount_fen: int, at: datetime) -> None:
        """Book a paid order's revenue to ``dealer_id``: the store's owner when it accepted the order
        (the order's ``dealer_id``, fixed at allocation). The Order makes sure it is paid once."""
        require_uuid(order_id, "order_id")
        require_text(dealer_id, "dealer_id", 64)
        require_int(amount_fen, "amount_fen", 1)
        require_utc(at)
        self._require_owner(dealer_id)
        self._order_attributed(
            order_id=order_id, dealer_id=dealer_id, amount_fen=amount_fen, local_date=self.hours.local_date(at), at=at
        )

    @event("OrderAttributed")
    def _order_attributed(
        self, order_id: UUID, dealer_id: str, amount_fen: int, at: datetime, local_date: date | None = None
    ) -> None:
        # ``local_date``: the store's day of the booking (its revenue day); None on events recorded before it.
        t = self._ledger.get(dealer_id, DealerTotals())
        self._ledger[dealer_id] = DealerTotals(t.revenue_fen + amount_fen, t.refunds_fen)

    def attribute_refund(self, order_id: UUID, dealer_id: str, amount_fen: int, at: datetime) -> None:
        """Book a refund against the dealer the order's revenue went to (the order's ``dealer_id``).

        The Order keeps each order's refunds within its paid amount; the store keeps
        each dealer's refunds within that dealer's revenue here.
        """
        require_uuid(order_id, "order_id")
        require_text(dealer_id, "dealer_id", 64)
        require_int(amount_fen, "amount_fen", 1)
        require_utc(at)
        totals = self._ledger.get(dealer_id, DealerTotals())
        if totals.refunds_fen + amount_fen > totals.revenue_fen:
            raise RuleViolation(
                "refunds would exceed the dealer's revenue at this store",
                reason="REFUND_EXCEEDS_REVENUE",
                dealer_id=dealer_id,
                remaining_fen=totals.net_fen,
            )
        self._refund_attributed(
            order_id=order_id, dealer_id=dealer_id, amount_fen=amount_fen, local_date=self.hours.local_date(at), at=at
        )

    @event("RefundAttributed")
    def _refund_attributed(
        self, order_id: UUID, dealer_id: str, amount_fen: int, at: datetime, local_date: date | None = None
    ) -> None:
        t = self._ledger.get(dealer_id, DealerTotals())
        self._ledger[dealer_id] = DealerTotals(t.revenue_fen, t.refunds_fen + amount_fen)

    def ledger(self) -> dict[str, DealerTotals]:
        """Revenue, refunds and net per dealer, replayed from the booking events."""
        return dict(self._ledger)

    def revenue_fen(self, dealer_id: str | None = None) -> int:
        return sum(t.revenue_fen for d, t in self._ledger.items() if dealer_id in (None, d))

    def refunds_fen(self, dealer_id: str | None = None) -> int:
        return sum(t.refunds_fen for d, t in self._ledger.items() if dealer_id in (None, d))

    def net_fen(self, dealer_id: str | None = None) -> int:
        return self.revenue_fen(dealer_id) - self.refunds_fen(dealer_id)

    # ---- routing view ------------------------------------------------------------------

    def snapshot(self, at: datetime) -> StoreSnapshot:
        """The router's view of this store at ``at``: owner then, orders on that local day."""
        require_utc(at)
        return StoreSnapshot(
            store_id=self.id,
            dealer_id=self.dealer_at(at),
            lat=self.location.lat,
            lng=self.location.lng,
            service_radius_m=self.service_radius_m,
            modes=self.modes,
            status=self.status,
            online_orders_enabled=self.online_orders_enabled,
            hours=self.hours,
            daily_capacity=self.daily_capacity,
            orders_today=self.orders_on_local_day(self.hours.local_date(at)),
        )


def _recent(per_day: Counter[date]) -> Counter[date]:
    """The counts of the latest COUNTED_DAYS local days, in their original order."""
    if not per_day:
        return Counter()
    oldest = max(per_day) - timedelta(days=COUNTED_DAYS - 1)
    return Counter({day: n for day, n in per_day.items() if day >= oldest})


# Value types carried by this aggregate's events and state (for the transcoder; state: snapshots;
# OrderBooking: version-1 snapshots only).
VALUE_TYPES = (CoordSystem, Location, FulfilmentMode, StoreStatus, DayHours, OpeningHours, DealerTotals, OrderBooking)
