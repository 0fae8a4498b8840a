"""Wire values to domain values and back: enums by name, locations, hours, timestamps."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import overload

from google.protobuf.timestamp_pb2 import Timestamp

from domain.errors import InvalidArgument
from domain.geo import CoordSystem, Location
from domain.store_values import DEFAULT_TIME_ZONE, DayHours, FulfilmentMode, OpeningHours
from infrastructure.time_zones import fixed_offset_minutes
from protos.loyalty.v1 import common_pb2, stores_pb2


def location(msg: common_pb2.Location, *, field: str) -> Location:
    if msg.system not in (
        common_pb2.COORDINATE_SYSTEM_WGS84,
        common_pb2.COORDINATE_SYSTEM_GCJ02,
        common_pb2.COORDINATE_SYSTEM_BD09,
    ):  # unset, or a number from a newer client
        raise InvalidArgument(
            f"{field}.system is required: WGS84, GCJ02 (mini-program and Chinese map SDKs) or BD09",
            reason="COORDINATE_SYSTEM_REQUIRED",
            field=field,
        )
    if not (math.isfinite(msg.latitude) and math.isfinite(msg.longitude)):
        raise InvalidArgument(f"{field} must be finite", reason="INVALID_COORDINATE", field=field)
    return Location(
        msg.latitude,
        msg.longitude,
        CoordSystem[common_pb2.CoordinateSystem.Name(msg.system).removeprefix("COORDINATE_SYSTEM_")],
    )


def location_message(loc: Location) -> common_pb2.Location:
    return common_pb2.Location(latitude=loc.lat, longitude=loc.lng, system=f"COORDINATE_SYSTEM_{loc.system.name}")


def mode(value: int, *, field: str = "fulfilment") -> FulfilmentMode:
    if value == common_pb2.FULFILMENT_MODE_UNSPECIFIED or value not in common_pb2.FulfilmentMode.values():
        raise InvalidArgument(
            f"{field} must be DELIVERY, PICKUP or IN_STORE", reason="FULFILMENT_MODE_REQUIRED", field=field
        )
    return FulfilmentMode[common_pb2.FulfilmentMode.Name(value).removeprefix("FULFILMENT_MODE_")]


def mode_value(m: FulfilmentMode) -> str:
    """The wire label (a message constructor takes it for an enum field and refuses an unknown one)."""
    return f"FULFILMENT_MODE_{m.name}"


def hours(entries, time_zone: str) -> OpeningHours:
    tz = time_zone or DEFAULT_TIME_ZONE
    offset = fixed_offset_minutes(tz)  # the domain computes with the offset; only fixed-offset zones pass
    if not entries:
        return OpeningHours.always(tz, offset)
    days = []
    for h in entries:
        if not 1 <= h.weekday <= 7:
            raise InvalidArgument("hours.weekday is 1 (Monday) to 7 (Sunday)", reason="OUT_OF_RANGE", field="hours")
        days.append(DayHours(h.weekday - 1, h.open_minute, h.close_minute))
    return OpeningHours(tuple(days), tz, offset)


def hours_messages(value: OpeningHours) -> list[stores_pb2.OpeningHours]:
    return [
        stores_pb2.OpeningHours(weekday=d.weekday + 1, open_minute=d.open_minute, close_minute=d.close_minute)
        for d in value.days
    ]


@overload
def timestamp(at: datetime) -> Timestamp: ...
@overload
def timestamp(at: None) -> None: ...
@overload
def timestamp(at: datetime | None) -> Timestamp | None: ...
def timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def from_timestamp(ts: Timestamp, *, field: str = "timestamp") -> datetime:
    # Any int64 travels on the wire; only 0001-01-01..9999-12-31 with 0 <= nanos < 1e9 is a time.
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidArgument(f"{field} is not a valid timestamp", reason="INVALID_TIMESTAMP", field=field) from None


def non_negative(value: int, field: str) -> int:
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative", reason="OUT_OF_RANGE", field=field)
    return value
