"""The hash chain: an untouched log verifies, every kind of tampering is found where it happened."""

from __future__ import annotations

import hashlib
import random
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.event_store import ConcurrencyConflict, EventStore
from infrastructure.hash_chain import (
    CHAIN_TABLE,
    GENESIS,
    LINK_BODY_SQL,
    ChainHead,
    HashChainer,
    chain_links,
    head,
    link,
    link_body,
    verify,
)
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.rebuild import rebuild


async def log_of(store: EventStore, n: int, seed: int = 1) -> list[int]:
    """``n`` events of a few aggregates with random bytes as state; their notification ids."""
    rnd = random.Random(seed)
    versions: dict[UUID, int] = {}
    ids: list[int] = []
    while len(ids) < n:
        batch: list[StoredEvent] = []
        for _ in range(min(rnd.randint(1, 4), n - len(ids) - len(batch))):
            a = rnd.choice([*versions, uuid4()]) if versions else uuid4()
            versions[a] = versions.get(a, 0) + 1
            batch.append(StoredEvent(a, versions[a], f"t:E{rnd.randint(1, 3)}", rnd.randbytes(rnd.randint(0, 40))))
        ids += await store.insert_events(batch)
    return ids


async def chained(store: EventStore, n: int, seed: int = 1) -> list[int]:
    ids = await log_of(store, n, seed)
    await ProjectionRunner(store, [HashChainer(store)], batch_size=7).catch_up()
    return ids


async def test_an_untouched_log_verifies(store: EventStore):
    ids = await chained(store, 30)
    result = await verify(store, page=4)
    assert result.ok and result.first_broken_position is None and result.reason is None
    assert result.checked == 30 and result.unchained == 0
    assert result.head == await head(store)
    assert result.head is not None and result.head.notification_id == ids[-1]


async def test_an_empty_log_verifies(store: EventStore):
    result = await verify(store)
    assert result.ok and result.checked == 0 and result.head is None
    assert await head(store) is None


async def test_the_chain_is_the_documented_recurrence(store: EventStore):
    ids = await chained(store, 3)
    prev = GENESIS
    for n in await store.select_notifications(None, 10):
        assert isinstance(n.originator_id, UUID)
        prev = link(prev, n.id, n.originator_id, n.originator_version, n.topic, n.state)
    assert (await head(store)) == ChainHead(ids[-1], prev.hex())


@pytest.mark.parametrize("which", [0, 11, 29])
async def test_flipping_one_byte_of_one_state_is_found_at_exactly_that_position(store: EventStore, which: int):
    ids = await chained(store, 30)
    target = ids[which]
    state = await store.pool.fetchval(f"SELECT state FROM {store.events} WHERE notification_id = $1", target)
    tampered = bytes([state[0] ^ 0x01]) + state[1:] if state else b"\x00"
    await store.pool.execute(f"UPDATE {store.events} SET state = $1 WHERE notification_id = $2", tampered, target)
    result = await verify(store, page=5)
    assert not result.ok
    assert result.first_broken_position == target
    assert result.checked == which
    assert "altered" in (result.reason or "")


async def test_an_altered_topic_is_found(store: EventStore):
    ids = await chained(store, 10)
    await store.pool.execute(f"UPDATE {store.events} SET topic = topic || 'x' WHERE notification_id = $1", ids[4])
    assert (await verify(store)).first_broken_position == ids[4]


async def test_a_deleted_event_is_found_at_its_position(store: EventStore):
    ids = await chained(store, 10)
    await store.pool.execute(f"DELETE FROM {store.events} WHERE notification_id = $1", ids[6])
    result = await verify(store)
    assert not result.ok and result.first_broken_position == ids[6]
    assert "deleted" in (result.reason or "")


async def test_an_event_deleted_with_its_link_breaks_the_next_link(store: EventStore):
    ids = await chained(store, 10)
    for table in (store.events, store.names.q("event_chain")):
        await store.pool.execute(f"DELETE FROM {table} WHERE notification_id = $1", ids[3])
    assert (await verify(store)).first_broken_position == ids[4]


async def test_swapping_two_events_positions_is_found_at_the_first(store: EventStore):
    ids = await chained(store, 10)
    a, b = ids[2], ids[7]
    for old, new in ((a, -1), (b, a), (-1, b)):
        await store.pool.execute(f"UPDATE {store.events} SET notification_id = $2 WHERE notification_id = $1", old, new)
    assert (await verify(store)).first_broken_position == a


async def test_events_not_yet_chained_are_an_unchained_tail_not_an_error(store: EventStore):
    await chained(store, 10)
    await log_of(store, 4, seed=2)
    result = await verify(store)
    assert result.ok and result.checked == 10 and result.unchained == 4


async def test_an_event_slipped_in_between_chained_ones_is_found(store: EventStore):
    ids = await chained(store, 10)
    await store.pool.execute(f"DELETE FROM {store.names.q('event_chain')} WHERE notification_id = $1", ids[5])
    result = await verify(store)
    assert result.first_broken_position == ids[5] and "inserted" in (result.reason or "")


