"""Tamper evidence: a SHA-256 hash chain over the global event log.

For each notification id n (in order), ``h_n = SHA-256(h_prev || n ||
originator_id || originator_version || len(topic) || topic || len(state) ||
state)``, with ``h_prev`` the previous chained link (32 zero bytes before the
first). Numbers are 8-byte big-endian, lengths are prefixed so no two events
share an encoding. The links live in ``event_chain`` and are appended by
:class:`HashChainer`, an ordinary projection over raw notifications, so the
chain advances exactly once per event, in commit order.

What :func:`verify` catches, by recomputing the chain from the stored events:
an altered state, topic, originator or version (the link at that position no
longer matches), a deleted event (a chained id with no event), an event slipped
in between chained ones (an event id with no link), events reordered by
renumbering. Someone who can write to the database could rewrite the chain
too; :func:`head` exports the latest link so an auditor can keep it off-site
and later pass it to ``verify(..., anchor=...)``, which then also catches a
rewritten or truncated chain.

Gaps in notification ids that are in neither table are normal: a rolled-back
insert consumes ids from the sequence.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from infrastructure.event_store import EventStore

GENESIS = bytes(32)
CHAIN_TABLE = "event_chain"
COPY_FROM = 2_000
"""Batches of at least this many links are written with COPY."""


def link(
    prev: bytes, notification_id: int, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The chain link of one stored event after the link ``prev``."""
    topic_bytes = topic.encode("utf-8")
    h = hashlib.sha256(prev)
    h.update(struct.pack(">q", notification_id))
    h.update(originator_id.bytes)
    h.update(struct.pack(">qI", originator_version, len(topic_bytes)))
    h.update(topic_bytes)
    h.update(struct.pack(">Q", len(state)))
    h.update(state)
    return h.digest()


def link_notification(prev: bytes, n: Notification) -> bytes:
    originator_id = n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id)
    return link(prev, n.id, originator_id, n.originator_version, n.topic, n.state)


def link_body(notification_id: int, originator_id: UUID, originator_version: int, topic: str, state: bytes) -> bytes:
    """What :func:`link` hashes after ``prev``: ``link(prev, ...) == sha256(prev + link_body(...))``."""
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            struct.pack(">q", notification_id),
            originator_id.bytes,
            struct.pack(">qI", originator_version, len(topic_bytes)),
            topic_bytes,
            struct.pack(">Q", len(state)),
            state,
        )
    )


LINK_BODY_SQL = (
    "int8send(notification_id) || uuid_send(originator_id) || int8send(originator_version)"
    " || int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8')"
    " || int8send(octet_length(state)::bigint) || state"
)
""":func:`link_body` computed by PostgreSQL from an events row (tested equal byte for byte): a rebuild
reads one ``bytea`` per event, ready to hash, instead of five columns to decode and re-encode."""


def chain_links(prev: bytes, rows: Sequence[Any]) -> tuple[list[int], list[bytes]]:
    """The links after ``prev`` of rows ``(notification_id, link body)``, in order: (ids, hashes)."""
    sha256 = hashlib.sha256
    ids: list[int] = []
    hashes: list[bytes] = []
    add_id, add_hash = ids.append, hashes.append
    for notification_id, body in rows:
        h = sha256(prev)
        h.update(body)
        prev = h.digest()
        add_id(notification_id)
        add_hash(prev)
    return ids, hashes


class HashChainer:
    """The projection that appends one link per notification (a NotificationProjection)."""

    name = "event_chain"
    topics: Sequence[str] = ()

    def __init__(self, store: EventStore) -> None:
        self.table = store.names.q(CHAIN_TABLE)
        self.schema = store.names.schema

    async def setup(self, conn: Any) -> None:
        """The table comes from migration 2; nothing to create here."""

    async def reset(self, conn: Any) -> None:
        """Forget the chain. Rebuilding re-chains the log *as it is now*: only after an audit."""
        await conn.execute(f"TRUNCATE {self.table}")

    bulk_columns = f"notification_id, {LINK_BODY_SQL}"
    """What a bulk rebuild reads per event (infrastructure/rebuild.py): its id and its link body."""

    async def handle_notifications(self, conn: Any, notifications: Sequence[Notification]) -> None:
        await self.handle_bulk(
            conn,
            [
                (
                    n.id,
                    link_body(
                        n.id,
                        n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id),
                        n.originator_version,
                        n.topic,
                        n.state,
                    ),
                )
                for n in notifications
            ],
            None,
        )

    async def handle_bulk(self, conn: Any, rows: Sequence[Any], loads: Any) -> None:
        """Rows (id, link body) in order, as :attr:`bulk_columns` reads them: the chain covers the stored bytes."""
        prev = await conn.fetchval(f"SELECT hash FROM {self.table} ORDER BY notification_id DESC LIMIT 1")
        ids, hashes = chain_links(GENESIS if prev is None else bytes(prev), rows)
        if len(ids) >= COPY_FROM:  # a rebuild's batch: COPY is several times faster than an INSERT of arrays
            await conn.copy_records_to_table(
                CHAIN_TABLE,
                records=zip(ids, hashes, strict=True),
                schema_name=self.schema,
                columns=("notification_id", "hash"),
            )
            return
        await conn.execute(
            f"INSERT INTO {self.table} (notification_id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            ids,
            hashes,
        )


