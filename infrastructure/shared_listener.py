"""One LISTEN connection per database for every brand's followers in a process, dispatching by channel.

Each brand's event store notifies its own channel on every commit, and in one process five tasks per brand
follow it (the store directory, the stock directory, the drop-entry index, the erasure watcher, the
projection runner). With a LISTEN connection each, a process serving two brands on one database held ten
listening sessions, and PostgreSQL signals *every* listening session of a database on each commit, whatever
channels it listens to (``SignalBackends`` in ``async.c`` knows positions in the shared queue, not
channels): each commit of either brand woke ten backends, which read the queue, forwarded the NOTIFY to
this process (five of them) or found nothing of theirs (the other five), and this process decoded the
five copies. Here one session per database listens to every brand's channel: a commit wakes one backend
and one message arrives, handed to the followers of that channel only.

Nothing here couples brands: the connection carries messages, and the dispatch is a synchronous call of
each follower's callback (which sets an event), never a wait on another brand's lock or batch. A
follower's channel is LISTENed before its ``on_connect`` runs, so it reads after it can no longer miss a
NOTIFY; when the connection drops every follower is told again once the new one listens.

This is the only LISTEN loop: an event store with no session of the process (a tool, a test, the sync adapter)
gets one of its own (``EventStore.listen_session``), which its followers (subscriptions, the projection
runner) share the same way. The session runs while it has followers: the first one starts it, the last one
to leave stops it and waits until its connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Protocol

import asyncpg

from application.background import stop_task, wait_event

log = logging.getLogger(__name__)


class Follower(Protocol):
    channel: str

    def notified(self, payload: str, pid: int) -> None: ...  # pid: the PostgreSQL backend that sent it
    def connected_again(self) -> None: ...


class SharedListener:
    """The LISTEN session of one database in this process (see the module's docstring)."""

    def __init__(
        self,
        dsn: str,
        *,
        min_backoff: float = 0.05,
        max_backoff: float = 1.0,
        check_interval: float = 0.5,
    ) -> None:
        self.dsn = dsn
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.check_interval = check_interval
        self.connected = False
        self.connections = 0
        """How many times it has (re)connected (tests watch it)."""
        self.application_name = f"loyalty-listen pid={os.getpid()}"
        self.listening: set[str] = set()
        """The channels LISTENed on the current session."""
        self._followers: dict[str, list[Follower]] = {}
        self._new: list[Follower] = []  # added since the last sync: told once their channel is listened
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, follower: Follower) -> None:
        """Follow ``follower.channel``: its ``connected_again`` runs once the channel is LISTENed (and after
        every reconnection), its ``notified`` on every NOTIFY of that channel."""
        self._followers.setdefault(follower.channel, []).append(follower)
        self._new.append(follower)
        self._changed.set()
        if self._task is None or self._task.done():
            self._changed = asyncio.Event()  # of this loop (a store may outlive one, as in tests)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="shared-listener")

    async def remove(self, follower: Follower) -> None:
        """Stop following; the last follower to leave closes the session (the next :meth:`add` opens one)."""
        followers = self._followers.get(follower.channel, [])
        if follower in followers:
            followers.remove(follower)
        if not followers:
            self._followers.pop(follower.channel, None)
        if follower in self._new:
            self._new.remove(follower)
        self._changed.set()
        if not self._followers:
            await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def _dispatch(self, _conn: object, pid: int, channel: str, payload: object) -> None:
        for follower in tuple(self._followers.get(channel, ())):
            try:
                follower.notified(str(payload), pid)
            except Exception:  # one follower's bug must not keep the NOTIFY from the others
                log.exception("a follower of %s failed on NOTIFY", channel)

    async def _sync(self, conn: asyncpg.Connection) -> None:
        """LISTEN to the channels that gained followers, UNLISTEN the ones that lost them all, then tell the
        new followers they are connected (they read now, and are woken by every NOTIFY after it)."""
        wanted, listening = set(self._followers), self.listening
        for channel in sorted(wanted - listening):
            await conn.add_listener(channel, self._dispatch)
            listening.add(channel)
        for channel in sorted(listening - wanted):
            await conn.remove_listener(channel, self._dispatch)
            listening.discard(channel)
        new, self._new = self._new, []
        for follower in new:
            if follower.channel in listening:
                follower.connected_again()

    async def _run(self) -> None:
        delay = self.min_backoff
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": self.application_name})
                conn.add_termination_listener(lambda _: self._changed.set())
                self.listening = set()
                self._new = [f for followers in self._followers.values() for f in followers]  # all catch up
                self.connected, delay = True, self.min_backoff
                self.connections += 1
                if self.connections > 1:
                    log.info("shared LISTEN reconnected")
                while not conn.is_closed():
                    self._changed.clear()
                    await self._sync(conn)
                    await wait_event(self._changed, self.check_interval)
                log.warning("shared LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("shared LISTEN failed (%s); retrying in %.2f s", type(e).__name__, delay)
            finally:
                if self._task in (None, asyncio.current_task()):  # not a session started since close()
                    self.connected, self.listening = False, set()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(delay)
            delay = min(self.max_backoff, delay * 2)
