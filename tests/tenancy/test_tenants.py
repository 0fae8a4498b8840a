"""A brand is a tenant: its own schema (on its own server if need be), its own log, per-brand tools."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import grpc
import pytest
from eventsourcing.persistence import StoredEvent

from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.tenants import (
    PLATFORM_SCHEMA,
    Registry,
    TenantError,
    names_in,
    onboard,
    onboard_brands,
    schema_for,
)
from protos.loyalty.v1 import audit_pb2, audit_pb2_grpc, members_pb2_grpc
from protos.loyalty.v1 import members_pb2 as m
from tests.api.conftest import KEYS, auth, serving
from tests.api.test_errors import expect, rejected
from tests.api.test_operability import hold_events_table, waiting_for_locks
from tests.conftest import NAMES

ROOT = Path(__file__).resolve().parents[2]
NO_AUTO = {"LOYALTY_ONBOARD_TOKEN_BRANDS": "0"}


async def scalar(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def events_in(dsn: str, brand: str) -> int | None:
    """How many events brand's schema on ``dsn`` holds; None when there is no such schema there."""
    names = names_in(schema_for(brand))
    if await scalar(dsn, "SELECT to_regclass($1)", names.q(names.events)) is None:
        return None
    return await scalar(dsn, f"SELECT count(*) FROM {names.q(names.events)}")


async def register(channel, brand: str, openid: str, request_id: str = "r-1") -> m.Member:
    return await members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
        m.RegisterMemberRequest(request_id=request_id, member=m.Member(openid=openid)),
        metadata=auth("miniprogram", brand),
    )


def tool(*args: str, dsn: str, keys: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A command-line tool run on ``dsn`` with the test servers' personal-data keys (or ``keys``)."""
    env = {**os.environ, "DATABASE_URL": dsn, "LOG_FORMAT": "text", **(KEYS if keys is None else keys)}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, timeout=120)


async def test_onboarding_creates_the_brands_schema_once_and_registers_it(fresh_dsn):
    first = await onboard(fresh_dsn, "acme")
    again = await onboard(fresh_dsn, "acme")
    assert first == again and first.schema == "brand_acme" and first.dsn is None
    assert await Registry(fresh_dsn).all() == [first]
    tables = {r async for r in _tables(fresh_dsn, "brand_acme")}
    assert {
        "loyaltyengine_events",
        "loyaltyengine_snapshots",
        "request_log",
        "projection_tracking",
        "schema_migrations",
        "event_chain",
        "dealer_ledger",
        "member_points",
        "settlement_lines",
    } <= tables
    with pytest.raises(TenantError, match="already onboarded"):
        await onboard(fresh_dsn, "acme", schema="elsewhere")
    with pytest.raises(TenantError, match="not a brand"):
        await onboard(fresh_dsn, "Not A Brand")
    # a hyphen or a long brand gets a digest, so brands that differ never share a schema
    assert schema_for("a-b") != schema_for("a_b") and len(schema_for("x" * 64)) <= 63


async def _tables(dsn: str, schema: str):
    conn = await asyncpg.connect(dsn)
    try:
        for r in await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema):
            yield r[0]
    finally:
        await conn.close()


