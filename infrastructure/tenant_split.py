"""Split a shared schema from before tenants into one schema per brand (``loyalty tenants split``).

A database from before brands had schemas keeps every brand's events in one schema (``public``),
one log and one events-table lock. This offline tool copies each brand's history into the brand's
own schema (``brand_<brand>``) on the same database and points the registry at it.

Which brand an aggregate belongs to comes from the data itself:

1. Its creation event (version 1) records its brand: ``CloudStore.Opened``, ``Member.Registered``,
   ``Guide.Hired``, ``Order.Placed``, ``BrandProgramme`` and ``SettlementPeriod.Closed``,
   ``IdentityIndex.Claimed``, ``StoreStock``, ``Drop`` and ``DropEntry`` all carry ``brand``.
2. Aggregates from before their type recorded it (a ``CloudStore.Opened`` of class version 1, a
   ``SettlementPeriod.Closed`` v1) follow the data: a period's id is ``uuid5(brand:dealer:month)``,
   so the one brand that reproduces it owns it; any other aggregate takes the brand of the
   aggregates it references or that reference it (an order's store, a store's accepted orders, a
   sealed field's member), when they all agree, repeated until nothing changes.
3. ``--assign ID=BRAND`` settles what the data cannot.

Anything still unassigned (an unknown topic, no creation event, neighbours of two brands), and any
reference between aggregates of two brands (which the ownership checks never let happen), refuses
the whole split with a report, before anything is written.

Per brand, all or nothing, resumable: one transaction copies the brand's events in log order,
renumbered from 1 (``tenant_split_positions`` keeps every event's position in the shared log),
its data keys (the subjects are its members and guides; the request log's key goes to every
brand), the key verifiers and its request-log rows (ids are ``brand/...``); and writes the
brand's ``tenant_split`` row. The only value inside an event that names a log position,
``SettlementPeriod.Closed.through_position``, is translated to the brand's numbering (the same
set of the brand's events lies at or before it), so closed statements still match their lines.
Snapshots are dropped (the repository takes new ones). Then every read model and the hash chain
are rebuilt from the copied log, the chain is verified, the row says ``done``, and the registry
switches the brand to its schema: until that switch the servers keep using the shared schema, so
a crash anywhere leaves the brand where it was, and the next run resumes (a ``copied`` schema is
rebuilt; a half-written one never committed). A brand already ``done`` is skipped: a rerun
changes nothing. The shared schema is left as it was (drop it after checking the brands);
``tenant_split_done`` in it records what went where.

The copy runs inside one database (``INSERT ... SELECT`` across the two schemas): the one place
a query leaves a schema, offline, by design. Stop the servers first: the copy takes a SHARE lock
on the shared events table and refuses if the log moved since the plan. The plan holds the map of
aggregate -> brand in memory (about 100 bytes per aggregate) and reads the log once.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from application.auth import is_brand
from infrastructure.migrations import Names
from infrastructure.tenants import PLATFORM_SCHEMA, Registry, Tenant, TenantError, names_in, prepare_schema, schema_for

MARKER = "tenant_split"
"""In each brand's new schema: where it came from and how far the split got (``copied``, ``done``)."""
POSITIONS = "tenant_split_positions"
"""In each brand's new schema: every event's position in the brand's log and in the shared log."""
SOURCE_MARKER = "tenant_split_done"
"""In the shared schema: the brands split out of it (and ``*`` once every brand found there is)."""

_UUID_REF = re.compile(rb'"_type_":"uuid_hex","_data_":"([0-9a-f]{32})"')
_SEALED_SUBJECT = re.compile(rb'"_type_":"pii","_data_":"([0-9a-f]{32})\.')
_THROUGH = re.compile(rb'"through_position":(\d+)')
_CLOSED_TOPIC = "domain.settlement:SettlementPeriod.Closed"
_SHOWN = 20  # at most this many unassigned aggregates or conflicts listed in a report


@dataclass
class Unassigned:
    aggregate_id: UUID
    topic: str
    """The topic of its first event in the log."""
    reason: str


