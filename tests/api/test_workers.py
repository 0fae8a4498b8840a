"""GRPC_WORKERS=2: two server processes share one port and one database, and stop together."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.loyalty.v1 import members_pb2, members_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "workers-test-miniprogram-token"
CONNECTIONS = 24  # each a new TCP connection, which the kernel hands to either worker: all on one is 2 ** -23


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def processes_using(path: Path) -> list[int]:
    """Live processes whose command line names ``path`` (the embedded PostgreSQL's data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def register_on_fresh_connections(port: int) -> None:
    for i in range(CONNECTIONS):
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
                members_pb2.RegisterMemberRequest(
                    request_id=f"workers-{i}", brand="acme", member=members_pb2.Member(openid=f"o-workers-{i}")
                ),
                metadata=(("authorization", f"Bearer {TOKEN}"),),
                timeout=30,
            )


def wait_serving(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "the parent exited early"
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                # the HealthStub stub declares none of the methods __init__ sets
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        assert time.monotonic() < deadline, "no worker became ready"
        time.sleep(0.2)


def test_two_workers_share_one_port_both_answer_calls_and_a_sigterm_stops_every_process(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GRPC_ADDRESS": f"127.0.0.1:{port}",
        "LOYALTY_DATA_DIR": str(tmp_path),
        "GRPC_WORKERS": "2",
        "LOG_FORMAT": "json",
        "LOYALTY_API_TOKENS": f"{TOKEN}=miniprogram@acme",
        "SCHEDULER_INTERVAL": "0",
    }
    env.pop("DATABASE_URL", None)
    out_path = tmp_path / "server.log"
    with open(out_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_serving(port, proc)
        time.sleep(1)  # the second worker binds the port a moment after the first may have answered
        register_on_fresh_connections(port)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(line) for line in out_path.read_text().splitlines() if line.startswith("{")]
    calls = [e for e in lines if e.get("msg") == "rpc" and e.get("rpc", "").endswith("RegisterMember")]
    assert len(calls) == CONNECTIONS and all(c.get("code") == "OK" for c in calls), out_path.read_text()[-3000:]
    assert {c["worker"] for c in calls} == {0, 1}, "both workers answer calls on the one port"
    workers = {e["pid"] for e in lines if "worker" in e}
    assert len(workers) == 2
    assert {e["event_loop"] for e in lines if e.get("msg") == "starting"} == {"asyncio"}, (
        "the standard loop is the default"
    )
    assert proc.returncode == 0
    assert not [pid for pid in workers if alive(pid)], "a worker outlived its parent"
    assert not processes_using(tmp_path / "pgdata"), "the embedded PostgreSQL outlived the parent"
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def serving_pids(log: Path) -> list[int]:
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [e["pid"] for e in entries if e.get("msg", "").startswith("serving gRPC") and "pid" in e]


def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GRPC_ADDRESS": f"127.0.0.1:{port}",
        "LOYALTY_DATA_DIR": str(tmp_path),
        "GRPC_WORKERS": "2",
        "LOG_FORMAT": "json",
        "LOYALTY_API_TOKENS": f"{TOKEN}=miniprogram@acme",
        "SCHEDULER_INTERVAL": "0",
    }
    env.pop("DATABASE_URL", None)
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_serving(port, proc)
        deadline = time.monotonic() + 60
        while len(serving_pids(log)) < 2:
            assert time.monotonic() < deadline, "the second worker never served"
            time.sleep(0.2)
        first = serving_pids(log)
        os.kill(first[0], signal.SIGKILL)
        while len(serving_pids(log)) < 3:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        register_on_fresh_connections(port)  # every connection answered, whichever worker gets it
        replacement = serving_pids(log)[2]
        assert replacement not in first and alive(replacement) and proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not [pid for pid in serving_pids(log) if alive(pid)]
