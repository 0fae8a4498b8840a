"""AIP-122 resource names: ``members/{uuid}`` and friends, parsed and validated."""

from __future__ import annotations

from typing import Literal, overload
from uuid import UUID

from domain.errors import InvalidArgument

MEMBERS, STORES, GUIDES, ORDERS, DEALERS = "members", "cloudStores", "guides", "orders", "dealers"


@overload
def parse(name: str, collection: str, *, field: str, required: Literal[True] = True) -> UUID: ...
@overload
def parse(name: str, collection: str, *, field: str, required: bool) -> UUID | None: ...
def parse(name: str, collection: str, *, field: str, required: bool = True) -> UUID | None:
    if not name:
        if required:
            raise InvalidArgument(f"{field} is required", reason="FIELD_REQUIRED", field=field)
        return None
    prefix, _, raw = name.partition("/")
    try:
        if prefix != collection:
            raise ValueError
        return UUID(raw)
    except ValueError:
        raise InvalidArgument(
            f"{field} must look like {collection}/{{uuid}}, got {name[:80]!r}",
            reason="INVALID_RESOURCE_NAME",
            field=field,
        ) from None


def dealer_id(name: str, *, field: str = "dealer", required: bool = True) -> str:
    prefix, _, raw = name.partition("/")
    if not name and not required:
        return ""
    if prefix != DEALERS or not raw or len(raw) > 64 or not raw.isprintable():
        raise InvalidArgument(
            f"{field} must look like dealers/{{id}}, got {name[:80]!r}", reason="INVALID_RESOURCE_NAME", field=field
        )
    return raw


def name(collection: str, ident: object) -> str:
    return f"{collection}/{ident}" if ident else ""