@dataclass
class BrandPlan:
    brand: str
    schema: str
    aggregates: int = 0
    events: int = 0
    data_keys: int = 0
    requests: int = 0
    state: str = "to copy"
    """``to copy``, ``to rebuild`` (copied by an interrupted run), ``to register``, ``done``, or ``refused: ...``."""


@dataclass
class SplitPlan:
    source: str
    head: int
    events: int
    brands: dict[str, BrandPlan] = field(default_factory=dict)
    owner: dict[bytes, str] = field(default_factory=dict, repr=False)
    inferred: dict[UUID, str] = field(default_factory=dict)
    unassigned: list[Unassigned] = field(default_factory=list)
    conflicts: list[tuple[UUID, str, UUID, str]] = field(default_factory=list)
    snapshots_dropped: int = 0
    orphan_keys: int = 0
    """Data keys of subjects with no events (a registration whose commit failed): not copied."""
    unbranded_requests: int = 0
    """Request-log rows from before request ids carried their brand: not copied (a retry runs anew)."""

    @property
    def refused(self) -> bool:
        return bool(self.unassigned or self.conflicts)

    def report(self) -> list[str]:
        lines = [f"source schema {self.source}: {self.events} events up to position {self.head}"]
        for b in sorted(self.brands.values(), key=lambda b: b.brand):
            lines.append(
                f"  {b.brand} -> {b.schema}: {b.aggregates} aggregates, {b.events} events, {b.data_keys} data keys, "
                f"{b.requests} request-log rows [{b.state}]"
            )
        lines.append(
            f"  snapshots dropped (rebuilt on use): {self.snapshots_dropped}; data keys of no aggregate (not copied): "
            f"{self.orphan_keys}; request-log rows without a brand prefix (not copied): {self.unbranded_requests}"
        )
        for aggregate_id, brand in list(self.inferred.items())[:_SHOWN]:
            lines.append(f"  inferred from the data: {aggregate_id} -> {brand}")
        if len(self.inferred) > _SHOWN:
            lines.append(f"  ... {len(self.inferred) - _SHOWN} more inferred")
        for u in self.unassigned[:_SHOWN]:
            lines.append(f"  UNASSIGNED {u.aggregate_id} ({u.topic}): {u.reason}")
        if len(self.unassigned) > _SHOWN:
            lines.append(f"  ... {len(self.unassigned) - _SHOWN} more unassigned")
        for a, brand_a, to, brand_b in self.conflicts[:_SHOWN]:
            lines.append(f"  CROSS-BRAND reference: {a} ({brand_a}) -> {to} ({brand_b})")
        if len(self.conflicts) > _SHOWN:
            lines.append(f"  ... {len(self.conflicts) - _SHOWN} more cross-brand references")
        if self.refused:
            lines.append(
                "refused: every aggregate must belong to exactly one brand (settle the rest with --assign ID=BRAND); "
                "nothing was written"
            )
        return lines


class _OneConnection:
    """A pool of the one connection (what :meth:`Keyring.open` acquires from)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


def _raw_loader(mapper: Any) -> Callable[[bytes], bytes]:
    """Stored state to its JSON bytes: the mapper's cipher and compressor undone (sealed fields stay sealed)."""
    cipher, compressor = getattr(mapper, "cipher", None), getattr(mapper, "compressor", None)

    def raw(state: bytes) -> bytes:
        if cipher is not None:
            state = cipher.decrypt(state)
        if compressor is not None:
            state = compressor.decompress(state)
        return state

    return raw


def _period_brand(state: dict[str, Any], aggregate_id: bytes, brands: Iterable[str]) -> str | None:
    """The brand whose ``period_id(brand, dealer, month)`` is this period's id (a Closed event of v1 has no brand)."""
    from domain.settlement import Month, period_id

    try:
        month = Month.parse(state.get("month"))
    except Exception:
        return None
    found = [b for b in brands if period_id(b, str(state.get("dealer_id")), month).bytes == aggregate_id]
    return found[0] if len(found) == 1 else None


async def _exists(conn: asyncpg.Connection, names: Names, table: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1)", names.q(table)) is not None


