"""Argument checks shared by the loyalty aggregates.

Commands validate before they trigger anything, so a rejected command leaves
no event behind. Every check raises ``InvalidArgument`` with a stable reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.errors import InvalidArgument

_ZERO = timedelta(0)


def check_utc(name: str, value: Any) -> datetime:
    """Times must be timezone-aware UTC: local days are derived, never stored."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() != _ZERO:
        raise InvalidArgument(f"{name} must be a timezone-aware UTC datetime", reason="INVALID_TIME", field=name)
    return value


def check_int(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Amounts are ints (fen, points, days); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int", reason="INVALID_INTEGER", field=name)
    if value < minimum or (maximum is not None and value > maximum):
        raise InvalidArgument(
            f"{name} out of range", reason="OUT_OF_RANGE", field=name, value=value, minimum=minimum, maximum=maximum
        )
    return value


def check_text(name: str, value: Any, *, max_length: int = 128) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidArgument(f"{name} must be a non-empty string of at most {max_length} chars", reason="INVALID_TEXT", field=name)
    return value


def check_optional_text(name: str, value: Any, *, max_length: int = 128) -> str | None:
    return None if value is None else check_text(name, value, max_length=max_length)


def check_uuid(name: str, value: Any) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidArgument(f"{name} must be a UUID", reason="INVALID_ID", field=name)
    return value


def check_optional_uuid(name: str, value: Any) -> UUID | None:
    return None if value is None else check_uuid(name, value)


def check_enum(name: str, value: Any, enum_type: type) -> Any:
    if not isinstance(value, enum_type):
        raise InvalidArgument(f"{name} must be a {enum_type.__name__}", reason="INVALID_ENUM", field=name)
    return value
