"""AIP-158 pagination: opaque page tokens and page sizes coerced to the maximum.

A token is the URL-safe base64 of a small JSON cursor: the method and the request's
other fields it was issued for (a digest), and the position to resume after. Clients
must treat it as opaque; the server refuses a token that is not one it issued for
the same call (same method, same parent and filters) with INVALID_ARGUMENT, reason
INVALID_PAGE_TOKEN. A token carries no secret and grants nothing: the caller's
brand and role are checked on every page as on the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from domain.errors import InvalidArgument

VERSION = 1


def page_size(requested: int, *, default: int, maximum: int, field: str = "page_size") -> int:
    """0: the default; above the maximum: the maximum (AIP-158); negative: INVALID_ARGUMENT."""
    if requested < 0:
        raise InvalidArgument(f"{field} must not be negative", reason="OUT_OF_RANGE", field=field)
    return min(requested, maximum) if requested else default


def _digest(method: str, scope: tuple) -> str:
    return hashlib.sha256(orjson.dumps([method, *map(str, scope)])).hexdigest()[:16]


def encode(method: str, scope: tuple, position: int | list[str]) -> str:
    """The token of the page that resumes after ``position``."""
    cursor = orjson.dumps({"v": VERSION, "d": _digest(method, scope), "p": position})
    return base64.urlsafe_b64encode(cursor).decode().rstrip("=")


def decode(token: str, method: str, scope: tuple, *, key: bool = False) -> Any:
    """The position a token resumes after: an int (0 for no token), or with ``key`` a list of strings (None)."""
    if not token:
        return None if key else 0
    try:
        if len(token) > 200:
            raise ValueError
        cursor = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position = cursor["p"]
        if cursor.get("v") != VERSION or cursor.get("d") != _digest(method, scope):
            raise ValueError
        if key:
            if not isinstance(position, list) or not all(isinstance(p, str) for p in position):
                raise ValueError
        elif not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < 2**63:
            raise ValueError
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidArgument(
            "page_token is not one this server issued for this call", reason="INVALID_PAGE_TOKEN", field="page_token"
        ) from None
    return position