async def test_a_rewritten_chain_passes_alone_but_fails_against_the_anchor_kept_off_site(store: EventStore):
    ids = await chained(store, 10)
    anchor = ChainHead.parse(str(await head(store)))  # what the auditor wrote down
    await store.pool.execute(f"UPDATE {store.events} SET state = 'forged' WHERE notification_id = $1", ids[2])
    await store.pool.execute(f"TRUNCATE {store.names.q('event_chain')}")
    await store.pool.execute(f"DELETE FROM {store.tracking} WHERE application_name = 'event_chain'")
    await ProjectionRunner(store, [HashChainer(store)]).catch_up()  # the forger re-chains
    assert (await verify(store)).ok
    result = await verify(store, anchor=anchor)
    assert not result.ok and result.first_broken_position == ids[-1]
    assert "anchor" in (result.reason or "")


async def test_a_truncated_log_and_chain_fail_against_the_anchor(store: EventStore):
    ids = await chained(store, 10)
    anchor = await head(store)
    for table in (store.events, store.names.q("event_chain")):
        await store.pool.execute(f"DELETE FROM {table} WHERE notification_id >= $1", ids[8])
    assert (await verify(store)).ok
    result = await verify(store, anchor=anchor)
    assert not result.ok and "truncated" in (result.reason or "")


async def test_ids_skipped_by_rolled_back_inserts_are_not_tampering(store: EventStore):
    await log_of(store, 3)
    with pytest.raises(ConcurrencyConflict):
        taken = (await store.select_notifications(None, 1))[0]
        await store.insert_events([StoredEvent(uuid4(), 1, "t", b""), taken])
    await log_of(store, 3, seed=9)
    await ProjectionRunner(store, [HashChainer(store)]).catch_up()
    ids = [n.id for n in await store.select_notifications(None, 100)]
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # there is a gap
    assert (await verify(store)).ok


_fields = st.tuples(
    st.integers(1, 2**62), st.uuids(), st.integers(1, 2**62), st.text(max_size=8), st.binary(max_size=8)
)


@given(_fields, _fields)
def test_distinct_events_have_distinct_links(a, b):
    """Length prefixes: no two different events share an encoding (e.g. topic/state boundary)."""
    if a != b:
        assert link(GENESIS, *a) != link(GENESIS, *b)


def test_moving_bytes_between_topic_and_state_changes_the_link():
    u = uuid4()
    assert link(GENESIS, 1, u, 1, "ab", b"c") != link(GENESIS, 1, u, 1, "a", b"bc")


@given(_fields, st.binary(min_size=32, max_size=32))
def test_a_link_is_the_hash_of_the_previous_link_and_the_link_body(fields, prev):
    assert link(prev, *fields) == hashlib.sha256(prev + link_body(*fields)).digest()
    assert chain_links(prev, [(fields[0], link_body(*fields))]) == ([fields[0]], [link(prev, *fields)])


TRICKY = [  # (topic, state): empty state, non-ASCII topic and state, NUL bytes, a state past TOAST's 2 kB
    ("t:Empty", b""),
    ("域名.订单:Order.已支付", "金额 ¥1,990 — café".encode()),
    ("t:Nul", b"\x00\xff\x00"),
    ("", b"x"),
    ("t:Large", bytes(range(256)) * 40),
]


async def test_postgresql_computes_the_same_link_bodies_byte_for_byte(store: EventStore):
    """The bulk rebuild reads each event's link body computed by SQL (LINK_BODY_SQL): it equals link_body()."""
    a, b = uuid4(), UUID(int=2**128 - 1)
    events = [StoredEvent(a, v, topic, state) for v, (topic, state) in enumerate(TRICKY, start=1)]
    events.append(StoredEvent(b, 2**62, "t:Max", b"{}"))
    ids = await store.insert_events(events)
    rows = await store.pool.fetch(
        f"SELECT notification_id, {LINK_BODY_SQL} AS body FROM {store.events} ORDER BY notification_id"
    )
    assert [r[0] for r in rows] == ids
    for row, e, originator in zip(rows, events, [a] * len(TRICKY) + [b], strict=True):
        assert row["body"] == link_body(row[0], originator, e.originator_version, e.topic, e.state), e.topic


async def test_a_bulk_rebuilt_chain_over_tricky_events_equals_the_live_chain_and_verifies(store: EventStore):
    await store.insert_events([StoredEvent(uuid4(), 1, topic, state) for topic, state in TRICKY])
    await log_of(store, 25, seed=3)
    await ProjectionRunner(store, [HashChainer(store)], batch_size=4).catch_up()  # the live path, in Python
    live = await store.pool.fetch(f"SELECT * FROM {store.names.q(CHAIN_TABLE)} ORDER BY notification_id")
    stats = await rebuild(store, HashChainer(store), None, batch_size=6, out=None)
    assert stats.bulk == stats.events == len(TRICKY) + 25
    assert await store.pool.fetch(f"SELECT * FROM {store.names.q(CHAIN_TABLE)} ORDER BY notification_id") == live
    assert (await verify(store)).ok
