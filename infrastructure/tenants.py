"""Brands as tenants: a platform registry (brand -> schema -> database) and onboarding.

Every brand's events, snapshots, request log, projection tracking and read models live in one
PostgreSQL schema of its own (``brand_<brand>``), on the platform database or on another server
(the registry's ``dsn``). Nothing ever queries across schemas: a brand's connections have its
schema as their ``search_path``, each schema has its own ``bigserial`` notification ids, its own
events-table lock (one brand's flash sale never waits on another's log) and its own NOTIFY
channel, and advisory locks are keyed by schema. That is exactly the shape Citus's schema-based
sharding distributes (``citus.enable_schema_based_sharding``), with no change to the queries.

The registry itself is one table in the platform schema ``loyalty_platform`` of the platform
database (``DATABASE_URL``). Onboarding is idempotent: it creates the brand's schema with its
migrations and read models, then registers it; running it again migrates (upgrades) the schema
and changes nothing else.

    python -m infrastructure.tenants onboard <brand> [--dsn DSN] [--schema SCHEMA]
    python -m infrastructure.tenants list
    python -m infrastructure.tenants relocate <brand> --dsn DSN   # after copying the schema (README "Deploying")
    python -m infrastructure.tenants split [--schema public] [--dry-run] [--assign ID=BRAND ...] [--brand B ...]

A database that predates tenants keeps its events in the configured ``POSTGRES_SCHEMA`` (``public``):
``onboard <brand> --schema public`` makes that schema the brand's (several brands that already
shared it may keep sharing it; the ownership checks still separate them), and the server refuses to
start if it would otherwise open a fresh, empty schema for a brand while that old log holds events.
``split`` copies every brand's history out of such a shared schema into its own (``infrastructure.tenant_split``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from application.auth import is_brand
from infrastructure.config import APPLICATION_NAME
from infrastructure.migrations import Names

PLATFORM_SCHEMA = "loyalty_platform"
REGISTRY = f'"{PLATFORM_SCHEMA}"."tenants"'
_REGISTRY_LOCK = "loyalty-platform-registry"
_SCHEMA_RULE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class TenantError(Exception):
    """An onboarding or registry request that cannot be done as asked (the message says why)."""


@dataclass(frozen=True)
class Tenant:
    brand: str
    schema: str
    dsn: str | None = None
    """The brand's database; None means the platform database."""
    replica_dsn: str | None = None
    """A streaming replica of the brand's database for lag-tolerant reads; None: the platform's replica
    (``DATABASE_REPLICA_URL``) for a brand on the platform database, else none."""

    @property
    def names(self) -> Names:
        return names_in(self.schema)

    def database(self, platform_dsn: str) -> str:
        return self.dsn or platform_dsn


def names_in(schema: str) -> Names:
    return Names(schema, f"{APPLICATION_NAME.lower()}_events", f"{APPLICATION_NAME.lower()}_snapshots")


def schema_for(brand: str) -> str:
    """The schema a new brand gets: ``brand_<brand>``, or with a digest when the brand has a ``-`` or is long
    (so ``a-b`` and ``a_b`` never meet, and every name fits PostgreSQL's 63 bytes)."""
    if not is_brand(brand):
        raise TenantError(f"{brand!r} is not a brand (1-64 characters: a-z, 0-9, '_' and '-')")
    if "-" not in brand and len(brand) <= 40:
        return f"brand_{brand}"
    digest = hashlib.sha256(brand.encode()).hexdigest()[:12]
    return f"brand_{brand[:28].replace('-', '_')}_{digest}"


async def ensure_registry(conn: asyncpg.Connection) -> None:
    """The platform schema and its registry table (idempotent; safe when several processes race)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _REGISTRY_LOCK)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{PLATFORM_SCHEMA}"')
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {REGISTRY} (
                brand text PRIMARY KEY,
                schema_name text NOT NULL,
                dsn text,
                onboarded_at timestamptz NOT NULL DEFAULT now())"""
        )
        await conn.execute(f"ALTER TABLE {REGISTRY} ADD COLUMN IF NOT EXISTS replica_dsn text")


def _tenant(row: Any) -> Tenant:
    return Tenant(row["brand"], row["schema_name"], row["dsn"], row["replica_dsn"])