async def test_two_brands_on_two_postgresql_servers_each_hold_only_their_own_data(fresh_dsn, second_server, tmp_path):
    await onboard(fresh_dsn, "acme")
    beta = await onboard(fresh_dsn, "beta", dsn=second_server)
    try:
        async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (running, channel):
            a = await register(channel, "acme", "o-acme")
            b = await register(channel, "beta", "o-beta")  # the same request id, another brand: its own log
            await register(channel, "beta", "o-beta-2", "r-2")
            await running.settled()
            beta_store = running.brand("beta").store
            assert beta_store.dsn == second_server
            # each brand reads its own member back; another brand's is not found
            stub = members_pb2_grpc.MemberServiceStub(channel)
            assert (
                await stub.GetMember(m.GetMemberRequest(name=b.name), metadata=auth("auditor", "beta"))
            ).name == b.name
            await expect(
                stub.GetMember(m.GetMemberRequest(name=a.name), metadata=auth("auditor", "beta")),
                grpc.StatusCode.NOT_FOUND,
                "MEMBER_NOT_FOUND",
            )
            # the audit stream of a brand is its own log, numbered from 1 without gaps
            audit = audit_pb2_grpc.AuditServiceStub(channel)
            streamed = [
                e
                async for e in audit.StreamEvents(
                    audit_pb2.StreamEventsRequest(positions=audit_pb2.PositionRange(after=0)),
                    metadata=auth("auditor", "beta"),
                )
            ]
            assert [e.position for e in streamed] == list(range(1, len(streamed) + 1))
        assert await events_in(fresh_dsn, "acme") > 0 and await events_in(fresh_dsn, "beta") is None
        assert (await events_in(second_server, "beta"), await events_in(second_server, "acme")) == (len(streamed), None)
        # the read models are on the brand's server too, and fed there
        tracked = await scalar(second_server, f"SELECT min(notification_id) FROM {beta.names.q('projection_tracking')}")
        assert tracked == len(streamed)
        assert (
            await scalar(second_server, "SELECT to_regnamespace($1)", PLATFORM_SCHEMA) is None
        )  # registry: platform only
        assert (
            await scalar(fresh_dsn, "SELECT count(*) FROM public.loyaltyengine_events") == 0
            if await scalar(fresh_dsn, "SELECT to_regclass('public.loyaltyengine_events')")
            else True
        )
    finally:
        conn = await asyncpg.connect(second_server)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{beta.schema}" CASCADE')
        finally:
            await conn.close()


