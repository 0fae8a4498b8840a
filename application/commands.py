"""Shared base of the use-case services: a clock, the programmes, the command runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from application.clock import Clock
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.unit_of_work import CommandRunner, Idempotency, UnitOfWork
from domain.identity import IdentityIds

DEVELOPMENT_BLIND_INDEX_KEY = b"loyalty-development-blind-index!"
"""Only for services built without a key (tests of the use cases); the server always passes the configured one."""


@dataclass(frozen=True)
class Call:
    """An API call's idempotency key and how to encode its response for the request log."""

    idempotency: Idempotency
    encode: Callable[[Any], bytes]


class Service:
    def __init__(
        self, runner: CommandRunner, clock: Clock, programmes: ProgrammeCatalog, *,
        identities: IdentityIds | None = None,
    ) -> None:
        self.identities = identities or IdentityIds(DEVELOPMENT_BLIND_INDEX_KEY)
        self.runner = runner
        self.repository: Repository = runner.repository
        self.clock = clock
        self.programmes = programmes

    async def execute(self, handler: Callable[[UnitOfWork], Awaitable[Any]], call: Call | None) -> Any:
        """The handler's result, or with a ``call`` its encoded (possibly stored) response."""
        if call is None:
            return await self.runner.run(handler)
        return await self.runner.run_idempotent(handler, call.idempotency, call.encode)
