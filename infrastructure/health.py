"""A truthful health service: NOT_SERVING while the database cannot be reached, SERVING again by itself.

A probe runs ``SELECT 1`` on a connection of its own (not the pool's, which a
busy server may have lent out) every ``interval`` seconds, and at once when a
call has just met an unreachable database (:func:`database_unreachable_seen`),
so the status flips within milliseconds of the first failed call rather than at
the next tick. The probe decides, never the caller: a call that met a stale
pooled connection after the database came back does not mark it down.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence

import asyncpg
from grpc_health.v1 import health, health_pb2

from application.background import stop_task, wait_event

log = logging.getLogger(__name__)

_monitors: weakref.WeakSet[DatabaseHealth] = weakref.WeakSet()


def database_unreachable_seen() -> None:
    """A call could not reach the database: every monitor in this process probes now."""
    for monitor in list(_monitors):
        monitor.poke()


class DatabaseHealth:
    def __init__(
        self,
        dsn: str,
        servicer: health.aio.HealthServicer,
        services: Sequence[str],
        *,
        interval: float = 0.5,
        timeout: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.servicer = servicer
        self.services = list(services)
        self.interval = interval
        self.timeout = timeout
        self.reachable = True
        self._conn: asyncpg.Connection | None = None
        self._poked = asyncio.Event()
        self._task: asyncio.Task | None = None

    def poke(self) -> None:
        if self.reachable:  # once down, the regular probe notices the way back
            self._poked.set()

    def start(self) -> None:
        _monitors.add(self)
        self._task = asyncio.create_task(self._run(), name="database-health")

    async def stop(self) -> None:
        _monitors.discard(self)
        await stop_task(self._task)
        self._task = None
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def probe(self) -> bool:
        """One round trip on the probe's own connection (reconnecting when it dropped)."""
        try:
            async with asyncio.timeout(self.timeout):
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self.dsn)
                await self._conn.fetchval("SELECT 1")
            return True
        except Exception:
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            return False

    async def _run(self) -> None:
        while True:
            self._poked.clear()
            reachable = await self.probe()
            if reachable != self.reachable:
                self.reachable = reachable
                status = (
                    health_pb2.HealthCheckResponse.SERVING if reachable else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for name in self.services:
                    await self.servicer.set(name, status)
                if reachable:
                    log.info("database reachable again; health SERVING")
                else:
                    log.warning("database unreachable; health NOT_SERVING")
            await wait_event(self._poked, self.interval)
