"""Callers, their roles, and what each role may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import DomainError


class Role(enum.StrEnum):
    MINIPROGRAM = "miniprogram"   # the mini-program backend: members and orders
    OPERATOR = "operator"         # brand operations: stores, guides, corrections
    DEALER = "dealer"             # a franchise dealer: its own stores' figures only
    AUDITOR = "auditor"           # read-only, whole history


@dataclass(frozen=True)
class Principal:
    role: Role
    dealer_id: str | None = None  # set for dealers


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise PermissionDenied(
            f"role {principal.role} may not call this", role=principal.role,
            allowed=",".join(sorted(roles)),
        )


def dealer_scope(principal: Principal, requested_dealer: str) -> str:
    """The dealer whose figures may be read: a dealer only ever reads its own."""
    if principal.role is Role.DEALER:
        if requested_dealer and requested_dealer != principal.dealer_id:
            raise PermissionDenied(
                "a dealer may only read its own stores' figures", reason="OTHER_DEALER",
            )
        assert principal.dealer_id is not None
        return principal.dealer_id
    require(principal, Role.OPERATOR, Role.AUDITOR)
    return requested_dealer