async def test_a_brand_not_onboarded_is_denied_with_a_reason_until_it_is_onboarded(fresh_dsn, tmp_path):
    await onboard(fresh_dsn, "acme")
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (running, channel):
        running.brands.unknown_ttl_s = 0.0  # ask the registry again at the next call
        details = await expect(
            register(channel, "beta", "o-1"), grpc.StatusCode.PERMISSION_DENIED, "BRAND_NOT_ONBOARDED"
        )
        assert details == {"brand": "beta"}
        await register(channel, "acme", "o-1")
        await onboard(fresh_dsn, "beta")  # while the server runs: its next call opens the brand
        member = await register(channel, "beta", "o-1")
        assert member.name and await events_in(fresh_dsn, "beta") > 0
        # a caller without a valid token is still unauthenticated, whatever the brand
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await members_pb2_grpc.MemberServiceStub(channel).GetMember(
                m.GetMemberRequest(name=member.name), metadata=(("authorization", "Bearer nope-nope-nope-nope"),)
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_one_brands_log_lock_does_not_hold_up_another_brand_in_the_same_database(fresh_dsn, tmp_path):
    async with serving(fresh_dsn, tmp_path) as (_, channel):  # tokens' brands onboarded at start
        blocker = await hold_events_table(fresh_dsn, "acme")  # acme's log is locked, as by a long writer
        try:
            acme = asyncio.ensure_future(register(channel, "acme", "o-acme"))
            await waiting_for_locks(fresh_dsn, 1)  # acme's commit waits on acme's lock
            beta = await register(channel, "beta", "o-beta")  # beta's commit does not
            assert beta.name and not acme.done()
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()
        assert (await acme).name
    assert await events_in(fresh_dsn, "acme") == await events_in(fresh_dsn, "beta") > 0


async def test_a_database_from_before_tenants_is_adopted_not_hidden(fresh_dsn, tmp_path):
    legacy = await EventStore.open(fresh_dsn, NAMES)
    try:
        await legacy.insert_events([StoredEvent(uuid.uuid4(), 1, "x.y:Z", b"{}")])
    finally:
        await legacy.close()
    with pytest.raises(TenantError, match="holds events from before"):
        await onboard_brands(fresh_dsn, ["acme", "beta"], legacy_schema="public")
    await onboard(fresh_dsn, "acme", schema="public")  # the old log becomes acme's
    tenants = await onboard_brands(fresh_dsn, ["acme"], legacy_schema="public")
    assert [(t.brand, t.schema) for t in tenants] == [("acme", "public")]
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (running, _):
        assert await running.brand("acme").store.max_notification_id() == 1


async def test_the_tools_onboard_list_export_verify_and_rebuild_per_brand(fresh_dsn, tmp_path):
    out = tool("infrastructure.tenants", "onboard", "acme", dsn=fresh_dsn)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split() == ["acme", "brand_acme", "platform"]
    assert tool("infrastructure.tenants", "onboard", "acme", dsn=fresh_dsn).returncode == 0  # idempotent
    assert tool("infrastructure.tenants", "onboard", "beta", dsn=fresh_dsn).returncode == 0
    bad = tool("infrastructure.tenants", "onboard", "acme", "--schema", "other", dsn=fresh_dsn)
    assert bad.returncode == 2 and b"already onboarded" in bad.stderr
    listed = tool("infrastructure.tenants", "list", dsn=fresh_dsn).stdout.decode().splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["acme", "brand_acme"], ["beta", "brand_beta"]]
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (running, channel):
        await register(channel, "acme", "o-1")
        for i in range(3):
            await register(channel, "beta", f"o-{i}", f"r-{i}")
        await running.settled()
    exported = tool("infrastructure.export", "--brand", "beta", dsn=fresh_dsn)
    assert exported.returncode == 0, exported.stderr
    positions = [json.loads(line)["notification_id"] for line in exported.stdout.splitlines()]
    assert positions == list(range(1, await events_in(fresh_dsn, "beta") + 1)) and len(positions) >= 3
    assert b"o-2" in exported.stdout  # opened with the brand's keys: the personal fields decoded
    wrong = {
        "LOYALTY_KEK": "other:" + "b3RoZXIta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU=",
        "LOYALTY_BLIND_INDEX_KEY": KEYS["LOYALTY_BLIND_INDEX_KEY"],
    }
    refused = tool("infrastructure.export", "--brand", "beta", dsn=fresh_dsn, keys=wrong)
    assert refused.returncode != 0 and b"KeyConfigurationError" in refused.stderr and not refused.stdout
    rotated = tool("infrastructure.privacy", "rotate", "--brand", "beta", dsn=fresh_dsn)
    assert rotated.returncode == 0 and b"re-wrapped 0 data keys" in rotated.stderr, rotated.stderr
    purged = tool(
        "infrastructure.privacy", "purge-request-log", "--brand", "beta", "--older-than-days", "1", dsn=fresh_dsn
    )
    assert purged.returncode == 0 and b"purged 0 request-log rows" in purged.stderr, purged.stderr
    verified = tool("infrastructure.hash_chain", "verify", "--brand", "beta", dsn=fresh_dsn)
    assert verified.returncode == 0 and json.loads(verified.stdout)["checked"] == len(positions), verified.stderr
    rebuilt = tool(
        "infrastructure.rebuild",
        "infrastructure.projections:all_projections",
        "--brand",
        "acme",
        "--only",
        "member_points",
        dsn=fresh_dsn,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    unknown = tool("infrastructure.export", "--brand", "gamma", dsn=fresh_dsn)
    assert unknown.returncode != 0 and b"gamma is not onboarded" in unknown.stderr


async def test_a_brand_whose_database_is_down_answers_unavailable_while_the_others_serve(fresh_dsn, tmp_path):
    data = Path(tempfile.mkdtemp(prefix="loyalty-down-"))
    other = EmbeddedPostgres(data)
    other_dsn = other.start()
    try:
        await onboard(fresh_dsn, "acme")
        await onboard(fresh_dsn, "beta", dsn=other_dsn)
        other.stop()  # beta's server is down when ours starts
        async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (running, channel):
            assert (await register(channel, "acme", "o-1")).name  # acme serves
            code, reason, _ = await rejected(register(channel, "beta", "o-1"))
            assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE")
            again = EmbeddedPostgres(data)
            assert again.start() == other_dsn  # the same server back, where the registry says
            other = again
            assert (await register(channel, "beta", "o-1")).name  # opened at its first call now
            assert running.brand("beta").store.dsn == other_dsn
    finally:
        other.stop()
        shutil.rmtree(data, ignore_errors=True)