def projections(store: EventStore) -> list[HashChainer]:
    """Factory for ``python -m infrastructure.projection_runner infrastructure.hash_chain:projections``."""
    return [HashChainer(store)]


@dataclass(frozen=True)
class ChainHead:
    notification_id: int
    hash_hex: str

    def __str__(self) -> str:
        return f"{self.notification_id}:{self.hash_hex}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """The ``id:hex`` form of ``str(head)``, e.g. from an auditor's note."""
        position, _, hex_ = text.strip().partition(":")
        return cls(int(position), bytes.fromhex(hex_).hex())


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    """Links recomputed and matched before the first break (or in all)."""
    first_broken_position: int | None
    reason: str | None
    unchained: int = 0
    """Events after the chain's head, not yet chained: not an error."""
    head: ChainHead | None = None
    """The last matching link: the anchor to keep off-site."""


async def head(store: EventStore) -> ChainHead | None:
    """The latest link, to export (hex) and keep off-site."""
    row = await store.pool.fetchrow(
        f"SELECT notification_id, hash FROM {store.names.q(CHAIN_TABLE)} ORDER BY notification_id DESC LIMIT 1"
    )
    return None if row is None else ChainHead(row[0], bytes(row[1]).hex())


async def verify(
    store: EventStore,
    *,
    anchor: ChainHead | None = None,
    page: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    """Recompute the chain from the stored events; report the FIRST broken position.

    Reads both tables in one repeatable-read snapshot (consistent while the
    chainer keeps appending), through server-side cursors (constant memory).
    ``on_progress`` is told (links checked, position) every ``page`` links.
    """
    chain_table = store.names.q(CHAIN_TABLE)
    async with store.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        events = _rows(
            conn.cursor(
                f"SELECT notification_id, originator_id, originator_version, topic, state "
                f"FROM {store.events} ORDER BY notification_id",
                prefetch=page,
            )
        )
        chain = _rows(
            conn.cursor(f"SELECT notification_id, hash FROM {chain_table} ORDER BY notification_id", prefetch=page)
        )
        prev, checked, last_id = GENESIS, 0, None
        anchor_seen = anchor is None
        e, c = await anext(events, None), await anext(chain, None)

        def broken(position: int, reason: str) -> VerifyResult:
            good = ChainHead(last_id, prev.hex()) if last_id is not None else None
            return VerifyResult(False, checked, position, reason, head=good)

        while c is not None:
            if e is None or c[0] < e[0]:
                return broken(c[0], "event missing: chained but not stored (deleted?)")
            if e[0] < c[0]:
                return broken(e[0], "event not chained though later ones are (inserted?)")
            computed = link(prev, e[0], UUID(bytes=e[1].bytes), e[2], e[3], e[4])
            if computed != bytes(c[1]):
                return broken(e[0], "hash mismatch: event altered, renumbered or chain rewritten")
            if anchor is not None and not anchor_seen and e[0] > anchor.notification_id:
                return broken(anchor.notification_id, "the anchor's position is not in the chain")
            if anchor is not None and e[0] == anchor.notification_id:
                if computed.hex() != anchor.hash_hex:
                    return broken(e[0], "chain differs from the anchor kept off-site (rewritten?)")
                anchor_seen = True
            prev, last_id, checked = computed, e[0], checked + 1
            if on_progress is not None and checked % page == 0:
                on_progress(checked, last_id)
            e, c = await anext(events, None), await anext(chain, None)
        if not anchor_seen:
            assert anchor is not None
            return broken(anchor.notification_id, "chain ends before the anchor (truncated?)")
        unchained = await conn.fetchval(f"SELECT count(*) FROM {store.events} WHERE notification_id > $1", last_id or 0)
    good = ChainHead(last_id, prev.hex()) if last_id is not None else None
    return VerifyResult(True, checked, None, None, unchained=unchained, head=good)


async def _rows(cursor: Any) -> AsyncIterator[Any]:
    async for row in cursor:
        yield row


# --- command line ----------------------------------------------------------------------------


async def _verify_command(argv: Any = None) -> int:
    """``python -m infrastructure.hash_chain verify --brand B [--anchor ID:HEX]``: exit 0 when the chain holds."""
    import argparse
    import json

    from infrastructure.projection_runner import open_store_from_env

    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.hash_chain", description="Verify a brand's event log against its hash chain."
    )
    parser.add_argument("command", choices=["verify"])
    parser.add_argument(
        "--brand",
        default=None,
        help="the brand (tenant); without it, the configured POSTGRES_SCHEMA of a database from before tenants",
    )
    parser.add_argument("--anchor", type=ChainHead.parse, default=None, help="a head kept off-site, ID:HEX")
    args = parser.parse_args(argv)
    store, release = await open_store_from_env(args.brand)
    try:
        result = await verify(store, anchor=args.anchor)
    finally:
        await store.close()
        release()
    print(
        json.dumps(
            {
                "ok": result.ok,
                "checked": result.checked,
                "first_broken_position": result.first_broken_position,
                "reason": result.reason,
                "unchained": result.unchained,
                "head": None if result.head is None else str(result.head),
            }
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    import asyncio

    raise SystemExit(asyncio.run(_verify_command()))
