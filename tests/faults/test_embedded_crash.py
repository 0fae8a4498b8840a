"""The embedded PostgreSQL survives a crash of the server that started it.

After kill -9 of server.py the next start adopts (or restarts) its own PostgreSQL,
and the next clean stop leaves nothing running; a leftover ``postmaster.pid``
naming a live unrelated process (as after a container restart) does not stop start-up.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infrastructure.embedded_postgres import EmbeddedPostgres
from protos.loyalty.v1 import members_pb2, members_pb2_grpc
from tests.api.test_server_lifecycle import ROOT, free_port

TOKEN = "mp-token-0123456789abcdef"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def postmasters(pgdata: Path) -> list[int]:
    """Live PostgreSQL servers of this data directory."""
    found = []
    for p in psutil.process_iter(["name", "cmdline", "status"]):
        if (
            p.info["name"] == "postgres"
            and p.info["status"] != psutil.STATUS_ZOMBIE
            and str(pgdata.resolve()) in " ".join(p.info["cmdline"] or ())
        ):
            found.append(p.pid)
    return found


class ServerProcess:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        """server.py on the embedded default, unless ``env`` names a ``DATABASE_URL``."""
        self.port = free_port()
        base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env = {
            **base,
            "GRPC_ADDRESS": f"127.0.0.1:{self.port}",
            "LOYALTY_DATA_DIR": str(data_dir),
            "LOYALTY_API_TOKENS": f"{TOKEN}=miniprogram@acme",
            "SCHEDULER_INTERVAL": "0",
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "server.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def channel(self) -> grpc.Channel:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                # the HealthStub stub declares none of the methods __init__ sets
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return channel
            except grpc.RpcError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()[0]
            assert time.monotonic() < deadline, "server did not start serving"
            time.sleep(0.2)

    def kill_9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, out
        return out

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_after_kill_9_of_the_server_the_next_start_adopts_its_postgres_and_a_clean_stop_ends_it(tmp_path):
    pgdata = tmp_path / "pgdata"
    first = ServerProcess(tmp_path)
    try:
        with first.channel() as channel:
            member = members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
                members_pb2.RegisterMemberRequest(
                    request_id="reg-1", brand="acme", member=members_pb2.Member(openid="o-1")
                ),
                metadata=AUTH,
                timeout=10,
            )
        first.kill_9()
    finally:
        first.ensure_dead()
    orphans = postmasters(pgdata)
    assert orphans, "the crash left no PostgreSQL behind: nothing to adopt, nothing tested"
    assert first.proc.pid in json.loads((pgdata / ".handle_pids.json").read_text())  # the dead server's handle

    second = ServerProcess(tmp_path)
    try:
        with second.channel() as channel:
            got = members_pb2_grpc.MemberServiceStub(channel).GetMember(
                members_pb2.GetMemberRequest(name=member.name), metadata=AUTH, timeout=10
            )
            assert got.name == member.name  # same database, same data
        second.stop()
    finally:
        second.ensure_dead()
        leftovers = postmasters(pgdata)
        for pid in leftovers:  # never leave a PostgreSQL behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
    assert leftovers == [], "a clean stop after the crash must leave no PostgreSQL running"
    assert not (pgdata / "postmaster.pid").exists()


def test_a_leftover_postmaster_pid_naming_a_live_unrelated_process_does_not_stop_start_up(tmp_path):
    pgdata = tmp_path / "pgdata"
    embedded = EmbeddedPostgres(tmp_path)
    embedded.start()
    lock = (pgdata / "postmaster.pid").read_text()
    embedded.stop()
    assert postmasters(pgdata) == []
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        # As after a container restart: the old file now names a PID some other process holds.
        (pgdata / "postmaster.pid").write_text("\n".join([str(unrelated.pid), *lock.splitlines()[1:]]) + "\n")
        again = EmbeddedPostgres(tmp_path)
        dsn = again.start()
        try:

            async def ping() -> int:
                conn = await asyncpg.connect(dsn)
                try:
                    return await conn.fetchval("SELECT 1")
                finally:
                    await conn.close()

            assert asyncio.run(ping()) == 1
        finally:
            again.stop()
        assert postmasters(pgdata) == []
        assert unrelated.poll() is None, "the unrelated process must be left alone"
    finally:
        unrelated.kill()
        unrelated.wait()
