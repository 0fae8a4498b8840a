"""The business calendar: the one place that turns a UTC instant into a local day, month or year.

Every local day in the engine is decided here: a store's day (opening hours,
daily capacity, its revenue per day) on the store's own calendar, and the
brand's periods (points expiry, referral caps, dealers' monthly statements) on
``BRAND_CALENDAR``.

A calendar is a fixed UTC offset. The domain never reads the tz database: a
zone *name* (``Asia/Tokyo``) is resolved to its offset at the edge
(``infrastructure/time_zones.py``), which accepts only zones without daylight
saving, so a store's offset is exact for every instant. China has had no
daylight saving since 1991, so the brand calendar, Asia/Shanghai, is UTC+08:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from domain.errors import InvalidArgument

MAX_OFFSET_MINUTES = 14 * 60  # the widest offsets in use are -12:00 and +14:00


def check_offset(value: object, name: str = "utc_offset_minutes") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_OFFSET_MINUTES <= value <= MAX_OFFSET_MINUTES:
        raise InvalidArgument(
            f"{name} must be whole minutes within ±14 hours", reason="INVALID_TIME_ZONE", field=name, value=value
        )
    return value


@dataclass(frozen=True, slots=True)
class LocalCalendar:
    """A local clock at a fixed offset from UTC (minutes east of Greenwich)."""

    utc_offset_minutes: int

    def __post_init__(self) -> None:
        check_offset(self.utc_offset_minutes)

    @property
    def tzinfo(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    def local(self, at: datetime) -> datetime:
        """``at`` (aware) on this calendar's wall clock."""
        return at.astimezone(self.tzinfo)

    def day(self, at: datetime) -> date:
        return self.local(at).date()

    def start_of(self, day: date) -> datetime:
        """The first instant (UTC) of local ``day``."""
        return datetime(day.year, day.month, day.day, tzinfo=self.tzinfo).astimezone(UTC)


BRAND_TIME_ZONE = "Asia/Shanghai"
BRAND_CALENDAR = LocalCalendar(8 * 60)  # Asia/Shanghai: UTC+08:00, no daylight saving since 1991