async def make_plan(
    conn: asyncpg.Connection,
    source: Names,
    mapper: Any,
    *,
    assign: Mapping[UUID, str] | None = None,
    batch: int = 5000,
) -> SplitPlan:
    """Read the shared log once and assign every aggregate to a brand (see the module's docstring)."""
    raw = _raw_loader(mapper)
    events = source.q(source.events)
    head = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {events}")
    plan = SplitPlan(source.schema, head, 0)
    owner: dict[bytes, str] = {}
    first_topic: dict[bytes, str] = {}
    undecided: dict[bytes, str] = {}  # aggregate -> why it has no brand yet
    closed_states: dict[bytes, dict[str, Any]] = {}
    pending: list[tuple[bytes, bytes]] = []  # references where one side had no brand when read
    known_brands: set[str] = set()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(
            f"SELECT originator_id, originator_version, topic, state FROM {events} "
            "WHERE notification_id <= $1 ORDER BY notification_id",
            head,
            prefetch=batch,
        ):
            plan.events += 1
            aggregate = row[0].bytes
            state = raw(bytes(row[3]))
            if aggregate not in first_topic:
                first_topic[aggregate] = row[2]
                recorded: Any = None
                if row[1] == 1:
                    try:
                        decoded = orjson.loads(state)
                    except orjson.JSONDecodeError:
                        decoded = {}
                    recorded = decoded.get("brand") if isinstance(decoded, dict) else None
                    if row[2] == _CLOSED_TOPIC and not recorded:
                        closed_states[aggregate] = decoded
                    if recorded and isinstance(recorded, str) and is_brand(recorded):
                        owner[aggregate] = recorded
                        known_brands.add(recorded)
                    else:
                        undecided[aggregate] = (
                            "its creation event records no brand"
                            if not recorded
                            else f"its creation event's brand {recorded!r} is not a brand"
                        )
                else:
                    undecided[aggregate] = f"no creation event in the log (first event is version {row[1]})"
            mine = owner.get(aggregate)
            refs = {bytes.fromhex(h.decode()) for h in _UUID_REF.findall(state)}
            refs |= {bytes.fromhex(h.decode()) for h in _SEALED_SUBJECT.findall(state)}
            refs.discard(aggregate)
            for ref in refs:
                theirs = owner.get(ref)
                if mine is not None and theirs is not None:
                    if mine != theirs:
                        plan.conflicts.append((UUID(bytes=aggregate), mine, UUID(bytes=ref), theirs))
                else:
                    pending.append((aggregate, ref))
        plan.snapshots_dropped = await conn.fetchval(f"SELECT count(*) FROM {source.q(source.snapshots)}")
    # Follow the data for what its creation event does not say.
    for period, closed in closed_states.items():
        if (by_id := _period_brand(closed, period, sorted(known_brands))) is not None:
            owner[period] = by_id
            plan.inferred[UUID(bytes=period)] = by_id
            undecided.pop(period, None)
    for aggregate_id, brand in (assign or {}).items():
        if not is_brand(brand):
            raise TenantError(f"--assign {aggregate_id}={brand}: {brand!r} is not a brand")
        if aggregate_id.bytes not in first_topic:
            raise TenantError(f"--assign {aggregate_id}: no such aggregate in schema {source.schema}")
        owner[aggregate_id.bytes] = brand
        undecided.pop(aggregate_id.bytes, None)
    neighbours: dict[bytes, set[bytes]] = {}
    for a, b in pending:
        if a in undecided:
            neighbours.setdefault(a, set()).add(b)
        if b in undecided:
            neighbours.setdefault(b, set()).add(a)
    changed = True
    while changed and undecided:
        changed = False
        for aggregate in list(undecided):
            brands = {owner[n] for n in neighbours.get(aggregate, ()) if n in owner}
            if len(brands) == 1:
                owner[aggregate] = brands.pop()
                plan.inferred[UUID(bytes=aggregate)] = owner[aggregate]
                del undecided[aggregate]
                changed = True
            elif len(brands) > 1:
                undecided[aggregate] = f"it references or is referenced by several brands: {', '.join(sorted(brands))}"
    for aggregate, why in undecided.items():
        if why.startswith("its creation event records no brand"):
            why += (
                " and nothing in the log links it to one"
                if not neighbours.get(aggregate)
                else f", and none of the {len(neighbours[aggregate])} ids it names or is named by has one in this log"
            )
        plan.unassigned.append(Unassigned(UUID(bytes=aggregate), first_topic[aggregate], why))
    seen_conflicts = {(c[0].bytes, c[2].bytes) for c in plan.conflicts}
    for a, b in pending:
        if a in owner and b in owner and owner[a] != owner[b] and (a, b) not in seen_conflicts:
            seen_conflicts.add((a, b))
            plan.conflicts.append((UUID(bytes=a), owner[a], UUID(bytes=b), owner[b]))
    plan.owner = owner
    for brand in sorted(set(owner.values())):
        plan.brands[brand] = BrandPlan(brand, schema_for(brand))
    for brand in owner.values():
        plan.brands[brand].aggregates += 1
    return plan


