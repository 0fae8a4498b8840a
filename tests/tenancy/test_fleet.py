"""Two server processes, one projection worker, clients of two brands; one server killed -9 mid-run.

Afterwards every acknowledged write is in its brand's log exactly once, and each brand's event log,
aggregates (read through the API) and read models (fed by the separate worker) agree.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infrastructure.tenants import onboard
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import members_pb2_grpc
from tests.api.conftest import KEYS, TOKENS, auth

ROOT = Path(__file__).resolve().parents[2]
BRANDS = ("acme", "beta")
CLIENTS_PER_BRAND = 3
EARNS_PER_CLIENT = 12
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(dsn: str) -> dict[str, str]:
    """Every process of the fleet: one database, one set of tokens, one set of personal-data keys (processes
    with keys of their own would refuse each other's: KeyConfigurationError)."""
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "LOYALTY_ONBOARD_TOKEN_BRANDS": "0",
        "SCHEDULER_INTERVAL": "0",
        "LOG_LEVEL": "warning",
        "LOYALTY_API_TOKENS": ",".join(f"{t}={r}" for r, t in TOKENS.items()),
        **KEYS,
    }


async def serving_ok(address: str) -> None:
    async with asyncio.timeout(60):
        while True:
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    # the HealthStub stub declares none of the methods __init__ sets
                    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)  # type: ignore[attr-defined]
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)


async def test_a_server_killed_mid_run_loses_and_duplicates_nothing_across_two_brands(fresh_dsn, tmp_path):
    for brand in BRANDS:
        await onboard(fresh_dsn, brand)
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    servers = [
        subprocess.Popen(  # noqa: ASYNC220 - starts a server process and returns; the test then talks to it
            [sys.executable, "server.py"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            env={
                **env_for(fresh_dsn),
                "GRPC_ADDRESS": a,
                "LOYALTY_PROJECTIONS": "0",
                "LOYALTY_DATA_DIR": str(tmp_path / f"s{i}"),
            },
        )
        for i, a in enumerate(addresses)
    ]
    worker = subprocess.Popen(  # noqa: ASYNC220 - starts the worker process and returns
        [
            sys.executable,
            "-m",
            "infrastructure.projection_runner",
            "infrastructure.projections:all_projections",
            "--all-brands",
            "--lease-retry",
            "0.2",
        ],
        cwd=ROOT,
        env=env_for(fresh_dsn),
        stdout=subprocess.DEVNULL,
    )
    channels: list[grpc.aio.Channel] = []
    try:
        for a in addresses:
            await serving_ok(a)
        channels = [grpc.aio.insecure_channel(a) for a in addresses]
        stubs = [members_pb2_grpc.MemberServiceStub(c) for c in channels]
        acked: dict[str, dict[str, int]] = {}  # member -> {request id: points} acknowledged
        brand_of: dict[str, str] = {}
        killed = asyncio.Event()
        progress = {"acks": 0, "retried": 0}

        async def call(method: str, request, brand: str, start: int):
            """Send to one server; on a retryable failure retry with the same request id on the other."""
            turn = start
            async with asyncio.timeout(90):
                while True:
                    stub = stubs[turn % 2]
                    try:
                        return await getattr(stub, method)(request, metadata=auth("miniprogram", brand), timeout=10)
                    except grpc.aio.AioRpcError as e:
                        if e.code() not in RETRYABLE:
                            raise
                        turn += 1
                        progress["retried"] += killed.is_set()
                        await asyncio.sleep(0.05)

        async def client(brand: str, n: int) -> None:
            member = (
                await call(
                    "RegisterMember",
                    m.RegisterMemberRequest(request_id=f"reg-{brand}-{n}", member=m.Member(openid=f"o-{n}")),
                    brand,
                    n,
                )
            ).name
            acked[member], brand_of[member] = {}, brand
            for i in range(EARNS_PER_CLIENT):
                rid = f"earn-{n}-{i}"
                await call(
                    "EarnPoints",
                    m.EarnPointsRequest(request_id=rid, name=member, rule="sign-in", points=10 + i),
                    brand,
                    n + i,
                )
                acked[member][rid] = 10 + i
                progress["acks"] += 1

        async def killer() -> None:
            total = len(BRANDS) * CLIENTS_PER_BRAND * EARNS_PER_CLIENT
            async with asyncio.timeout(120):
                while progress["acks"] < total // 3:
                    await asyncio.sleep(0.02)
            servers[0].send_signal(signal.SIGKILL)  # mid-run: calls in flight on it
            killed.set()

        await asyncio.gather(killer(), *(client(b, n) for b in BRANDS for n in range(CLIENTS_PER_BRAND)))
        assert killed.is_set() and servers[0].wait(10) == -signal.SIGKILL
        assert progress["retried"] > 0  # clients met the dead server and went on with the same request ids

        conn = await asyncpg.connect(fresh_dsn)
        try:
            for brand in BRANDS:
                schema = f"brand_{brand}"
                members = {name: acks for name, acks in acked.items() if brand_of[name] == brand}
                assert len(members) == CLIENTS_PER_BRAND
                head = await conn.fetchval(f"SELECT max(notification_id) FROM {schema}.loyaltyengine_events")
                async with asyncio.timeout(60):  # the separate worker brings every read model to the head
                    while (
                        await conn.fetchval(
                            f"SELECT min(notification_id) FROM {schema}.projection_tracking "
                            "WHERE application_name = 'member_points'"
                        )
                        != head
                    ):
                        await asyncio.sleep(0.1)
                for name, acks in members.items():
                    member_id = name.partition("/")[2]
                    # the log: one PointsEarned per acknowledged earn, no more
                    earned_events = await conn.fetchval(
                        f"SELECT count(*) FROM {schema}.loyaltyengine_events "
                        "WHERE originator_id = $1::uuid AND topic LIKE '%PointsEarned'",
                        member_id,
                    )
                    assert earned_events == len(acks) == EARNS_PER_CLIENT
                    logged = await conn.fetchval(
                        f"SELECT count(*) FROM {schema}.request_log WHERE request_id = ANY($1::text[])",
                        [f"{brand}/{rid}" for rid in acks],
                    )
                    assert logged == len(acks)
                    # the aggregate (through the surviving server) and the read model agree with the acks
                    member = await stubs[1].GetMember(m.GetMemberRequest(name=name), metadata=auth("auditor", brand))
                    assert member.available_points == sum(acks.values())
                    assert await conn.fetchval(
                        f"SELECT earned FROM {schema}.member_points WHERE member_id = $1::uuid", member_id
                    ) == sum(acks.values())
                # nothing of one brand in the other's schema
                other = next(b for b in BRANDS if b != brand)
                assert (
                    await conn.fetchval(
                        f"SELECT count(*) FROM brand_{other}.loyaltyengine_events"
                        " WHERE originator_id = ANY($1::uuid[])",
                        [n.partition("/")[2] for n in members],
                    )
                    == 0
                )
        finally:
            await conn.close()
    finally:
        for c in channels:
            await c.close()
        for p in [*servers, worker]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*servers, worker]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
