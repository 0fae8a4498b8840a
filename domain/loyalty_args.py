"""The domain's one set of argument checks: every aggregate and value validates with these.

Commands validate before they trigger anything, so a rejected command leaves
no event behind. Every check raises ``InvalidArgument`` with a stable reason,
and the same failure always gives the same reason, whichever command or RPC
carried the value:

* text: missing (empty or blank) -> ``FIELD_REQUIRED``; too long, holding a
  control character (NUL ...), or not a string -> ``INVALID_TEXT``
  (metadata ``field``, and ``max_length`` when too long);
* integers: not an int -> ``INVALID_INTEGER``; outside its bounds -> ``OUT_OF_RANGE``;
* ids -> ``INVALID_ID``; instants not aware UTC -> ``INVALID_TIME``; dates -> ``INVALID_DATE``
  or ``OUT_OF_RANGE``; enums -> ``INVALID_ENUM``.

``domain/store_values.py``'s ``require_*`` helpers are the same checks with the
arguments in value-first order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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


MAX_TEXT_LENGTH = 128
MAX_BRAND_LENGTH = 128  # every brand, wherever it is given
MAX_REASON_LENGTH = 200  # free-text reasons (cancellation, refund, suspension)
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}


def check_text(name: str, value: Any, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string", reason="INVALID_TEXT", field=name)
    if not value.strip():
        raise InvalidArgument(f"{name} is required", reason="FIELD_REQUIRED", field=name)
    if len(value) > max_length:
        raise InvalidArgument(
            f"{name} must be at most {max_length} characters", reason="INVALID_TEXT", field=name, max_length=max_length
        )
    if not _CONTROL.isdisjoint(value):
        raise InvalidArgument(f"{name} must not contain control characters", reason="INVALID_TEXT", field=name)
    return value


def check_brand(value: Any) -> str:
    return check_text("brand", value, max_length=MAX_BRAND_LENGTH)


def check_date(name: str, value: Any, *, earliest: date, latest: date) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidArgument(f"{name} must be a date", reason="INVALID_DATE", field=name)
    if not earliest <= value <= latest:
        raise InvalidArgument(
            f"{name} must be within {earliest} and {latest}",
            reason="OUT_OF_RANGE",
            field=name,
            value=value,
            minimum=earliest,
            maximum=latest,
        )
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