async def _count_per_brand(conn: asyncpg.Connection, source: Names, plan: SplitPlan) -> None:
    """Events, data keys and request-log rows per brand, and what is left behind (one temp table of owners)."""
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE split_owner (originator_id uuid PRIMARY KEY, brand text NOT NULL) ON COMMIT DROP"
        )
        await conn.copy_records_to_table("split_owner", records=((UUID(bytes=a), b) for a, b in plan.owner.items()))
        for brand, n in await conn.fetch(
            f"SELECT o.brand, count(*) FROM {source.q(source.events)} e JOIN split_owner o USING (originator_id) "
            "WHERE e.notification_id <= $1 GROUP BY o.brand",
            plan.head,
        ):
            plan.brands[brand].events = n
        if await _exists(conn, source, "data_keys"):
            from infrastructure.privacy import REQUEST_LOG_SUBJECT

            shared = await conn.fetchval(
                f"SELECT count(*) FROM {source.q('data_keys')} WHERE subject_id = $1", REQUEST_LOG_SUBJECT
            )
            for b in plan.brands.values():
                b.data_keys = shared
            for brand, n in await conn.fetch(
                f"SELECT o.brand, count(*) FROM {source.q('data_keys')} k "
                "JOIN split_owner o ON o.originator_id = k.subject_id GROUP BY o.brand"
            ):
                plan.brands[brand].data_keys += n
            plan.orphan_keys = await conn.fetchval(
                f"SELECT count(*) FROM {source.q('data_keys')} k WHERE k.subject_id <> $1 "
                "AND NOT EXISTS (SELECT 1 FROM split_owner o WHERE o.originator_id = k.subject_id)",
                REQUEST_LOG_SUBJECT,
            )
        prefixes = {
            r[0]: r[1]
            for r in await conn.fetch(
                f"SELECT split_part(request_id, '/', 1), count(*) FROM {source.q('request_log')} GROUP BY 1"
            )
        }
        for brand, b in plan.brands.items():
            b.requests = prefixes.pop(brand, 0)
        plan.unbranded_requests = sum(prefixes.values())


async def _brand_state(conn: asyncpg.Connection, plan: SplitPlan, b: BrandPlan, registered: Tenant | None) -> str:
    target = names_in(b.schema)
    if registered is not None and registered.schema not in (plan.source, b.schema):
        return f"refused: registered in schema {registered.schema}, neither the source nor {b.schema}"
    if registered is not None and registered.dsn is not None:
        return "refused: registered on a database of its own; the split works on the platform database"
    if not await _exists(conn, target, target.events):
        return "to copy"
    if not await _exists(conn, target, MARKER):
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {target.q(target.events)})"):
            return f"refused: schema {b.schema} already holds events that no split wrote"
        return "to copy"
    row = await conn.fetchrow(f"SELECT source_schema, source_head, state FROM {target.q(MARKER)}")
    if row is None:
        return "to copy"
    if row["source_schema"] != plan.source:
        return f"refused: schema {b.schema} was split from schema {row['source_schema']}"
    if row["state"] == "done":
        if row["source_head"] != plan.head:
            grown = await conn.fetchval(
                f"SELECT count(*) FROM {names_in(plan.source).q(names_in(plan.source).events)} e "
                "WHERE e.notification_id > $1 AND e.originator_id = ANY($2::uuid[])",
                row["source_head"],
                [UUID(bytes=a) for a, o in plan.owner.items() if o == b.brand],
            )
            if grown:
                return f"refused: the shared log holds {grown} events of this brand written after its split"
        return "done" if registered is not None and registered.schema == b.schema else "to register"
    return "to rebuild" if row["source_head"] == plan.head else "to copy"


