"""Reads that tolerate a little lag go to a streaming replica, never staler than a bound.

:class:`ReplicaReads` stands in for a brand's primary pool in the read-only paths that may lag
(dealer revenue streams and the ledger CSV, audit event streams, points liability, log
verification). Each read goes to the replica when it is known to be no staler than
``max_lag_s``, else to the primary (``fallback=True``) or fails ``UNAVAILABLE`` (``fallback=False``).

Staleness is measured against the primary, not the replica's own replay clock (which reads zero
lag when the replica has silently lost its primary): every ``check_interval`` the primary's WAL
position is sampled, and the replica is as stale as the oldest sample it has not replayed yet.
Writes, the mini-program's reads and everything that must read its own writes use the primary
pool directly and never see this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from application.availability import Unavailable
from infrastructure.event_store import _keep_session, connection_failure
from infrastructure.pg import Connection

log = logging.getLogger(__name__)


class ReplicaUnavailable(Unavailable):
    """The replica cannot serve within its staleness bound and falling back to the primary is off. -> UNAVAILABLE"""

    reason = "REPLICA_UNAVAILABLE"


_LSN = "SELECT ({}() - '0/0'::pg_lsn)::bigint"
PRIMARY_LSN = _LSN.format("pg_current_wal_lsn")
REPLAYED_LSN = _LSN.format("pg_last_wal_replay_lsn")


class ReplicaReads:
    """A pool-like object (``fetch``, ``fetchrow``, ``fetchval``, ``acquire``) choosing replica or primary per read."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replica_dsn: str,
        *,
        search_path: str,
        max_lag_s: float = 5.0,
        fallback: bool = True,
        check_interval: float = 0.25,
        retry_after_s: float = 1.0,
        max_size: int = 5,
    ) -> None:
        self.primary = primary
        self.replica_dsn = replica_dsn
        self.search_path = search_path
        self.max_lag_s = max_lag_s
        self.fallback = fallback
        self.check_interval = check_interval
        self.retry_after_s = retry_after_s
        self.max_size = max_size
        self.replica: asyncpg.Pool | None = None
        self.served = {"replica": 0, "primary": 0}
        """Reads served by each side (tests, metrics)."""
        self._samples: deque[tuple[float, int]] = deque()  # (monotonic time, primary WAL position)
        self._checked_at = -1e9
        self._fresh = False
        self._down_until = 0.0
        self._lock = asyncio.Lock()

    # --- choosing -----------------------------------------------------------------------------

    async def staleness(self) -> float:
        """How far behind the primary the replica is now, in seconds (0 when it has replayed every sample)."""
        assert self.replica is not None
        now = time.monotonic()
        self._samples.append((now, await self.primary.fetchval(PRIMARY_LSN)))
        replayed = await self.replica.fetchval(REPLAYED_LSN)
        if replayed is None:  # not a standby: it is the primary's own data, never stale
            self._samples.clear()
            return 0.0
        while self._samples and self._samples[0][1] <= replayed:
            self._samples.popleft()
        return now - self._samples[0][0] if self._samples else 0.0

    async def _replica_usable(self) -> bool:
        now = time.monotonic()
        if now < self._down_until:
            return False
        if now - self._checked_at < self.check_interval:
            return self._fresh
        async with self._lock:
            if time.monotonic() - self._checked_at < self.check_interval:
                return self._fresh
            try:
                if self.replica is None:
                    self.replica = await asyncpg.create_pool(
                        self.replica_dsn,
                        min_size=1,
                        max_size=self.max_size,
                        reset=_keep_session,
                        server_settings={"search_path": self.search_path},
                    )
                lag = await self.staleness()
                # the decision stands for up to check_interval: keep that much of the bound in hand
                self._fresh = lag + self.check_interval <= self.max_lag_s
                if not self._fresh:
                    log.warning("replica behind by %.2f s (bound %.2f s)", lag, self.max_lag_s)
            except Exception as e:
                if not connection_failure(e):
                    log.warning("replica check failed: %s", e)
                self._mark_down()
                return False
            self._checked_at = time.monotonic()
            return self._fresh

    def _mark_down(self) -> None:
        self._fresh = False
        self._down_until = time.monotonic() + self.retry_after_s
        self._checked_at = -1e9

    async def _pool(self) -> asyncpg.Pool:
        if await self._replica_usable():
            assert self.replica is not None
            return self.replica
        if not self.fallback:
            raise ReplicaUnavailable("the replica is away or behind its staleness bound")
        return self.primary

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        pool = await self._pool()
        try:
            result = await getattr(pool, method)(*args, **kwargs)
        except Exception as e:
            if pool is self.primary or not connection_failure(e):
                raise
            self._mark_down()
            if not self.fallback:
                raise ReplicaUnavailable("the replica went away") from e
            pool = self.primary
            result = await getattr(pool, method)(*args, **kwargs)
        self.served["replica" if pool is not self.primary else "primary"] += 1
        return result

    # --- the pool interface the read paths use ------------------------------------------------

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("fetch", *args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("fetchrow", *args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("fetchval", *args, **kwargs)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        pool = await self._pool()
        try:
            conn = await pool.acquire()
        except Exception as e:
            if pool is self.primary or not connection_failure(e):
                raise
            self._mark_down()
            if not self.fallback:
                raise ReplicaUnavailable("the replica went away") from e
            pool = self.primary
            conn = await pool.acquire()
        self.served["replica" if pool is not self.primary else "primary"] += 1
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                await pool.release(conn)

    async def close(self) -> None:
        replica, self.replica = self.replica, None
        if replica is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await replica.close()
            # private: the stubs do not declare it, and is_closing() is also true of a close that timed out
            if not getattr(replica, "_closed", False):
                replica.terminate()
