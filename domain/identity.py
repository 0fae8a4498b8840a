"""Identity index: unique WeChat / phone / WeCom identities without extra tables.

The eventsourcing idiom for uniqueness: one tiny ``IdentityIndex`` aggregate per
identity, whose id is ``uuid5(NAMESPACE, "{brand}:{kind}:{value}")``. The
application saves it in the same transaction as the member (or guide) it points
to; a second registration of the same openid collides on the stored events'
primary key (originator_id, version 1), so registration is unique and a retry
can load the index and return the existing owner (idempotent).

``resolve`` picks the owner when a login presents several identities:
unionid (stable across the brand's apps) > openid (one per app) > phone.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import InvalidArgument, RuleViolation
from domain.loyalty_args import check_brand, check_enum, check_text, check_utc, check_uuid

NAMESPACE = UUID("6f1b7b1e-2f0a-5c3e-9d4a-7c1e0b9a4d21")


class IdentityKind(str, enum.Enum):
    UNIONID = "unionid"
    OPENID = "openid"
    PHONE = "phone"
    WECOM = "wecom"  # a guide's WeCom userid


PRECEDENCE: tuple[IdentityKind, ...] = (IdentityKind.UNIONID, IdentityKind.OPENID, IdentityKind.PHONE)


@dataclass(frozen=True, slots=True)
class IdentityKey:
    kind: IdentityKind
    value: str


def normalise(kind: IdentityKind, value: str) -> str:
    """Phones compare without spaces, dashes or the +86 prefix; ids are case-sensitive."""
    check_enum("kind", kind, IdentityKind)
    check_text("value", value)
    value = value.strip()
    if kind is IdentityKind.PHONE:
        value = value.replace(" ", "").replace("-", "")
        if value.startswith("+86"):
            value = value[3:]
        if not value.isdigit():
            raise InvalidArgument("phone must be digits", reason="INVALID_PHONE")
    return value


@dataclass(frozen=True, slots=True)
class IdentityIds:
    """Blind index: an identity's index id is HMAC-SHA256(key, brand, kind, normalised value).

    Unlike ``IdentityIndex.create_id`` (an unkeyed uuid5, which anyone can recompute for every
    phone number), nobody without the key can tell from an id which identity it stands for. The
    key is configuration (``LOYALTY_BLIND_INDEX_KEY``), separate from the encryption keys.
    """

    key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) < 16:
            raise InvalidArgument("blind index key must be at least 16 bytes", reason="INVALID_KEY")

    def index_id(self, brand: str, kind: IdentityKind, value: str) -> UUID:
        message = f"{brand}\x00{kind.value}\x00{normalise(kind, value)}".encode()
        return UUID(bytes=hmac.new(self.key, message, hashlib.sha256).digest()[:16], version=4)


def resolve(candidates: Iterable[tuple[IdentityKind, UUID | None]]) -> UUID | None:
    """The owner found under the highest-precedence identity (unionid > openid > phone)."""
    found = {kind: owner for kind, owner in candidates if owner is not None}
    for kind in PRECEDENCE:
        if kind in found:
            return found[kind]
    return None


def conflicting_owners(candidates: Iterable[tuple[IdentityKind, UUID | None]]) -> frozenset[UUID]:
    """More than one owner means the same person has two members: a merge candidate."""
    return frozenset(owner for _, owner in candidates if owner is not None)


class IdentityIndex(Aggregate):
    """Points one identity of one brand at its owner (member or guide)."""

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken while an index kept its value (written unsealed, with sealing off)."""
        state.pop("value", None)

    @staticmethod
    def create_id(brand: str, kind: IdentityKind, value: str) -> UUID:
        return uuid5(NAMESPACE, f"{brand}:{kind.value}:{normalise(kind, value)}")

    @classmethod
    def claim(
        cls, brand: str, kind: IdentityKind, value: str, owner_id: UUID, at: datetime, *, index_id: UUID | None = None
    ) -> IdentityIndex:
        """``index_id``: the blind index id (``IdentityIds.index_id``); without it, the unkeyed ``create_id``.
        The value is checked and names the index; the index does not keep it."""
        check_brand(brand)
        value = normalise(kind, value)
        check_uuid("owner_id", owner_id)
        check_utc("at", at)
        if index_id is None:
            index_id = cls.create_id(brand, kind, value)
        check_uuid("index_id", index_id)
        return cls._create(cls.Claimed, id=index_id, brand=brand, kind=kind, owner_id=owner_id, at=at)

    class Claimed(Aggregate.Created):
        """Version 1 carried the identity's value (sealed under its owner's key): a second copy of what the
        owner's events hold, read by nothing; it upcasts away. The id is the index: blind, keyed."""

        class_version = 2
        brand: str
        kind: IdentityKind
        owner_id: UUID
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.pop("value", None)

    @event(Claimed)
    def __init__(self, brand: str, kind: IdentityKind, owner_id: UUID, at: datetime) -> None:
        self.brand = brand
        self.kind = kind
        self.owner_id: UUID | None = owner_id
        self.changed_at = at

    def reassign(self, owner_id: UUID, at: datetime) -> None:
        """On a merge the absorbed member's identities point to the survivor."""
        check_uuid("owner_id", owner_id)
        check_utc("at", at)
        if owner_id == self.owner_id:
            raise RuleViolation("identity already points there", reason="IDENTITY_UNCHANGED")
        self._reassigned(owner_id=owner_id, at=at)

    @event("Reassigned")
    def _reassigned(self, owner_id: UUID, at: datetime) -> None:
        self.owner_id = owner_id
        self.changed_at = at

    def release(self, at: datetime) -> None:
        """A member changed phone: the old number becomes free for someone else."""
        check_utc("at", at)
        if self.owner_id is None:
            raise RuleViolation("identity already released", reason="IDENTITY_RELEASED")
        self._released(at=at)

    @event("Released")
    def _released(self, at: datetime) -> None:
        self.owner_id = None
        self.changed_at = at

    def reclaim(self, owner_id: UUID, at: datetime) -> None:
        check_uuid("owner_id", owner_id)
        check_utc("at", at)
        if self.owner_id is not None:
            raise RuleViolation("identity is owned", reason="IDENTITY_TAKEN", owner_id=self.owner_id)
        self._reclaimed(owner_id=owner_id, at=at)

    @event("Reclaimed")
    def _reclaimed(self, owner_id: UUID, at: datetime) -> None:
        self.owner_id = owner_id
        self.changed_at = at


VALUE_TYPES = (IdentityKind, IdentityKey)
