"""Splitting a shared schema from before tenants into one schema per brand (loyalty tenants split)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from eventsourcing.persistence import StoredEvent

from application.clock import ManualClock
from infrastructure.event_store import EventStore
from infrastructure.migrations import Names
from infrastructure.tenant_split import MARKER, POSITIONS, split
from infrastructure.tenants import Registry, TenantError, legacy_events, onboard
from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import (
    attribution_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    members_pb2_grpc,
    orders_pb2_grpc,
    stores_pb2_grpc,
)
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import PEOPLES_SQUARE, draft, store_spec
from tests.api.conftest import KEYS, START, auth, serving
from tests.conftest import NAMES
from tests.tenancy.test_tenants import tool

NO_AUTO = {"LOYALTY_ONBOARD_TOKEN_BRANDS": "0"}
NOT_READ_MODELS = {
    "loyaltyengine_events",
    "loyaltyengine_snapshots",
    "request_log",
    "projection_tracking",
    "schema_migrations",
    "event_chain",
    "data_keys",
    "key_checks",
    MARKER,
    POSITIONS,
    "tenant_split_done",
}
RECORDED = Path(__file__).parents[1] / "infrastructure" / "recorded" / "v1_store_and_orders.jsonl"
RECORDED_STORE = uuid.UUID("3d8dc0db-7a1e-5fdf-879a-86a079aca5d2")


async def _shared_schema_with_two_brands(dsn: str, data_dir: Path) -> dict[str, Any]:
    """acme and beta in one schema (public), their calls interleaved; a closed month each; API answers kept."""
    for brand in ("acme", "beta"):
        await onboard(dsn, brand, schema="public")  # the layout before tenants: one log for both
    clock = ManualClock(START)
    seen: dict[str, Any] = {}
    async with serving(dsn, data_dir, clock, env=NO_AUTO) as (running, channel):
        stores = stores_pb2_grpc.StoreServiceStub(channel)
        members = members_pb2_grpc.MemberServiceStub(channel)
        orders = orders_pb2_grpc.OrderServiceStub(channel)
        n = iter(range(10**6))
        brands = ("acme", "beta")
        for brand in brands:
            await stores.OpenCloudStore(
                s.OpenCloudStoreRequest(
                    request_id=f"st-{next(n)}", cloud_store=s.CloudStore(spec=store_spec(f"S-{brand}", *PEOPLES_SQUARE))
                ),
                metadata=auth("operator", brand),
            )
        await running.settled()
        who: dict[str, list[str]] = {b: [] for b in brands}
        for i in range(3):
            for brand in brands:  # interleaved: acme, beta, acme, beta, ...
                member = await members.RegisterMember(
                    m.RegisterMemberRequest(request_id=f"r-{next(n)}", member=m.Member(openid=f"o-{brand}-{i}")),
                    metadata=auth("miniprogram", brand),
                )
                who[brand].append(member.name)
        for i in range(3):
            for brand in brands:
                order = await orders.PlaceOrder(
                    o.PlaceOrderRequest(request_id=f"p-{next(n)}", order=draft(who[brand][i], *PEOPLES_SQUARE)),
                    metadata=auth("miniprogram", brand),
                )
                assert order.state == o.ORDER_STATE_ALLOCATED
                await orders.PayOrder(
                    o.PayOrderRequest(request_id=f"y-{next(n)}", name=order.name, paid_fen=order.total_fen),
                    metadata=auth("miniprogram", brand),
                )
        clock.advance(days=30)  # December: November has ended
        attribution = attribution_pb2_grpc.AttributionServiceStub(channel)
        for brand in brands:
            await attribution.CloseSettlementPeriod(
                a.CloseSettlementPeriodRequest(request_id=f"c-{brand}", dealer="dealers/D1", month="2026-11"),
                metadata=auth("operator", brand),
            )
        await running.settled()
        for brand in brands:
            statement = await attribution.GetSettlementStatement(
                a.GetSettlementStatementRequest(month="2026-11"), metadata=auth("dealer:D1", brand)
            )
            assert statement.closed and statement.reproduced and statement.order_count == 3
            seen[brand] = statement
            seen[f"{brand} members"] = [
                await members.GetMember(m.GetMemberRequest(name=name), metadata=auth("auditor", brand))
                for name in who[brand]
            ]
    seen["clock"] = clock
    return seen


async def _rows(conn: asyncpg.Connection, schema: str) -> dict[str, list[dict[str, Any]]]:
    tables = [
        r[0]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
            schema,
        )
        if r[0] not in NOT_READ_MODELS
    ]
    return {t: [dict(r) for r in await conn.fetch(f'SELECT * FROM "{schema}"."{t}"')] for t in sorted(tables)}


def _bag(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in rows)


async def test_two_brands_interleaved_in_one_schema_split_into_two_that_verify_and_read_the_same(fresh_dsn, tmp_path):
    before = await _shared_schema_with_two_brands(fresh_dsn, tmp_path)
    conn = await asyncpg.connect(fresh_dsn)
    try:
        shared = await _rows(conn, "public")
        shared_events = await conn.fetchval("SELECT count(*) FROM public.loyaltyengine_events")
    finally:
        await conn.close()
    assert shared["member_points"] and shared["settlement_lines"] and shared["dealer_ledger"]

    dry = await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, dry_run=True, say=lambda _: None)
    assert {b: p.state for b, p in dry.brands.items()} == {"acme": "to copy", "beta": "to copy"}
    assert sum(p.events for p in dry.brands.values()) == shared_events and not dry.unassigned
    assert (await Registry(fresh_dsn).get("acme")).schema == "public"  # a dry run writes nothing

    plan = await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, say=lambda _: None)
    assert {b: p.state for b, p in plan.brands.items()} == {"acme": "done", "beta": "done"}
    assert {t.brand: t.schema for t in await Registry(fresh_dsn).all()} == {"acme": "brand_acme", "beta": "brand_beta"}
    assert not await legacy_events(fresh_dsn, "public")  # a new brand may be onboarded: public was split out

    conn = await asyncpg.connect(fresh_dsn)
    try:
        split_rows = {b: await _rows(conn, f"brand_{b}") for b in ("acme", "beta")}
        maps = {
            b: dict(await conn.fetch(f"SELECT notification_id, source_notification_id FROM brand_{b}.{POSITIONS}"))
            for b in ("acme", "beta")
        }
        for b in ("acme", "beta"):  # each brand's log numbered from 1 without gaps, in the shared log's order
            positions = [r[0] for r in await conn.fetch(f"SELECT notification_id FROM brand_{b}.loyaltyengine_events")]
            assert sorted(positions) == list(range(1, len(positions) + 1))
            assert [maps[b][p] for p in sorted(maps[b])] == sorted(maps[b].values())
        assert sorted([*maps["acme"].values(), *maps["beta"].values()]) == list(range(1, shared_events + 1))
        # the closed month's cut is the same cut in the brand's own numbering
        for b in ("acme", "beta"):
            (old,) = [r["through_position"] for r in shared["settlement_closes"] if r["brand"] == b]
            new = await conn.fetchval(f"SELECT through_position FROM brand_{b}.settlement_closes")
            assert new == max(p for p, src in maps[b].items() if src <= old) and new < old
    finally:
        await conn.close()

    # every read model's rows are the shared schema's, partitioned by brand (positions mapped back)
    for table, rows in shared.items():
        parts: Counter[str] = Counter()
        for b in ("acme", "beta"):
            mapped = []
            for r in split_rows[b][table]:
                r = dict(r)
                if table == "settlement_lines":
                    r["notification_id"] = maps[b][r["notification_id"]]
                r.pop("through_position", None)
                mapped.append(r)
            parts += _bag(mapped)
        assert parts == _bag([{k: v for k, v in r.items() if k != "through_position"} for r in rows]), table

    # the servers now open each brand in its own schema: the chain verifies, the answers are the same
    async with serving(fresh_dsn, tmp_path, before["clock"], env=NO_AUTO) as (running, channel):
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        attribution = attribution_pb2_grpc.AttributionServiceStub(channel)
        members = members_pb2_grpc.MemberServiceStub(channel)
        for b in ("acme", "beta"):
            assert running.brand(b).store.names.schema == f"brand_{b}"
            verified = await audit.VerifyEventLog(audit_pb2.VerifyEventLogRequest(), metadata=auth("auditor", b))
            assert verified.ok and verified.checked == len(maps[b])
            statement = await attribution.GetSettlementStatement(
                a.GetSettlementStatementRequest(month="2026-11"), metadata=auth("dealer:D1", b)
            )
            assert statement == before[b]
            again = [
                await members.GetMember(m.GetMemberRequest(name=x.name), metadata=auth("auditor", b))
                for x in before[f"{b} members"]
            ]
            assert again == before[f"{b} members"]

    # a rerun changes nothing
    conn = await asyncpg.connect(fresh_dsn)
    try:
        marks = [await conn.fetchrow(f"SELECT * FROM brand_{b}.{MARKER}") for b in ("acme", "beta")]
        rerun = await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, say=lambda _: None)
        assert {b: p.state for b, p in rerun.brands.items()} == {"acme": "done", "beta": "done"}
        assert [await conn.fetchrow(f"SELECT * FROM brand_{b}.{MARKER}") for b in ("acme", "beta")] == marks
        for b in ("acme", "beta"):
            assert await conn.fetchval(f"SELECT count(*) FROM brand_{b}.loyaltyengine_events") == len(maps[b])
    finally:
        await conn.close()


async def test_an_aggregate_of_no_brand_refuses_the_split_until_it_is_assigned(fresh_dsn, tmp_path):
    await onboard(fresh_dsn, "acme", schema="public")
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (_, channel):
        await members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
            m.RegisterMemberRequest(request_id="r-1", member=m.Member(openid="o-1")), metadata=auth("miniprogram")
        )
    stray = uuid.uuid4()
    legacy = await EventStore.open(fresh_dsn, NAMES)
    try:
        await legacy.insert_events([StoredEvent(stray, 1, "x.y:Z", b"{}")])
    finally:
        await legacy.close()
    said: list[str] = []
    with pytest.raises(TenantError, match="nothing was split"):
        await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, say=said.append)
    assert any(f"UNASSIGNED {stray} (x.y:Z)" in line for line in said), said
    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('brand_acme')") is None  # nothing written
    finally:
        await conn.close()
    assert (await Registry(fresh_dsn).get("acme")).schema == "public"
    # the command line says the same and exits 2; a dry run with the aggregate assigned reports the plan
    refused = tool("infrastructure.tenants", "split", "--dry-run", dsn=fresh_dsn)
    assert refused.returncode == 2 and f"UNASSIGNED {stray}".encode() in refused.stderr, refused.stderr
    planned = tool("infrastructure.tenants", "split", "--dry-run", "--assign", f"{stray}=acme", dsn=fresh_dsn)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.decode().split("\t")[:2] == ["acme", "brand_acme"]
    done = tool("infrastructure.tenants", "split", "--assign", f"{stray}=acme", dsn=fresh_dsn)
    assert done.returncode == 0, done.stderr
    assert (await Registry(fresh_dsn).get("acme")).schema == "brand_acme"


async def _recorded_log(dsn: str, names: Names, *extra: StoredEvent) -> int:
    rows = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    events = [
        StoredEvent(uuid.UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode())
        for r in rows
        if r["kind"] == "event"
    ]
    legacy = await EventStore.open(dsn, names)
    try:
        for event in [*events, *extra]:
            await legacy.insert_events([event])
    finally:
        await legacy.close()
    return len(events) + len(extra)


async def test_a_store_from_before_stores_recorded_their_brand_takes_the_brand_of_what_links_to_it(fresh_dsn, tmp_path):
    """The recorded v1 log: a store whose Opened event has no brand, and two acme orders that do not name it."""
    events = await _recorded_log(fresh_dsn, NAMES)
    said: list[str] = []
    with pytest.raises(TenantError, match="nothing was split"):
        await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, dry_run=True, say=said.append)
    assert any(
        f"UNASSIGNED {RECORDED_STORE}" in line and "records no brand, and none of the" in line for line in said
    ), said
    # an acme order the store accepted (its OrderAccepted names it) is enough to follow
    linked = Names("linked", NAMES.events, NAMES.snapshots)
    accepted = uuid.UUID("b49b3a6d-a41e-5da1-9187-9486d4b82224")
    await _recorded_log(fresh_dsn, linked, StoredEvent(accepted, 1, "domain.order:Order.Placed", b'{"brand":"acme"}'))
    plan = await split(fresh_dsn, "linked", env=KEYS, data_dir=tmp_path, dry_run=True, say=lambda _: None)
    assert plan.inferred == {RECORDED_STORE: "acme"} and not plan.unassigned
    # the recorded log itself, with the operator's word for the store: split, rebuilt, verified
    plan = await split(
        fresh_dsn, "public", env=KEYS, data_dir=tmp_path, assign={RECORDED_STORE: "acme"}, say=lambda _: None
    )
    assert plan.brands["acme"].state == "done"
    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM brand_acme.loyaltyengine_events") == events
        assert await conn.fetchval("SELECT count(*) FROM brand_acme.event_chain") == events
    finally:
        await conn.close()


async def test_a_split_interrupted_after_the_copy_leaves_the_brand_where_it_was_and_the_next_run_resumes(
    fresh_dsn, tmp_path, monkeypatch
):
    await onboard(fresh_dsn, "acme", schema="public")
    await onboard(fresh_dsn, "beta", schema="public")  # registered on the shared schema, never wrote anything
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (_, channel):
        for i in range(3):
            await members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
                m.RegisterMemberRequest(request_id=f"r-{i}", member=m.Member(openid=f"o-{i}")),
                metadata=auth("miniprogram"),
            )
    import infrastructure.tenant_split as tenant_split

    async def crash(*_args, **_kwargs):
        raise RuntimeError("killed during the rebuild")

    with monkeypatch.context() as patched:
        patched.setattr(tenant_split, "_rebuild_and_verify", crash)
        with pytest.raises(RuntimeError, match="killed"):
            await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, say=lambda _: None)
    assert (await Registry(fresh_dsn).get("acme")).schema == "public"  # the servers would still open the old log
    dry = await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, dry_run=True, say=lambda _: None)
    assert dry.brands["acme"].state == "to rebuild"
    plan = await split(fresh_dsn, "public", env=KEYS, data_dir=tmp_path, say=lambda _: None)
    assert plan.brands["acme"].state == "done" and plan.brands["beta"].state == "done"
    assert {t.brand: t.schema for t in await Registry(fresh_dsn).all()} == {"acme": "brand_acme", "beta": "brand_beta"}
    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM brand_beta.loyaltyengine_events") == 0
        copied = await conn.fetchval("SELECT count(*) FROM brand_acme.loyaltyengine_events")
        assert copied == await conn.fetchval("SELECT count(*) FROM public.loyaltyengine_events") > 0
        assert await conn.fetchval("SELECT count(*) FROM brand_acme.event_chain") == copied
        assert await conn.fetchval("SELECT count(*) FROM brand_acme.request_log") == 3  # acme/r-0 .. acme/r-2
    finally:
        await conn.close()
    async with serving(fresh_dsn, tmp_path, env=NO_AUTO) as (_, channel):  # a retry after the split: its answer
        again = await members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
            m.RegisterMemberRequest(request_id="r-1", member=m.Member(openid="o-1")), metadata=auth("miniprogram")
        )
        assert again.openid == "o-1"
    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM brand_acme.loyaltyengine_events") == copied  # nothing new
    finally:
        await conn.close()
