"""PostgreSQL restarts (fast, kill -9) and an outage under load, on loopback, against an in-process server.

Clients retry UNAVAILABLE (and the other retryable codes) with the same request id,
as the README tells them to. What must hold: they never see INTERNAL; nothing they
were told is done is lost or done twice; read models and the store directory are
fresh within 5 s after the restart; the health service says NOT_SERVING while the
database is away and SERVING again by itself.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from protos.loyalty.v1 import audit_pb2, audit_pb2_grpc, members_pb2, members_pb2_grpc, stores_pb2, stores_pb2_grpc
from tests.api.builders import store_spec
from tests.api.conftest import auth, serving
from tests.faults.conftest import RestartablePostgres

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
FRESH_WITHIN_S = 5.0
BRAND = "acme"


@dataclass
class Load:
    """Mini-program backends registering members and earning points, retrying with the same request id."""

    members: members_pb2_grpc.MemberServiceStub
    failures: collections.Counter = field(default_factory=collections.Counter)
    reasons: collections.Counter = field(default_factory=collections.Counter)
    unavailable_without_retry_info: int = 0
    earned: dict[str, int] = field(default_factory=dict)  # member name -> points acknowledged
    stopping: bool = False
    _ids: itertools.count = field(default_factory=itertools.count)

    async def call(self, rpc, request, role: str = "miniprogram"):
        while True:
            try:
                return await rpc(request, metadata=auth(role), timeout=10)
            except grpc.aio.AioRpcError as e:
                self.failures[e.code().name] += 1
                if e.code() not in RETRYABLE:
                    raise
                if e.code() is grpc.StatusCode.UNAVAILABLE and not _retry_info(e):
                    self.unavailable_without_retry_info += 1
                self.reasons[_reason(e)] += 1
                await asyncio.sleep(0.05)

    async def worker(self, n: int) -> None:
        while not self.stopping:
            i = next(self._ids)
            member = await self.call(
                self.members.RegisterMember,
                members_pb2.RegisterMemberRequest(
                    request_id=f"reg-{n}-{i}", brand=BRAND, member=members_pb2.Member(openid=f"o-{n}-{i}")
                ),
            )
            self.earned.setdefault(member.name, 0)
            for k in range(1, 4):
                await self.call(
                    self.members.EarnPoints,
                    members_pb2.EarnPointsRequest(
                        request_id=f"earn-{n}-{i}-{k}", name=member.name, rule="sign-in", points=k
                    ),
                )
                self.earned[member.name] += k

    async def run_around(self, fault, *, workers: int = 6, before_s: float = 1.0, after_s: float = 1.0) -> None:
        tasks = [asyncio.create_task(self.worker(n)) for n in range(workers)]
        await asyncio.sleep(before_s)
        await fault()
        await asyncio.sleep(after_s)
        self.stopping = True
        await asyncio.gather(*tasks)


def _reason(error: grpc.aio.AioRpcError) -> str:
    # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def _retry_info(error: grpc.aio.AioRpcError) -> bool:
    # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    return status is not None and any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)


async def _health(channel: grpc.aio.Channel) -> int:
    try:
        # the HealthStub stub declares none of the methods __init__ sets
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)  # type: ignore[attr-defined]
        return response.status
    except grpc.aio.AioRpcError:
        return -1


async def _within(seconds: float, condition) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("fault", ["restart_fast", "kill_9_and_start"])
async def test_a_postgres_restart_under_load_loses_nothing_and_answers_only_unavailable(
    fault: str,
    restartable_pg: RestartablePostgres,
    restartable_dsn: str,
    tmp_path: Path,
) -> None:
    async with serving(restartable_dsn, tmp_path) as (running, channel):
        members = members_pb2_grpc.MemberServiceStub(channel)
        load = Load(members)
        await load.run_around(lambda: restartable_pg.run(fault))

        print(
            f"{fault}: {sum(load.earned.values())} points in {len(load.earned)} members acknowledged; "
            f"failed calls by reason: {dict(load.reasons)}"
        )
        assert "INTERNAL" not in load.failures, load.failures
        assert set(load.failures) <= {"UNAVAILABLE"}, load.failures
        assert load.unavailable_without_retry_info == 0
        assert load.failures["UNAVAILABLE"] > 0, "the fault did not reach the clients: nothing was tested"

        # Nothing acknowledged lost or duplicated: every member holds exactly what it was told it earned.
        for name, points in load.earned.items():
            member = await load.call(members.GetMember, members_pb2.GetMemberRequest(name=name))
            assert member.available_points + member.pending_points == points, name

        # Read models follow within 5 s: the points liability projection, and the live store directory.
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        total = sum(load.earned.values())

        async def liability_is_current() -> bool:
            liability = await load.call(
                audit.GetPointsLiability, audit_pb2.GetPointsLiabilityRequest(brand=BRAND), role="auditor"
            )
            return liability.available_points + liability.pending_points == total

        await _within(FRESH_WITHIN_S, liability_is_current)
        stores = stores_pb2_grpc.StoreServiceStub(channel)
        opened = await load.call(
            stores.OpenCloudStore,
            stores_pb2.OpenCloudStoreRequest(
                request_id="open-after-restart",
                brand=BRAND,
                cloud_store=stores_pb2.CloudStore(spec=store_spec("S-AFTER", 31.23, 121.47)),
            ),
            role="operator",
        )
        store_id = opened.name.split("/")[1]

        async def directory_has_it() -> bool:
            return any(str(i) == store_id for i in running.directory.replicas)

        await _within(FRESH_WITHIN_S, directory_has_it)

        async def serving_() -> bool:
            return await _health(channel) == health_pb2.HealthCheckResponse.SERVING

        await _within(FRESH_WITHIN_S, serving_)


async def test_health_says_not_serving_while_postgres_is_down_and_serving_again_by_itself(
    restartable_pg: RestartablePostgres,
    restartable_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(restartable_dsn, tmp_path) as (running, channel):
        members = members_pb2_grpc.MemberServiceStub(channel)
        member = await members.RegisterMember(
            members_pb2.RegisterMemberRequest(request_id="reg-1", brand=BRAND, member=members_pb2.Member(openid="o-1")),
            metadata=auth("miniprogram"),
        )
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        monitor = running.database_health
        assert monitor is not None
        probes: list[bool] = []  # every probe's verdict, in order
        probe = monitor.probe

        async def counted_probe() -> bool:
            probes.append(await probe())
            return probes[-1]

        monkeypatch.setattr(monitor, "probe", counted_probe)

        await restartable_pg.run("stop")
        try:
            with pytest.raises(grpc.aio.AioRpcError) as read:
                await members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=auth("miniprogram"))
            with pytest.raises(grpc.aio.AioRpcError) as write:
                await members.EarnPoints(
                    members_pb2.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5),
                    metadata=auth("miniprogram"),
                )
            for error in (read.value, write.value):
                assert error.code() is grpc.StatusCode.UNAVAILABLE
                info = error_details_pb2.ErrorInfo()
                # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
                rpc_status.from_call(error).details[0].Unpack(info)  # type: ignore[arg-type]
                assert info.reason == "DATABASE_UNAVAILABLE"
                assert _retry_info(error)

            async def not_serving() -> bool:
                return await _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING

            await _within(2.0, not_serving)  # a call met the unreachable database: the probe ran at once
            seen = len(probes)

            async def probed_twice_more() -> bool:  # two more rounds of the monitor, each deciding on a probe
                return len(probes) >= seen + 3  # (a round's decision is made once the next probe starts)

            await _within(5.0, probed_twice_more)
            assert not any(probes[seen:]), "the database is down: every probe since must fail"
            assert await not_serving(), "health must stay NOT_SERVING for the whole outage"
        finally:
            await restartable_pg.run("start")

        async def serving_() -> bool:
            return await _health(channel) == health_pb2.HealthCheckResponse.SERVING

        await _within(FRESH_WITHIN_S, serving_)
        change = await members.EarnPoints(
            members_pb2.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5),
            metadata=auth("miniprogram"),
        )
        assert change is not None
        got = await members.GetMember(members_pb2.GetMemberRequest(name=member.name), metadata=auth("miniprogram"))
        assert got.available_points + got.pending_points == 5