async def _copy(conn: asyncpg.Connection, source: Names, plan: SplitPlan, b: BrandPlan, mapper: Any) -> None:
    """One transaction: the brand's events renumbered, position map, keys, verifiers, request log, marker."""
    from infrastructure.privacy import REQUEST_LOG_SUBJECT

    target = names_in(b.schema)
    s_events, t_events = source.q(source.events), target.q(target.events)
    async with conn.transaction():
        await conn.execute(f"LOCK TABLE {s_events} IN SHARE MODE")  # writers wait; the split is offline
        head = await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {s_events}")
        if head != plan.head:
            raise TenantError(
                f"the shared log moved from position {plan.head} to {head} since the plan: stop the servers "
                "(the split is offline) and run it again"
            )
        await conn.execute(f"DROP TABLE IF EXISTS {target.q(MARKER)}, {target.q(POSITIONS)}")
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t_events})"):
            await conn.execute(f"TRUNCATE {t_events}, {target.q('request_log')}")
        await conn.execute(
            f"""CREATE TABLE {target.q(MARKER)} (
                source_schema text NOT NULL, source_head bigint NOT NULL, events bigint NOT NULL,
                settlement_positions_translated int NOT NULL, state text NOT NULL, chain_head text,
                copied_at timestamptz NOT NULL DEFAULT now(), done_at timestamptz)"""
        )
        await conn.execute(
            f"""CREATE TABLE {target.q(POSITIONS)} (
                notification_id bigint PRIMARY KEY, source_notification_id bigint NOT NULL UNIQUE)"""
        )
        await conn.execute("CREATE TEMP TABLE split_ids (originator_id uuid PRIMARY KEY) ON COMMIT DROP")
        await conn.copy_records_to_table(
            "split_ids",
            records=((UUID(bytes=a),) for a, o in plan.owner.items() if o == b.brand),
        )
        await conn.execute(
            f"""INSERT INTO {target.q(POSITIONS)} (notification_id, source_notification_id)
                SELECT row_number() OVER (ORDER BY e.notification_id), e.notification_id
                FROM {s_events} e JOIN split_ids USING (originator_id) WHERE e.notification_id <= $1""",
            plan.head,
        )
        await conn.execute(
            f"""INSERT INTO {t_events} (originator_id, originator_version, topic, state, notification_id)
                SELECT e.originator_id, e.originator_version, e.topic, e.state, p.notification_id
                FROM {target.q(POSITIONS)} p JOIN {s_events} e ON e.notification_id = p.source_notification_id
                ORDER BY p.notification_id"""
        )
        copied = await conn.fetchval(f"SELECT count(*) FROM {t_events}")
        if copied:
            await conn.execute("SELECT setval(pg_get_serial_sequence($1, 'notification_id'), $2)", t_events, copied)
        translated = await _translate_through_positions(conn, target, mapper)
        if await _exists(conn, source, "data_keys"):
            for table in ("data_keys", "key_checks"):
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {target.q(table)} (LIKE {source.q(table)} INCLUDING ALL)"
                )
            await conn.execute(f"DELETE FROM {target.q('data_keys')}")
            await conn.execute(f"DELETE FROM {target.q('key_checks')}")
            await conn.execute(
                f"""INSERT INTO {target.q("data_keys")} SELECT k.* FROM {source.q("data_keys")} k
                    WHERE k.subject_id = $1 OR k.subject_id IN (SELECT originator_id FROM split_ids)""",
                REQUEST_LOG_SUBJECT,
            )
            await conn.execute(f"INSERT INTO {target.q('key_checks')} SELECT * FROM {source.q('key_checks')}")
        await conn.execute(
            f"""INSERT INTO {target.q("request_log")}
                    (request_id, method, payload_hash, response, notification_id, recorded_at)
                SELECT r.request_id, r.method, r.payload_hash, r.response, p.notification_id, r.recorded_at
                FROM {source.q("request_log")} r
                LEFT JOIN {target.q(POSITIONS)} p ON p.source_notification_id = r.notification_id
                WHERE split_part(r.request_id, '/', 1) = $1""",
            b.brand,
        )
        await conn.execute(
            f"INSERT INTO {target.q(MARKER)} (source_schema, source_head, events, settlement_positions_translated, "
            "state) VALUES ($1, $2, $3, $4, 'copied')",
            plan.source,
            plan.head,
            copied,
            translated,
        )


