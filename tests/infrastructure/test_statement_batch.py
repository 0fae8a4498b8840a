"""Read models applied a batch at a time through recorded statements (``infrastructure/statement_batch.py``).

Unit level: whatever the keys and texts, each key's statements run in the order recorded, each exactly once,
in no more round trips than statements. Against PostgreSQL: every read model with a ``batch_key`` leaves its
tables exactly as its ``handle`` one event at a time does, over the seeded random workload, whatever the
batch boundaries.
"""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.cloud_store import CloudStore
from domain.settlement import Month, SettlementPeriod, StatementTotals
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from infrastructure.projections import all_projections
from infrastructure.rebuild import rebuild
from infrastructure.statement_batch import StatementBatch
from tests.infrastructure.test_rebuild_equals_live import contents, live_after_workload
from tests.infrastructure.workload import BRANDS, World


class Recording:
    """A connection that records the rows it runs, in order, and counts round trips."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, tuple[Any, ...]]] = []
        self.trips = 0

    async def execute(self, sql: str, *args: Any) -> None:
        self.trips += 1
        self.ran.append((sql, args))

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.trips += 1
        self.ran.extend((sql, tuple(r)) for r in rows)


statements = st.lists(st.tuples(st.integers(0, 4), st.sampled_from("abcd")), max_size=60)


@given(statements)
@settings(max_examples=300, deadline=None)
async def test_each_keys_statements_run_once_and_in_order(recorded: list[tuple[int, str]]) -> None:
    batch = StatementBatch()
    for i, (key, text) in enumerate(recorded):
        await batch.writer(key).execute(text, key, i)
    assert batch.statements == len(recorded)
    conn = Recording()
    trips = await batch.flush(conn)
    assert trips == conn.trips <= len(recorded)
    assert sorted(args[1] for _, args in conn.ran) == list(range(len(recorded)))  # each once
    for key in {k for k, _ in recorded}:
        assert [args[1] for _, args in conn.ran if args[0] == key] == [
            i for i, (k, _) in enumerate(recorded) if k == key
        ]
    assert all(recorded[args[1]][1] == sql for sql, args in conn.ran)  # each row under its own text
    assert batch.statements == 0 and await batch.flush(Recording()) == 0  # empty after a flush


async def test_many_keys_cost_a_round_trip_per_text_and_a_hot_key_one_per_change_of_text() -> None:
    batch = StatementBatch()
    for member in range(500):  # 500 members earning once: lot, lot move, totals, statement line
        for text in ("lot", "move", "totals", "line"):
            await batch.writer(member).execute(text, member)
    for _ in range(500):  # 500 bookings of one store: one upsert each
        await batch.writer("hot").execute("upsert")
    await batch.writer("hot").executemany("refund", [(1,), (2,)])  # a new text after them: round one, behind
    await batch.writer("hot").execute("upsert")  # a text that runs earlier in round one: the next round
    conn = Recording()
    assert await batch.flush(conn) == 7  # round one: lot, move, totals, line, upsert, refund; round two: upsert
    assert len(conn.ran) == 2503


PER_TEXT = {"dealer_ledger": 2, "due_settlements": 2, "member_orders": 1}  # stores' brand rows, then bookings


class OneByOne:
    """A read model as the runner sees it without its batch paths: ``handle`` per event."""

    def __init__(self, projection: Any) -> None:
        self.projection, self.name, self.topics = projection, projection.name, projection.topics

    async def setup(self, conn: Any) -> None:
        await self.projection.setup(conn)

    async def reset(self, conn: Any) -> None:
        await self.projection.reset(conn)

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        await self.projection.handle(conn, event, notification_id)


class Batched(OneByOne):
    """...and with its batch path (not a rebuild's bulk path, which has its own tests)."""

    def __init__(self, projection: Any) -> None:
        super().__init__(projection)
        for path in ("batch_key", "handle_many"):
            if hasattr(projection, path):
                setattr(self, path, getattr(projection, path))


async def test_batched_read_models_write_what_one_event_at_a_time_writes(store: EventStore, monkeypatch) -> None:
    live = await live_after_workload(store)  # the live runner (batches of 23) takes the batched path
    flushes: list[tuple[int, int]] = []
    flush = StatementBatch.flush

    async def counted(self: StatementBatch, conn: Any) -> int:
        recorded = self.statements
        trips = await flush(self, conn)
        flushes.append((recorded, trips))
        return trips

    monkeypatch.setattr(StatementBatch, "flush", counted)
    batched = [p for p in all_projections(store) if hasattr(p, "batch_key") or p.name == "settlement_lines"]
    assert {p.name for p in batched} >= {"member_points", "member_orders", "due_settlements", "dealer_ledger"}
    for projection in batched:
        await rebuild(store, OneByOne(projection), build_mapper({}), batch_size=50, out=None)
        one_by_one = await contents(store, projection.name)
        assert one_by_one == live[projection.name][0], projection.name
        for batch_size in (1, 7, 100_000):
            flushes.clear()
            await rebuild(store, Batched(projection), build_mapper({}), batch_size=batch_size, out=None)
            assert await contents(store, projection.name) == one_by_one, (projection.name, batch_size)
            assert flushes, projection.name
            if batch_size == 100_000:  # the whole log in one batch: fewer round trips than statements
                (recorded, trips), *_ = flushes
                assert trips < recorded, (projection.name, recorded, trips)
                if projection.name in PER_TEXT:  # keyed by order or store, a statement or two each
                    assert trips <= PER_TEXT[projection.name] < recorded / 10, (projection.name, recorded, trips)


async def test_a_close_inside_a_batch_moves_on_the_lines_after_it_as_one_event_at_a_time_does(
    store: EventStore,
) -> None:
    """Closes name a log position in the middle of their month's lines (as one decided while bookings
    committed): the lines after it move on as late lines, and bookings after the close land in the next month.
    In one batch the close comes between recorded lines of other orders."""
    world = await World.build(store, seed=5)
    await world.run(steps=40, checkpoints=0)
    mapper = build_mapper({})
    november = [
        n.id
        for n in await store.select_notifications(None, 100_000, topics=[get_topic(CloudStore.OrderAttributed)])
        if Month.of(cast(Any, mapper.to_domain_event(n)).at) == Month(2026, 11)
    ]
    middle = november[len(november) // 2]  # the close saw half of November's bookings
    for brand in BRANDS:
        for dealer in ("D1", "D2"):
            await world.repository.save(
                SettlementPeriod.close(
                    brand=brand,
                    dealer_id=dealer,
                    month=Month(2026, 11),
                    totals=StatementTotals(),
                    through_position=middle,
                    at=world.clock.now(),
                )
            )
    await world.run(steps=40, checkpoints=0)
    (projection,) = [p for p in all_projections(store) if p.name == "settlement_lines"]
    await rebuild(store, OneByOne(projection), build_mapper({}), batch_size=50, out=None)
    one_by_one = await contents(store, projection.name)
    kinds = {row[7] for row in one_by_one["settlement_lines"]}
    assert {"LATE_ORDER", "ORDER"} <= kinds and len(one_by_one["settlement_closes"]) == 4, kinds  # moved on
    for batch_size in (1, 7, 100_000):
        await rebuild(store, Batched(projection), build_mapper({}), batch_size=batch_size, out=None)
        assert await contents(store, projection.name) == one_by_one, batch_size