class Registry:
    """The platform's brand -> schema -> database map, read with short-lived connections (rarely)."""

    def __init__(self, platform_dsn: str) -> None:
        self.platform_dsn = platform_dsn

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.platform_dsn)
        try:
            await ensure_registry(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def get(self, brand: str) -> Tenant | None:
        conn = await self._connect()
        try:
            row = await conn.fetchrow(
                f"SELECT brand, schema_name, dsn, replica_dsn FROM {REGISTRY} WHERE brand = $1", brand
            )
        finally:
            await conn.close()
        return None if row is None else _tenant(row)

    async def all(self) -> list[Tenant]:
        conn = await self._connect()
        try:
            rows = await conn.fetch(f"SELECT brand, schema_name, dsn, replica_dsn FROM {REGISTRY} ORDER BY brand")
        finally:
            await conn.close()
        return [_tenant(r) for r in rows]

    async def register(self, tenant: Tenant) -> Tenant:
        """Insert unless present; the registered tenant (a concurrent onboarding may have won)."""
        conn = await self._connect()
        try:
            await conn.execute(
                f"INSERT INTO {REGISTRY} (brand, schema_name, dsn, replica_dsn) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (brand) DO NOTHING",
                tenant.brand,
                tenant.schema,
                tenant.dsn,
                tenant.replica_dsn,
            )
            row = await conn.fetchrow(
                f"SELECT brand, schema_name, dsn, replica_dsn FROM {REGISTRY} WHERE brand = $1", tenant.brand
            )
        finally:
            await conn.close()
        return _tenant(row)

    async def move(self, brand: str, schema: str) -> Tenant:
        """Point ``brand`` at ``schema`` of the platform database, registering it if need be (the switch at the end
        of ``split``, once the schema holds the brand's history)."""
        conn = await self._connect()
        try:
            row = await conn.fetchrow(
                f"INSERT INTO {REGISTRY} (brand, schema_name) VALUES ($1, $2) ON CONFLICT (brand) DO UPDATE "
                "SET schema_name = EXCLUDED.schema_name, dsn = NULL RETURNING brand, schema_name, dsn, replica_dsn",
                brand,
                schema,
            )
        finally:
            await conn.close()
        return _tenant(row)

    async def relocate(self, brand: str, dsn: str | None, replica_dsn: str | None = None) -> Tenant:
        conn = await self._connect()
        try:
            row = await conn.fetchrow(
                f"UPDATE {REGISTRY} SET dsn = $2, replica_dsn = $3 WHERE brand = $1 "
                "RETURNING brand, schema_name, dsn, replica_dsn",
                brand,
                dsn,
                replica_dsn,
            )
        finally:
            await conn.close()
        if row is None:
            raise TenantError(f"brand {brand} is not onboarded")
        return _tenant(row)


async def prepare_schema(tenant: Tenant, platform_dsn: str) -> None:
    """Create or upgrade the brand's schema on its database: migrations, then every read model's tables."""
    from infrastructure.event_store import EventStore
    from infrastructure.projections import all_projections

    store = await EventStore.open(tenant.database(platform_dsn), tenant.names, min_size=1, max_size=2)
    try:
        async with store.transaction() as tx:
            await tx.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"loyalty-read-models:{tenant.schema}")
            for projection in all_projections(store):
                await projection.setup(tx.conn)
    finally:
        await store.close()


async def onboard(
    platform_dsn: str, brand: str, *, dsn: str | None = None, schema: str | None = None, replica_dsn: str | None = None
) -> Tenant:
    """Make ``brand`` a tenant (idempotent): its schema, migrated, with its read models, then registered.

    Again for a registered brand it upgrades the schema in place; asking for another database or
    schema than the registered one is a :class:`TenantError` (moving a brand is ``relocate``).
    """
    if not is_brand(brand):
        raise TenantError(
            f"{brand!r} is not a brand (1-64 characters: a-z, 0-9, '_' and '-', starting with a-z or 0-9)"
        )
    if schema is not None and not _SCHEMA_RULE.fullmatch(schema):
        raise TenantError(f"{schema!r} is not a schema name this tool creates (a-z, 0-9, '_'; at most 63)")
    if schema == PLATFORM_SCHEMA:
        raise TenantError(f"{PLATFORM_SCHEMA} is the platform's own schema")
    registry = Registry(platform_dsn)
    existing = await registry.get(brand)
    if existing is not None:
        if (dsn is not None and dsn != existing.dsn) or (schema is not None and schema != existing.schema):
            raise TenantError(
                f"brand {brand} is already onboarded in schema {existing.schema} on "
                f"{'the platform database' if existing.dsn is None else 'its own database'}; to move it, copy the "
                'schema and run `relocate` (README "Deploying")'
            )
        await prepare_schema(existing, platform_dsn)
        return existing
    tenant = Tenant(brand, schema or schema_for(brand), dsn, replica_dsn)
    await prepare_schema(tenant, platform_dsn)
    return await registry.register(tenant)


async def legacy_events(platform_dsn: str, schema: str) -> bool:
    """True when ``schema`` of the platform database holds a pre-tenant event log with events in it."""
    names = names_in(schema)
    conn = await asyncpg.connect(platform_dsn)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", names.q(names.events)) is None:
            return False
        if await conn.fetchval("SELECT to_regclass($1)", names.q("tenant_split_done")) is not None and (
            await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {names.q('tenant_split_done')} WHERE brand = '*')")
        ):
            return False  # every brand's history was split out of it into schemas of their own
        return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {names.q(names.events)})"))
    finally:
        await conn.close()