async def _translate_through_positions(conn: asyncpg.Connection, target: Names, mapper: Any) -> int:
    """Rewrite each copied ``SettlementPeriod.Closed``'s ``through_position`` (a position in the shared log) as the
    same cut in the brand's own numbering: the last of the brand's events at or before it."""
    raw = _raw_loader(mapper)
    cipher, compressor = getattr(mapper, "cipher", None), getattr(mapper, "compressor", None)
    rows = await conn.fetch(
        f"SELECT notification_id, state FROM {target.q(target.events)} WHERE topic = $1", _CLOSED_TOPIC
    )
    for notification_id, stored in rows:
        state = raw(bytes(stored))
        found = _THROUGH.findall(state)
        if len(found) != 1:
            raise TenantError(f"event {notification_id} ({_CLOSED_TOPIC}) does not hold one through_position")
        through = await conn.fetchval(
            f"SELECT coalesce(max(notification_id), 0) FROM {target.q(POSITIONS)} WHERE source_notification_id <= $1",
            int(found[0]),
        )
        state = _THROUGH.sub(b'"through_position":%d' % through, state)
        if compressor is not None:
            state = compressor.compress(state)
        if cipher is not None:
            state = cipher.encrypt(state)
        await conn.execute(
            f"UPDATE {target.q(target.events)} SET state = $2 WHERE notification_id = $1", notification_id, state
        )
    return len(rows)


async def _rebuild_and_verify(dsn: str, b: BrandPlan, env: Mapping[str, str], data_dir: Path | None) -> str:
    """Every read model and the hash chain rebuilt from the brand's copied log; the chain verified; its head."""
    from infrastructure.event_store import EventStore
    from infrastructure.hash_chain import verify
    from infrastructure.privacy import open_private
    from infrastructure.projections import all_projections
    from infrastructure.rebuild import rebuild

    target = names_in(b.schema)
    store = await EventStore.open(dsn, target, min_size=1, max_size=3)
    try:
        private = await open_private(store, env, data_dir)  # the copied verifiers check the configured keys
        for projection in all_projections(private):
            await rebuild(private, projection, private.mapper, out=None)
        result = await verify(private)
        events = await private.max_notification_id() or 0
        if not result.ok or result.checked != events:
            raise TenantError(
                f"brand {b.brand}: the rebuilt hash chain does not verify ({result.reason} at "
                f"{result.first_broken_position}; {result.checked} of {events} checked)"
            )
        return "" if result.head is None else str(result.head)
    finally:
        await store.close()


