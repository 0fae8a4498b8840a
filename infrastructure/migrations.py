"""Versioned, idempotent schema migrations.

Each migration runs once, in its own transaction, under an advisory lock so
several server processes starting together do not race. The stored-event
tables keep the exact layout of eventsourcing's PostgreSQL module (same column
names and types, same primary key, same notification-id index and composite
type), so a stock ``eventsourcing`` Application can read and write them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infrastructure.pg import Connection

_MIGRATION_LOCK = "loyalty-migrations:"
"""Prefix of the advisory lock key (``hashtext`` of it and the schema): each schema migrates under its own lock,
so onboarding one brand never waits for another's migrations."""


@dataclass(frozen=True)
class Names:
    schema: str
    events: str
    snapshots: str

    def q(self, table: str) -> str:
        return f'"{self.schema}"."{table}"'

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this schema's log. Channels are database-wide, so a brand's schema has its own
        (a commit wakes only its own brand's listeners); ``public`` keeps the historical name."""
        return self.events if self.schema == "public" else f"{self.schema}.{self.events}"[:63]


def _v1_event_store(n: Names) -> list[str]:
    events, snapshots = n.q(n.events), n.q(n.snapshots)
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{n.schema}"',
        f"""CREATE TABLE {events} (
            originator_id uuid NOT NULL,
            originator_version bigint NOT NULL,
            topic text,
            state bytea,
            notification_id bigserial,
            PRIMARY KEY (originator_id, originator_version))""",
        f'CREATE UNIQUE INDEX "{n.events}_notification_id_idx" ON {events} (notification_id ASC)',
        f"""CREATE TABLE {snapshots} (
            originator_id uuid NOT NULL,
            originator_version bigint NOT NULL,
            topic text,
            state bytea,
            PRIMARY KEY (originator_id, originator_version))""",
        f"""CREATE TABLE {n.q("projection_tracking")} (
            application_name text PRIMARY KEY,
            notification_id bigint)""",
        # Idempotency: a mutating call's request id, the hash of its payload and
        # the encoded response, written in the same transaction as its events.
        f"""CREATE TABLE {n.q("request_log")} (
            request_id text PRIMARY KEY,
            method text NOT NULL,
            payload_hash bytea NOT NULL,
            response bytea NOT NULL,
            notification_id bigint,
            recorded_at timestamptz NOT NULL DEFAULT now())""",
    ]


def _v2_event_chain(n: Names) -> list[str]:
    # Tamper evidence: one SHA-256 link per notification id (infrastructure/hash_chain.py).
    return [
        f"""CREATE TABLE {n.q("event_chain")} (
            notification_id bigint PRIMARY KEY,
            hash bytea NOT NULL)""",
    ]


def _v3_group_commit(n: Names) -> list[str]:
    # One round trip per group commit: lock, check every write's expected versions and request ids,
    # and only if nothing is stale or already logged, insert request-log rows, snapshots and events.
    events, snapshots, requests = n.q(n.events), n.q(n.snapshots), n.q("request_log")
    return [
        f"""CREATE OR REPLACE FUNCTION {commit_function(n)}(
            lock_timeout text,
            check_ids uuid[], check_versions bigint[],
            request_ids text[], request_methods text[], request_hashes bytea[], request_responses bytea[],
            snapshot_ids uuid[], snapshot_versions bigint[], snapshot_topics text[], snapshot_states bytea[],
            event_ids uuid[], event_versions bigint[], event_topics text[], event_states bytea[])
        RETURNS TABLE (stale uuid, duplicate text)
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('lock_timeout', lock_timeout, true);
            LOCK TABLE {events} IN EXCLUSIVE MODE;
            RETURN QUERY
                SELECT c.id, NULL::text FROM unnest(check_ids, check_versions) AS c(id, version)
                WHERE EXISTS (SELECT 1 FROM {events} e
                              WHERE e.originator_id = c.id AND e.originator_version > c.version)
                UNION ALL
                SELECT NULL::uuid, r.id FROM unnest(request_ids) AS r(id)
                WHERE EXISTS (SELECT 1 FROM {requests} l WHERE l.request_id = r.id);
            IF FOUND THEN
                RETURN;
            END IF;
            INSERT INTO {requests} (request_id, method, payload_hash, response)
                SELECT * FROM unnest(request_ids, request_methods, request_hashes, request_responses);
            INSERT INTO {snapshots} (originator_id, originator_version, topic, state)
                SELECT * FROM unnest(snapshot_ids, snapshot_versions, snapshot_topics, snapshot_states)
                ON CONFLICT DO NOTHING;
            INSERT INTO {events} (originator_id, originator_version, topic, state)
                SELECT * FROM unnest(event_ids, event_versions, event_topics, event_states);
            IF cardinality(event_ids) > 0 THEN
                PERFORM pg_notify('{n.channel}', '');
            END IF;
        END
        $$""",
    ]