async def onboard_brands(platform_dsn: str, brands: Sequence[str], *, legacy_schema: str) -> list[Tenant]:
    """Onboard every brand not yet registered (the server does this for its tokens' brands when allowed).

    Refuses when the legacy schema holds events and a brand is not registered: its history may be
    in there, and a fresh schema would hide it (README "Deploying", upgrading a single-schema database).
    """
    registry = Registry(platform_dsn)
    known = {t.brand: t for t in await registry.all()}
    missing = [b for b in dict.fromkeys(brands) if b not in known]
    if missing and legacy_schema != PLATFORM_SCHEMA and await legacy_events(platform_dsn, legacy_schema):
        raise TenantError(
            f"schema {legacy_schema} holds events from before brands had schemas of their own, and brand(s) "
            f"{', '.join(missing)} are not onboarded: run `python -m infrastructure.tenants onboard <brand> "
            f"--schema {legacy_schema}` for each brand whose data is there (or onboard it into a schema of its own "
            "if it has none), then start again"
        )
    tenants = [known[b] for b in brands if b in known]
    for brand in missing:
        tenants.append(await onboard(platform_dsn, brand))
    return tenants


async def open_brand_store(brand: str, *, settings: Any = None):
    """The brand's event store for the command-line tools; and how to release it (SystemExit if unknown)."""
    from infrastructure.config import load_settings
    from infrastructure.database import platform_database
    from infrastructure.event_store import EventStore

    settings = settings or load_settings()
    platform, embedded = platform_database(settings)
    try:
        tenant = await Registry(platform).get(brand)
        if tenant is None:
            raise SystemExit(f"brand {brand} is not onboarded (loyalty tenants onboard {brand})")
        store = await EventStore.open(
            tenant.database(platform),
            tenant.names,
            lock_timeout_s=settings.lock_timeout_s,
            min_size=1,
            max_size=settings.pool_max,
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return store, (embedded.stop if embedded is not None else (lambda: None))


# --- command line ----------------------------------------------------------------------------


async def _command(argv: Sequence[str] | None) -> int:
    from infrastructure.config import load_settings
    from infrastructure.database import platform_database

    parser = argparse.ArgumentParser(prog="python -m infrastructure.tenants", description="Brands as tenants.")
    sub = parser.add_subparsers(dest="command", required=True)
    ob = sub.add_parser("onboard", help="create (or upgrade) a brand's schema and register it; idempotent")
    ob.add_argument("brand")
    ob.add_argument("--dsn", default=None, help="the brand's database (default: the platform database)")
    ob.add_argument("--replica-dsn", default=None, help="a streaming replica of the brand's database")
    ob.add_argument(
        "--schema", default=None, help="an existing schema to adopt (e.g. public, for a database from before tenants)"
    )
    sub.add_parser("list", help="the registered brands: brand, schema, database")
    mv = sub.add_parser("relocate", help="point a brand at another database (after copying its schema there)")
    mv.add_argument("brand")
    mv.add_argument("--dsn", default=None, help="the new database; omit for the platform database")
    mv.add_argument("--replica-dsn", default=None, help="the new database's streaming replica, if any")
    sp = sub.add_parser(
        "split",
        help="copy each brand's history out of a shared schema from before tenants into the brand's own schema "
        "(offline; all or nothing per brand; a rerun resumes or does nothing)",
    )
    sp.add_argument("--schema", default=None, help="the shared schema (default: POSTGRES_SCHEMA, i.e. public)")
    sp.add_argument("--brand", action="append", default=[], help="only this brand (repeatable; default: every one)")
    sp.add_argument(
        "--assign",
        action="append",
        default=[],
        metavar="ID=BRAND",
        help="the brand of an aggregate the data does not assign (repeatable)",
    )
    sp.add_argument("--dry-run", action="store_true", help="report what would be copied; write nothing")
    args = parser.parse_args(argv)

    settings = load_settings()
    platform, embedded = platform_database(settings)
    try:
        if args.command == "onboard":
            tenant = await onboard(platform, args.brand, dsn=args.dsn, schema=args.schema, replica_dsn=args.replica_dsn)
            print(f"{tenant.brand}\t{tenant.schema}\t{'platform' if tenant.dsn is None else tenant.dsn}")
        elif args.command == "split":
            import os

            from infrastructure.tenant_split import parse_assignments, split

            plan = await split(
                platform,
                args.schema or settings.schema,
                env=os.environ,
                data_dir=settings.data_dir,
                brands=args.brand,
                assign=parse_assignments(args.assign),
                dry_run=args.dry_run,
            )
            for b in sorted(plan.brands.values(), key=lambda b: b.brand):
                print(f"{b.brand}\t{b.schema}\t{b.events}\t{b.state}")
        elif args.command == "list":
            for tenant in await Registry(platform).all():
                print(f"{tenant.brand}\t{tenant.schema}\t{'platform' if tenant.dsn is None else tenant.dsn}")
        else:
            tenant = await Registry(platform).relocate(args.brand, args.dsn, args.replica_dsn)
            print(f"{tenant.brand}\t{tenant.schema}\t{'platform' if tenant.dsn is None else tenant.dsn}")
    except TenantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_command(argv))


if __name__ == "__main__":  # the module's own copy, so TenantError is the one infrastructure.tenant_split raises
    from infrastructure.tenants import main as _main

    raise SystemExit(_main())
