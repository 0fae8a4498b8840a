"""Values shared by the cloud store, the order and the router: modes, status, hours.

They live apart from the aggregates so the pure router can use them without
importing an aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from uuid import UUID

from domain.calendar import BRAND_CALENDAR, BRAND_TIME_ZONE, LocalCalendar, check_offset
from domain.errors import InvalidArgument
from domain.loyalty_args import MAX_REASON_LENGTH, check_int, check_text, check_utc, check_uuid

MINUTES_PER_DAY = 24 * 60
DEFAULT_TIME_ZONE = BRAND_TIME_ZONE


class FulfilmentMode(str, Enum):
    DELIVERY = "DELIVERY"  # 外卖 / 到家
    PICKUP = "PICKUP"  # 到店自提
    IN_STORE = "IN_STORE"  # scanned and bought in the shop


class StoreStatus(str, Enum):
    OPEN = "OPEN"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class DayHours:
    """One opening interval on a weekday (0 = Monday), in local minutes since midnight.

    ``close_minute`` may exceed 1440 for a shift past midnight (18:00-02:00 is
    1080..1560); the interval is [open, close).
    """

    weekday: int
    open_minute: int
    close_minute: int

    def __post_init__(self) -> None:
        _require_int(self.weekday, "weekday", 0, 6)
        _require_int(self.open_minute, "open_minute", 0, MINUTES_PER_DAY - 1)
        _require_int(self.close_minute, "close_minute", self.open_minute + 1, self.open_minute + MINUTES_PER_DAY)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Weekly opening intervals on the store's own calendar; a weekday with none is closed.

    ``time_zone`` is the zone's name (shown back to operators); ``utc_offset_minutes``
    is what the domain computes with (``domain/calendar.py``): the edge resolves the
    name and accepts only fixed-offset zones. Left out, it is known only for the
    default zone (Asia/Shanghai, +08:00); any other name must come with its offset.
    """

    days: tuple[DayHours, ...] = ()
    time_zone: str = DEFAULT_TIME_ZONE
    utc_offset_minutes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.days, tuple) or not all(isinstance(d, DayHours) for d in self.days):
            raise InvalidArgument("days must be a tuple of DayHours", reason="INVALID_OPENING_HOURS")
        if not isinstance(self.time_zone, str) or not self.time_zone or len(self.time_zone) > 64:
            raise InvalidArgument("time zone must be a zone name", reason="INVALID_TIME_ZONE", field="time_zone")
        if self.utc_offset_minutes is None:
            if self.time_zone != DEFAULT_TIME_ZONE:
                raise InvalidArgument(
                    f"the offset of {self.time_zone!r} must be resolved at the edge",
                    reason="INVALID_TIME_ZONE",
                    field="time_zone",
                )
            object.__setattr__(self, "utc_offset_minutes", BRAND_CALENDAR.utc_offset_minutes)
        check_offset(self.utc_offset_minutes)

    @classmethod
    def every_day(
        cls,
        open_minute: int,
        close_minute: int,
        time_zone: str = DEFAULT_TIME_ZONE,
        utc_offset_minutes: int | None = None,
    ) -> OpeningHours:
        return cls(tuple(DayHours(d, open_minute, close_minute) for d in range(7)), time_zone, utc_offset_minutes)

    @classmethod
    def always(cls, time_zone: str = DEFAULT_TIME_ZONE, utc_offset_minutes: int | None = None) -> OpeningHours:
        return cls.every_day(0, MINUTES_PER_DAY, time_zone, utc_offset_minutes)

    @property
    def calendar(self) -> LocalCalendar:
        """The store's calendar: its local days for hours, capacity and revenue."""
        offset = self.utc_offset_minutes  # filled in by __post_init__; the brand's offset is its default
        return LocalCalendar(offset if offset is not None else BRAND_CALENDAR.utc_offset_minutes)

    def local(self, at: datetime) -> datetime:
        return self.calendar.local(at)

    def local_date(self, at: datetime) -> date:
        return self.calendar.day(at)

    def is_open_at(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls inside an interval, judged on the store's local clock."""
        local = self.local(at)
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        yesterday = (weekday - 1) % 7
        for d in self.days:
            if d.weekday == weekday and d.open_minute <= minute < d.close_minute:
                return True
            if d.weekday == yesterday and minute + MINUTES_PER_DAY < d.close_minute:
                return True
        return False


# The domain's checks (domain/loyalty_args.py), value first: the same reasons for the same failures.


def require_utc(at: object, name: str = "at") -> datetime:
    """Commands take explicit aware instants; naive ones are ambiguous across time zones."""
    return check_utc(name, at)


def require_uuid(value: object, name: str) -> UUID:
    return check_uuid(name, value)


def require_text(value: object, name: str, max_len: int = MAX_REASON_LENGTH) -> str:
    return check_text(name, value, max_length=max_len)


def _require_int(value: object, name: str, low: int, high: int) -> int:
    return check_int(name, value, minimum=low, maximum=high)


def require_int(value: object, name: str, low: int, high: int = 2**62) -> int:
    return check_int(name, value, minimum=low, maximum=high)


def require_modes(modes: object) -> tuple[FulfilmentMode, ...]:
    """A non-empty set of modes as a sorted tuple (stable in events)."""
    if not isinstance(modes, Iterable):
        raise InvalidArgument("modes must be an iterable of FulfilmentMode", reason="INVALID_MODES")
    items = tuple(modes)
    valid = tuple(m for m in items if isinstance(m, FulfilmentMode))
    if not items or len(valid) != len(items):
        raise InvalidArgument("modes must be a non-empty set of FulfilmentMode", reason="INVALID_MODES")
    return tuple(sorted(set(valid), key=lambda m: m.value))


VALUE_TYPES = (FulfilmentMode, StoreStatus, DayHours, OpeningHours)