async def split(
    platform_dsn: str,
    source_schema: str = "public",
    *,
    env: Mapping[str, str],
    data_dir: Path | None,
    brands: Iterable[str] = (),
    assign: Mapping[UUID, str] | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> SplitPlan:
    """Split ``source_schema`` of the platform database into per-brand schemas (see the module's docstring).

    Raises :class:`TenantError` when it refuses (the plan's report says why); with ``dry_run`` it only
    reports. Returns the plan, every brand's ``state`` as it ended.
    """
    from infrastructure.mapper import build_mapper

    if source_schema == PLATFORM_SCHEMA or source_schema.startswith("brand_"):
        raise TenantError(f"{source_schema} is not a shared schema from before tenants")
    source = names_in(source_schema)
    mapper = build_mapper(env)
    registry = Registry(platform_dsn)
    conn = await asyncpg.connect(platform_dsn)
    try:
        if not await _exists(conn, source, source.events):
            raise TenantError(f"schema {source_schema} holds no event log")
        if await _exists(conn, source, "key_checks"):  # the configured keys must open this database's data keys
            from infrastructure.privacy import Keyring, key_config

            await Keyring.open(_OneConnection(conn), source, key_config(env, data_dir))
        plan = await make_plan(conn, source, mapper, assign=assign)
        await _count_per_brand(conn, source, plan)
        if plan.refused:
            for line in plan.report():
                say(line)
            raise TenantError(
                f"{len(plan.unassigned)} aggregates of no single brand and {len(plan.conflicts)} cross-brand "
                "references: nothing was split"
            )
        registered = {t.brand: t for t in await registry.all()}
        for t in registered.values():  # a brand registered on the shared schema that never wrote: a schema of its own
            if t.schema == source_schema and t.dsn is None and t.brand not in plan.brands:
                plan.brands[t.brand] = BrandPlan(t.brand, schema_for(t.brand))
        wanted = set(brands) or set(plan.brands)
        if unknown := wanted - set(plan.brands):
            raise TenantError(f"no aggregate of brand(s) {', '.join(sorted(unknown))} in schema {source_schema}")
        for b in plan.brands.values():
            b.state = await _brand_state(conn, plan, b, registered.get(b.brand))
            if b.brand not in wanted and b.state != "done":
                b.state = f"not asked ({b.state})"
        for line in plan.report():
            say(line)
        if dry_run:
            return plan
        if refused := [b for b in plan.brands.values() if b.state.startswith("refused")]:
            raise TenantError("; ".join(f"{b.brand}: {b.state}" for b in refused))
        for b in plan.brands.values():
            if b.state in ("done",) or b.state.startswith("not asked"):
                continue
            tenant = Tenant(b.brand, b.schema)
            if b.state == "to copy":
                if await _exists(conn, names_in(b.schema), MARKER):  # an interrupted run of an older plan
                    await conn.execute(f'DROP SCHEMA "{b.schema}" CASCADE')
                await prepare_schema(tenant, platform_dsn)  # migrations and read-model tables
                await _copy(conn, source, plan, b, mapper)
                say(f"{b.brand}: copied {b.events} events into {b.schema}")
                b.state = "to rebuild"
            if b.state == "to rebuild":
                chain_head = await _rebuild_and_verify(platform_dsn, b, env, data_dir)
                await conn.execute(
                    f"UPDATE {names_in(b.schema).q(MARKER)} SET state = 'done', chain_head = $1, done_at = now()",
                    chain_head,
                )
                say(f"{b.brand}: read models rebuilt, hash chain verified (head {chain_head or 'none'})")
                b.state = "to register"
            if b.state == "to register":
                await registry.move(b.brand, b.schema)
                await conn.execute(
                    f"""CREATE TABLE IF NOT EXISTS {source.q(SOURCE_MARKER)} (
                        brand text PRIMARY KEY, schema_name text NOT NULL, source_head bigint NOT NULL,
                        done_at timestamptz NOT NULL DEFAULT now())"""
                )
                await conn.execute(
                    f"INSERT INTO {source.q(SOURCE_MARKER)} (brand, schema_name, source_head) VALUES ($1, $2, $3) "
                    "ON CONFLICT (brand) DO NOTHING",
                    b.brand,
                    b.schema,
                    plan.head,
                )
                say(f"{b.brand}: registered in schema {b.schema}")
                b.state = "done"
        if all(b.state == "done" for b in plan.brands.values()):
            await conn.execute(
                f"INSERT INTO {source.q(SOURCE_MARKER)} (brand, schema_name, source_head) VALUES ('*', '', $1) "
                "ON CONFLICT (brand) DO NOTHING",
                plan.head,
            )
        return plan
    finally:
        await conn.close()


def parse_assignments(values: Iterable[str]) -> dict[UUID, str]:
    """``ID=BRAND`` options (an aggregate id, or a resource name such as ``cloudStores/ID``)."""
    out: dict[UUID, str] = {}
    for value in values:
        key, sep, brand = value.partition("=")
        try:
            aggregate_id = UUID(key.rsplit("/", 1)[-1])
        except ValueError:
            raise TenantError(f"--assign {value!r}: expected ID=BRAND") from None
        if not sep or not is_brand(brand):
            raise TenantError(f"--assign {value!r}: expected ID=BRAND")
        out[aggregate_id] = brand
    return out
