"""The aggregate cache is bounded in estimated bytes as well as in entries."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from application.repository import MEMORY_PER_STORED_BYTE, OVERHEAD_BYTES, Repository
from infrastructure.mapper import build_mapper
from tests.application.fakes import InMemoryStore


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


async def notes(store: InMemoryStore, sizes: list[int]) -> list[Note]:
    writer = Repository(store, build_mapper({}))
    made = [Note("x" * n) for n in sizes]
    await writer.save(*made)
    return made


async def test_the_cache_keeps_its_estimated_bytes_under_the_bound_by_evicting_the_least_recent():
    store = InMemoryStore()
    made = await notes(store, [10_000] * 20)
    repository = Repository(store, build_mapper({}), cache_size=1000, cache_bytes=50_000)
    for note in made:
        await repository.get(note.id, Note)
    entries, size = repository.cache_usage
    assert size <= 50_000 and 2 <= entries < 20
    assert made[-1].id in repository._cache and made[0].id not in repository._cache


async def test_the_cache_keeps_at_most_its_number_of_entries():
    store = InMemoryStore()
    made = await notes(store, [10] * 30)
    repository = Repository(store, build_mapper({}), cache_size=8)
    for note in made:
        await repository.get(note.id, Note)
    assert repository.cache_usage[0] == 8


async def test_the_byte_bound_is_on_memory_which_is_more_than_the_stored_size():
    store = InMemoryStore()
    made = await notes(store, [10_000] * 10)
    stored = OVERHEAD_BYTES + len((await store.select_events(made[0].id))[0].state)
    bound = 4 * stored + 100  # four notes' stored bytes, but fewer notes' objects in memory
    repository = Repository(store, build_mapper({}), cache_size=1000, cache_bytes=bound)
    for note in made:
        await repository.get(note.id, Note)
    entries, size = repository.cache_usage
    assert entries == int(bound / (stored * MEMORY_PER_STORED_BYTE)) < 4 and size <= bound
