"""Which loyalty programme (the brand's tunable rules) is in force for a brand, and publishing new ones.

Programmes are event-sourced (``domain.brand_programme.BrandProgramme``), so
every process sees a publication without a restart: each lookup goes through
the repository, whose cache asks the store for newer events (one indexed
query). Inside a command the lookup costs no query: the programme (or the fact
that the brand has none) is read from memory and its version is checked when
the command commits, so a publication by another process makes the command
run again on the new rules. A brand that never published runs on its default
programme, version 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from application.clock import Clock
from application.unit_of_work import CommandRunner, UnitOfWork, active_unit_of_work
from domain.brand_programme import BrandProgramme, programme_id
from domain.errors import InvalidArgument, NotFound
from domain.loyalty_args import check_int
from domain.programme import DEFAULT_VERSION, LoyaltyProgramme

if TYPE_CHECKING:
    from application.commands import Answer, Call

MAX_REMEMBERED = 10_000


class ProgrammeCatalog:
    """Current and past programmes per brand.

    ``defaults`` replaces ``LoyaltyProgramme.default`` as version 1 for some
    brands (a deployment's starting rules); they must be version 1, because
    published versions start at 2.
    """

    def __init__(self, runner: CommandRunner, clock: Clock, defaults: Iterable[LoyaltyProgramme] = ()) -> None:
        self.runner = runner
        self.repository = runner.repository
        self.clock = clock
        self._defaults = {p.brand: p for p in defaults}
        self._unpublished: set[UUID] = set()  # brands seen without a BrandProgramme (still checked each time)
        if any(p.version != DEFAULT_VERSION for p in self._defaults.values()):
            raise ValueError(f"default programmes are version {DEFAULT_VERSION}")

    def default(self, brand: str) -> LoyaltyProgramme:
        """The built-in rules (immutable: built once per brand, not per call: validating them cost 2 % of a
        loaded server's loop)."""
        programme = self._defaults.get(brand)
        if programme is None:
            programme = LoyaltyProgramme.default(brand)
            if len(self._defaults) < MAX_REMEMBERED:
                self._defaults[brand] = programme
        return programme

    async def _published(self, brand: str) -> BrandProgramme | None:
        aggregate_id = programme_id(brand)
        uow = active_unit_of_work()
        if uow is not None:  # inside a command: read from memory, checked at its commit
            if aggregate_id in self._unpublished:
                uow.expect(aggregate_id, 0, lambda: self._unpublished.discard(aggregate_id))
                return None
            if isinstance(cached := self.repository.cached(aggregate_id), BrandProgramme):
                uow.expect(aggregate_id, cached.version)
                return cached
        if aggregate_id in self._unpublished:  # most brands never publish: one query, not a full load
            if not await self.repository.store.select_events(aggregate_id, limit=1):
                return None
            self._unpublished.discard(aggregate_id)
        try:
            return await self.repository.get(aggregate_id, BrandProgramme)
        except NotFound:
            if len(self._unpublished) < MAX_REMEMBERED:  # clients can name any brand: stay bounded
                self._unpublished.add(aggregate_id)
            return None

    async def current(self, brand: str) -> LoyaltyProgramme:
        published = await self._published(brand)
        return published.current if published is not None else self.default(brand)

    async def in_force_at(self, brand: str, at: datetime) -> LoyaltyProgramme:
        """The programme that was in force at ``at`` (the defaults before the first publication)."""
        published = await self._published(brand)
        in_force = published.in_force_at(at) if published is not None else None
        return in_force or self.default(brand)

    async def version(self, brand: str, version: int) -> LoyaltyProgramme:
        """The rules of ``version`` (what a decision event's ``programme_version`` refers to)."""
        check_int("version", version, minimum=1)
        if version == DEFAULT_VERSION:
            return self.default(brand)
        published = await self._published(brand)
        if published is None:
            raise NotFound(
                f"brand {brand} has no programme version {version}",
                reason="PROGRAMME_VERSION_NOT_FOUND",
                brand=brand,
                version=version,
            )
        return published.programme_at(version)

    async def publish(self, programme: LoyaltyProgramme, *, call: Call | None = None) -> Answer:
        """Publish a newer version; the published programme (or, with a ``call``, its stored response)."""
        if not isinstance(programme, LoyaltyProgramme):
            raise InvalidArgument("programme must be a LoyaltyProgramme", reason="INVALID_PROGRAMME")

        async def handler(uow: UnitOfWork) -> LoyaltyProgramme:
            at = self.clock.now()
            aggregate_id = programme_id(programme.brand)
            if await uow.exists(aggregate_id):
                (await uow.get(aggregate_id, BrandProgramme)).publish(programme, at)
            else:  # a rival first publication collides on the new aggregate's version 1: the retry sees it
                await uow.add(BrandProgramme.publish_first(programme, at))
            return programme

        if call is None:
            return await self.runner.run(handler)
        return await self.runner.run_idempotent(handler, call.idempotency, call.encode)
