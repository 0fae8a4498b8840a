"""The drop-entry index's memory bound: whole drops dropped past it, read again from the log when drawn."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.drops import ENTRY_BYTES, DropEntryIndex
from application.repository import Repository
from domain.drop import Drop, DropEntry, DropPool, EntryTickets, InviteeFacts, commitment_of
from domain.tiers import Tier
from infrastructure.mapper import build_mapper
from tests.application.fakes import InMemoryStore

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
SEED = bytes(range(32))


def a_drop() -> Drop:
    return Drop.create(
        brand="acme",
        name="Sneaker",
        sku="SNK",
        pools=[DropPool(None, 3)],
        registration_opens_at=T0,
        registration_closes_at=T0 + timedelta(hours=1),
        purchase_window_minutes=30,
        per_member_limit=1,
        price_fen=59_900,
        tickets_per_invite=2,
        invite_ticket_cap=4,
        commitment=commitment_of(SEED),
        at=T0 - timedelta(minutes=1),
    )


def entries_of(drop: Drop, first: int, n: int) -> list[DropEntry]:
    at = T0 + timedelta(minutes=1)
    return [DropEntry.register(drop=drop, member_id=UUID(int=first + i), tier=Tier.NEW, at=at) for i in range(n)]


def as_drawn(entries: list[DropEntry]) -> list[EntryTickets]:
    return sorted((e.as_drawn() for e in entries), key=lambda e: e.member_id)


async def test_the_index_keeps_to_its_bound_and_a_dropped_drop_is_read_again_whole():
    store, mapper = InMemoryStore(), build_mapper({})
    repository = Repository(store, mapper)
    old, hot = a_drop(), a_drop()
    old_entries, hot_entries = entries_of(old, 1, 30), entries_of(hot, 1000, 30)
    await repository.save(old, hot, *old_entries)
    index = DropEntryIndex(store, mapper, max_bytes=40 * ENTRY_BYTES)
    await index.catch_up()
    assert index.usage == (30, 30 * ENTRY_BYTES)

    await repository.save(*hot_entries[:20])
    await index.catch_up()  # 50 entries do not fit: the least recently used drop goes, whole
    assert index.usage == (20, 20 * ENTRY_BYTES)
    invitee = hot_entries[20]  # a bonus for an entry of the dropped drop, while it is dropped
    old_entries[0].grant_bonus(old, InviteeFacts(invitee.member_id, old_entries[0].member_id, T0, False), T0)
    await repository.save(old_entries[0], *hot_entries[20:])
    await index.catch_up()
    assert index.usage[1] <= 40 * ENTRY_BYTES

    assert sorted(await index.of(old.id), key=lambda e: e.member_id) == as_drawn(old_entries)  # with the bonus
    assert max(e.tickets for e in await index.of(old.id)) == 3
    assert index.usage[1] <= 40 * ENTRY_BYTES  # read again, kept: the hot drop went in its place
    assert sorted(await index.of(hot.id), key=lambda e: e.member_id) == as_drawn(hot_entries)
    assert index.usage[1] <= 40 * ENTRY_BYTES


async def test_an_entry_takes_no_more_memory_than_the_estimate_the_bound_counts():
    store, mapper = InMemoryStore(), build_mapper({})
    drop = a_drop()
    entries = entries_of(drop, 1, 3000)
    await Repository(store, mapper).save(drop, *entries)
    index = DropEntryIndex(store, mapper)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await index.catch_up()  # entries made from the events, as the server's follower makes them
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert index.usage == (3000, 3000 * ENTRY_BYTES)
    assert used <= 3000 * ENTRY_BYTES, f"{used / 3000:.0f} bytes an entry, above ENTRY_BYTES"
