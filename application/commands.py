"""Shared base of the use-case services: a clock, the programmes, the command runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from application.clock import Clock
from application.ports import PersonalDataKeys
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.unit_of_work import CommandRunner, Idempotency, UnitOfWork
from domain.identity import IdentityIds

DEVELOPMENT_BLIND_INDEX_KEY = b"loyalty-development-blind-index!"
"""Only for services built without a key (tests of the use cases); the server always passes the configured one."""

R = TypeVar("R")


@dataclass(frozen=True)
class Call:
    """An API call's idempotency key and how to encode its response for the request log."""

    idempotency: Idempotency
    encode: Callable[[Any], bytes]


Answer = Any
"""What a command method returns: without a ``call`` the handler's result (an aggregate or a value), with
one the encoded response (bytes), possibly the stored one of an earlier identical request. Which of the two
depends on an argument, so the methods say Any; ``execute`` is the one place that decides."""


class Service:
    def __init__(
        self,
        runner: CommandRunner,
        clock: Clock,
        programmes: ProgrammeCatalog,
        *,
        identities: IdentityIds | None = None,
        keys: PersonalDataKeys | None = None,
    ) -> None:
        self.identities = identities or IdentityIds(DEVELOPMENT_BLIND_INDEX_KEY)
        self.keys = keys
        """The personal-data keys erasure destroys (members' and guides' services; None in use-case tests)."""
        self.runner = runner
        self.repository: Repository = runner.repository
        self.clock = clock
        self.programmes = programmes

    @overload
    async def execute(self, handler: Callable[[UnitOfWork], Awaitable[R]], call: None) -> R: ...
    @overload
    async def execute(self, handler: Callable[[UnitOfWork], Awaitable[R]], call: Call) -> bytes: ...
    @overload
    async def execute(self, handler: Callable[[UnitOfWork], Awaitable[R]], call: Call | None) -> R | bytes: ...
    async def execute(self, handler: Callable[[UnitOfWork], Awaitable[R]], call: Call | None) -> R | bytes:
        """The handler's result, or with a ``call`` its encoded (possibly stored) response."""
        if call is None:
            return await self.runner.run(handler)
        return await self.runner.run_idempotent(handler, call.idempotency, call.encode)
