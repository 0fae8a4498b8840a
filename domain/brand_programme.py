"""The programmes a brand has published: the rules behind every recorded decision.

Decision events record only ``programme_version``; this aggregate keeps what
each version said, so an auditor can look up version N and replay a decision
with the rules of its day. One aggregate per brand, its id derived from the
brand (``uuid5(NAMESPACE, "{brand}:programme")``), so any process finds it
without an index, and two concurrent first publications collide on version 1.

Versions strictly increase (gaps allowed). Version 1 is
``LoyaltyProgramme.default``, which is in force for every brand before it
publishes and which decisions may already have recorded: so a brand's first
published programme is version 2 or later, and version 1 always means the
defaults. A version not newer than the current one is a state conflict
(``RuleViolation``, FAILED_PRECONDITION), not a malformed request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain import programme as programme_values
from domain.aggregate import Aggregate
from domain.errors import InvalidArgument, NotFound, RuleViolation
from domain.identity import NAMESPACE
from domain.loyalty_args import check_brand, check_int, check_utc
from domain.programme import DEFAULT_VERSION, LoyaltyProgramme


@dataclass(frozen=True, slots=True)
class Publication:
    """One published version and when it took effect."""

    programme: LoyaltyProgramme
    published_at: datetime


def _check_publication(programme: LoyaltyProgramme, at: datetime) -> None:
    if not isinstance(programme, LoyaltyProgramme):
        raise InvalidArgument("programme must be a LoyaltyProgramme", reason="INVALID_PROGRAMME")
    check_utc("at", at)


def _not_newer(programme: LoyaltyProgramme, current_version: int) -> RuleViolation:
    return RuleViolation(
        f"version {programme.version} is not newer than the current version {current_version}",
        reason="PROGRAMME_VERSION_NOT_NEWER",
        version=programme.version,
        current_version=current_version,
    )


class BrandProgramme(Aggregate):
    """Every programme version a brand published, in order."""

    @staticmethod
    def create_id(brand: str) -> UUID:
        return uuid5(NAMESPACE, f"{brand}:programme")

    @classmethod
    def publish_first(cls, programme: LoyaltyProgramme, at: datetime) -> BrandProgramme:
        """The brand's first publication: creates the aggregate (version must be above the defaults' 1)."""
        _check_publication(programme, at)
        if programme.version <= DEFAULT_VERSION:
            raise _not_newer(programme, DEFAULT_VERSION)
        aggregate = cls(brand=programme.brand, at=at)
        aggregate.publish(programme, at)
        return aggregate

    @event("Started")
    def __init__(self, brand: str, at: datetime) -> None:
        self.brand = brand
        self.started_at = at
        self.publications: tuple[Publication, ...] = ()

    def publish(self, programme: LoyaltyProgramme, at: datetime) -> None:
        _check_publication(programme, at)
        if programme.brand != self.brand:
            raise InvalidArgument(
                "programme is for another brand", reason="BRAND_MISMATCH", brand=programme.brand, expected=self.brand
            )
        current_version = self.current.version if self.publications else DEFAULT_VERSION
        if programme.version <= current_version:
            raise _not_newer(programme, current_version)
        self._published(programme=programme, at=at)

    @event("Published")
    def _published(self, programme: LoyaltyProgramme, at: datetime) -> None:
        self.publications = (*self.publications, Publication(programme, at))

    # --- queries -------------------------------------------------------------------------

    @property
    def current(self) -> LoyaltyProgramme:
        if not self.publications:
            raise NotFound(f"brand {self.brand} published no programme", reason="PROGRAMME_NOT_FOUND")
        return self.publications[-1].programme

    def in_force_at(self, at: datetime) -> LoyaltyProgramme | None:
        """The programme in force at ``at``: the last published at or before it (None: the defaults)."""
        check_utc("at", at)
        before = [p.programme for p in self.publications if p.published_at <= at]
        return before[-1] if before else None

    def programme_at(self, version: int) -> LoyaltyProgramme:
        """The programme published as ``version`` (the defaults' version 1 is not stored here)."""
        check_int("version", version, minimum=1)
        for publication in self.publications:
            if publication.programme.version == version:
                return publication.programme
        raise NotFound(
            f"brand {self.brand} has no programme version {version}",
            reason="PROGRAMME_VERSION_NOT_FOUND",
            brand=self.brand,
            version=version,
        )


@lru_cache(maxsize=1024)  # every command asks (its uuid5 was 1 % of a PlaceOrder); errors are not cached
def programme_id(brand: str) -> UUID:
    """The id of ``brand``'s BrandProgramme (brands are validated like the programme's own)."""
    check_brand(brand)
    return BrandProgramme.create_id(brand)


VALUE_TYPES = (*programme_values.VALUE_TYPES, Publication)
