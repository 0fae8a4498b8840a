"""Lag-tolerant reads from a real streaming replica; never staler than the bound; the primary for the rest."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc

from infrastructure.tenants import onboard
from protos.loyalty.v1 import audit_pb2, audit_pb2_grpc, members_pb2_grpc
from protos.loyalty.v1 import members_pb2 as m
from tests.api.conftest import auth, serving
from tests.api.test_errors import rejected


async def on(dsn: str, sql: str):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_lag_tolerant_reads_come_from_the_replica_within_the_bound_or_not_at_all(replication, tmp_path):
    await onboard(replication.primary_dsn, "acme", replica_dsn=replication.dsn)
    env = {"LOYALTY_ONBOARD_TOKEN_BRANDS": "0", "REPLICA_FALLBACK": "unavailable", "REPLICA_MAX_LAG_MS": "1500"}
    async with serving(replication.primary_dsn, tmp_path, env=env) as (running, channel):
        members = members_pb2_grpc.MemberServiceStub(channel)
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        replica = running.brand("acme").replica
        assert replica is not None

        async def register(openid: str) -> m.Member:
            return await members.RegisterMember(
                m.RegisterMemberRequest(request_id=openid, member=m.Member(openid=openid)), metadata=auth("miniprogram")
            )

        def stream():
            return audit.StreamEvents(
                audit_pb2.StreamEventsRequest(positions=audit_pb2.PositionRange(after=0)), metadata=auth("auditor")
            )

        async def streamed() -> list:
            return [e async for e in stream()]

        first = await register("o-1")
        head = await running.store.max_notification_id()
        async with asyncio.timeout(30):  # the replica catches up; meanwhile reads are fresh within the bound
            while len(await streamed()) < head:
                await asyncio.sleep(0.05)
        assert replica.served["replica"] > 0 and replica.served["primary"] == 0

        # replay stops on the replica: once its data is older than the bound it answers no more
        await on(replication.dsn, "SELECT pg_wal_replay_pause()")
        try:
            second = await register("o-2")
            # the mini-program reads its own writes on the primary meanwhile
            got = await members.GetMember(m.GetMemberRequest(name=second.name), metadata=auth("miniprogram"))
            assert got.name == second.name
            head = await running.store.max_notification_id()
            async with asyncio.timeout(30):
                while True:
                    try:
                        assert len(await streamed()) < head  # a read the replica serves lacks the new events
                    except grpc.aio.AioRpcError:
                        break
                    await asyncio.sleep(0.05)
            code, reason, _ = await rejected(streamed())
            assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "REPLICA_UNAVAILABLE")
            replica.fallback = True  # falling back instead: the primary answers, complete
            assert len(await streamed()) == head and replica.served["primary"] > 0
            replica.fallback = False
        finally:
            await on(replication.dsn, "SELECT pg_wal_replay_resume()")

        # the replica goes away: the same reads fail UNAVAILABLE (or fall back), the primary's go on
        replication.stop()
        try:
            code, reason, _ = await rejected(streamed())
            assert code == grpc.StatusCode.UNAVAILABLE
            replica.fallback = True
            assert len(await streamed()) == head
            assert (await members.GetMember(m.GetMemberRequest(name=first.name), metadata=auth("auditor"))).name
        finally:
            replication.start()
