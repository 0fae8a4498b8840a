"""Zone names to the fixed offsets the pure domain computes with (the only reader of the tz database).

A store's time zone must be a zone without daylight saving, so one offset is
exact for every instant (Asia/Shanghai, Asia/Tokyo, Asia/Singapore, UTC ...);
a zone whose offset changes over the years checked (e.g. America/New_York) is
refused with INVALID_TIME_ZONE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidArgument

# Instants at which a fixed-offset zone must show one offset: both halves of the year, now and ahead.
_PROBES = tuple(datetime(year, month, 15, tzinfo=UTC) for year in range(2000, 2041) for month in (1, 4, 7, 10))


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidArgument("time_zone must be a zone name", reason="INVALID_TIME_ZONE", field="time_zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"unknown time zone {name!r}", reason="INVALID_TIME_ZONE", field="time_zone") from None


def _minutes(zone: ZoneInfo, at: datetime) -> int:
    return int(at.astimezone(zone).utcoffset().total_seconds()) // 60  # type: ignore[union-attr]


@lru_cache(maxsize=256)
def fixed_offset_minutes(name: str) -> int:
    """The zone's one UTC offset in minutes; refuses unknown zones and zones with daylight saving."""
    zone = _zone(name)
    offsets = {_minutes(zone, at) for at in _PROBES}
    if len(offsets) != 1:
        raise InvalidArgument(
            f"{name} changes its UTC offset (daylight saving); stores need a fixed-offset zone",
            reason="INVALID_TIME_ZONE",
            field="time_zone",
        )
    return offsets.pop()


@lru_cache(maxsize=256)
def recorded_offset_minutes(name: str) -> int:
    """For hours recorded before offsets were stored: the zone's offset today (never refuses a known zone)."""
    return _minutes(_zone(name), datetime(2026, 1, 15, tzinfo=UTC))
