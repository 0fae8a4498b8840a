"""Callers, their roles and brands, and what each may do.

Every caller acts for exactly one brand (its token's ``@brand``): requests that
name a brand may only name the caller's own (empty means the caller's), and a
resource of another brand is answered as if it did not exist (:func:`owned`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeVar

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, NotFound
from domain.loyalty_args import check_brand

BRAND_RULE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A brand: 1-64 characters, lower-case letters, digits, ``_`` and ``-``, starting with a letter or digit."""

T = TypeVar("T", bound=Aggregate)


class Role(enum.StrEnum):
    MINIPROGRAM = "miniprogram"  # the mini-program backend: members and orders
    OPERATOR = "operator"  # brand operations: stores, guides, corrections
    DEALER = "dealer"  # a franchise dealer: its own stores' figures only
    AUDITOR = "auditor"  # read-only, whole history of its brand


@dataclass(frozen=True)
class Principal:
    role: Role
    brand: str
    dealer_id: str | None = None  # set for dealers


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


def is_brand(value: str) -> bool:
    return BRAND_RULE.fullmatch(value) is not None


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise PermissionDenied(
            f"role {principal.role} may not call this",
            role=principal.role,
            allowed=",".join(sorted(roles)),
        )


def brand_scope(principal: Principal, requested: str) -> str:
    """The brand a request acts on: the caller's own (empty means the caller's); never another."""
    if not requested:
        return principal.brand
    if requested != principal.brand:
        check_brand(requested)  # malformed text gets the domain's one reason for it
        raise PermissionDenied("this token acts for another brand", reason="BRAND_OUT_OF_SCOPE", brand=principal.brand)
    return requested


def owned(aggregate: T, brand: str | None) -> T:
    """``aggregate`` if it belongs to ``brand`` (None: a trusted internal caller, any brand).

    Another brand's aggregate answers exactly as a missing one does (the repository's
    ``{TYPE}_NOT_FOUND``), so a caller learns nothing about other brands.
    """
    if brand is not None and getattr(aggregate, "brand", None) != brand:
        what = type(aggregate).__name__
        raise NotFound(
            f"{what} {aggregate.id} not found",
            reason=f"{what.upper()}_NOT_FOUND",
            id=aggregate.id,
        )
    return aggregate


def dealer_scope(principal: Principal, requested_dealer: str) -> str:
    """The dealer whose figures may be read: a dealer only ever reads its own."""
    if principal.role is Role.DEALER:
        if requested_dealer and requested_dealer != principal.dealer_id:
            raise PermissionDenied(
                "a dealer may only read its own stores' figures",
                reason="OTHER_DEALER",
            )
        assert principal.dealer_id is not None
        return principal.dealer_id
    require(principal, Role.OPERATOR, Role.AUDITOR)
    return requested_dealer