def _v5_commit_notice(n: Names) -> list[str]:
    # The same group commit, but its NOTIFY says what it wrote: "<first id> <last id> <topic> <topic> ..." (the
    # distinct topics, or "*" when they would not fit a NOTIFY's 8000 bytes). A follower of other topics
    # that has read the log up to just before <first id> moves past the commit without a query.
    (function,) = _v3_group_commit(n)
    events = n.q(n.events)
    insert_and_notify = f"""INSERT INTO {events} (originator_id, originator_version, topic, state)
                SELECT * FROM unnest(event_ids, event_versions, event_topics, event_states);
            IF cardinality(event_ids) > 0 THEN
                PERFORM pg_notify('{n.channel}', '');
            END IF;"""
    assert insert_and_notify in function
    function = function.replace(
        insert_and_notify,
        f"""IF cardinality(event_ids) > 0 THEN
                WITH inserted AS (
                    INSERT INTO {events} (originator_id, originator_version, topic, state)
                    SELECT * FROM unnest(event_ids, event_versions, event_topics, event_states)
                    RETURNING notification_id, topic)
                SELECT min(notification_id), max(notification_id), string_agg(DISTINCT topic, ' ')
                    INTO first_id, last_id, written
                    FROM inserted;
                PERFORM pg_notify('{n.channel}', first_id || ' ' || last_id || ' '
                    || CASE WHEN length(written) > 7000 THEN '*' ELSE written END);
            END IF;""",
    ).replace(
        "LANGUAGE plpgsql AS $$\n        BEGIN",
        "LANGUAGE plpgsql AS $$\n        DECLARE first_id bigint; last_id bigint; written text;\n        BEGIN",
    )
    assert "DECLARE" in function
    return [function]


def _v6_commit_ids(n: Names) -> list[str]:
    # The group commit of migration 5 under a new name, answering with the ids it wrote: one row
    # (NULL, NULL, first id, last id) when it committed (the ids NULL without events), the stale aggregates'
    # and logged requests' rows when it wrote nothing. The server keeps what it committed by those ids, so its
    # own followers take its own commits from memory (EventStore.own_commits). A new name, not a new body for
    # the old one: a server from before it reads any row as "not committed", so the old function stays
    # (unchanged) for servers not upgraded yet during a rolling upgrade.
    events, snapshots, requests = n.q(n.events), n.q(n.snapshots), n.q("request_log")
    return [
        f"""CREATE OR REPLACE FUNCTION {commit_ids_function(n)}(
            lock_timeout text,
            check_ids uuid[], check_versions bigint[],
            request_ids text[], request_methods text[], request_hashes bytea[], request_responses bytea[],
            snapshot_ids uuid[], snapshot_versions bigint[], snapshot_topics text[], snapshot_states bytea[],
            event_ids uuid[], event_versions bigint[], event_topics text[], event_states bytea[])
        RETURNS TABLE (stale uuid, duplicate text, first_id bigint, last_id bigint)
        LANGUAGE plpgsql AS $$
        DECLARE written text;
        BEGIN
            PERFORM set_config('lock_timeout', lock_timeout, true);
            LOCK TABLE {events} IN EXCLUSIVE MODE;
            RETURN QUERY
                SELECT c.id, NULL::text, NULL::bigint, NULL::bigint
                FROM unnest(check_ids, check_versions) AS c(id, version)
                WHERE EXISTS (SELECT 1 FROM {events} e
                              WHERE e.originator_id = c.id AND e.originator_version > c.version)
                UNION ALL
                SELECT NULL::uuid, r.id, NULL::bigint, NULL::bigint FROM unnest(request_ids) AS r(id)
                WHERE EXISTS (SELECT 1 FROM {requests} l WHERE l.request_id = r.id);
            IF FOUND THEN
                RETURN;
            END IF;
            INSERT INTO {requests} (request_id, method, payload_hash, response)
                SELECT * FROM unnest(request_ids, request_methods, request_hashes, request_responses);
            INSERT INTO {snapshots} (originator_id, originator_version, topic, state)
                SELECT * FROM unnest(snapshot_ids, snapshot_versions, snapshot_topics, snapshot_states)
                ON CONFLICT DO NOTHING;
            IF cardinality(event_ids) > 0 THEN
                WITH inserted AS (
                    INSERT INTO {events} (originator_id, originator_version, topic, state)
                    SELECT * FROM unnest(event_ids, event_versions, event_topics, event_states)
                    RETURNING notification_id, topic)
                SELECT min(notification_id), max(notification_id), string_agg(DISTINCT topic, ' ')
                    INTO first_id, last_id, written
                    FROM inserted;
                PERFORM pg_notify('{n.channel}', first_id || ' ' || last_id || ' '
                    || CASE WHEN length(written) > 7000 THEN '*' ELSE written END);
            END IF;
            RETURN NEXT;
        END
        $$""",
    ]


def commit_function(n: Names) -> str:
    """The group commit of migrations 3-5 (kept for servers from before migration 6)."""
    return f'"{n.schema}"."{n.events}_commit"'


def commit_ids_function(n: Names) -> str:
    """The group commit the server calls (migration 6)."""
    return f'"{n.schema}"."{n.events}_commit_ids"'


MIGRATIONS: list[tuple[int, str, Callable[[Names], list[str]]]] = [
    (1, "event store, snapshots, tracking, request log", _v1_event_store),
    (2, "event hash chain", _v2_event_chain),
    (3, "group commit function", _v3_group_commit),
    # A schema other than public notifies its own channel (Names.channel); re-creating the function moves a
    # schema migrated before that onto it (for public it is the same function).
    (4, "group commit function notifies the schema's own channel", _v3_group_commit),
    (5, "group commit's NOTIFY names the ids and topics it wrote", _v5_commit_notice),
    (6, "group commit answers with the ids it wrote", _v6_commit_ids),
]


async def migrate(conn: Connection, names: Names) -> list[int]:
    """Apply pending migrations; return the versions applied now."""
    applied_now: list[int] = []
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{names.schema}"')
    lock_key = _MIGRATION_LOCK + names.schema
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock_key)
    try:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {names.q("schema_migrations")} (
                version int PRIMARY KEY, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {names.q('schema_migrations')}")}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            async with conn.transaction():
                for sql in statements(names):
                    await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {names.q('schema_migrations')} (version, name) VALUES ($1, $2)",
                    version,
                    name,
                )
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)
    return applied_now
