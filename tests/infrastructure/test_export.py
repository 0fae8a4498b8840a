"""Streaming exports: JSON Lines of the event log round-trip, CSV for any rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper, StoredEvent

from domain.aggregate import DecoratedEvent
from infrastructure.event_store import EventStore
from infrastructure.export import dumps, export_csv, export_events_jsonl, write_stream
from infrastructure.projection_runner import stock_mapper
from tests.conftest import NAMES


class Account(Aggregate):
    if TYPE_CHECKING:  # made by eventsourcing from the @event methods below
        Paid: ClassVar[DecoratedEvent]

    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner

    @event("Paid")
    def pay(self, order_id: UUID, amount: Decimal, due: datetime, tags: tuple[str, ...]) -> None:
        pass


@pytest.fixture
def mapper() -> Mapper:
    return stock_mapper()


async def save(store: EventStore, mapper: Mapper, *aggregates: Aggregate) -> list[Any]:
    events = [e for a in aggregates for e in a.collect_events()]
    await store.insert_events([mapper.to_stored_event(e) for e in events])
    return events


async def some_events(store: EventStore, mapper: Mapper, n_accounts: int = 4) -> list[Any]:
    events = []
    for i in range(n_accounts):
        account = Account(owner=f'会员{i}, "quoted"\nline')
        for k in range(i + 1):
            account.pay(uuid4(), Decimal(f"{k}.10"), datetime(2025, 1, k + 1, 8, tzinfo=UTC), ("a", f"b{k}"))
        events += await save(store, mapper, account)
    return events


async def collect(chunks) -> bytes:
    return b"".join([c async for c in chunks])


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


async def test_the_exported_log_parses_back_to_the_stored_events(store: EventStore, mapper: Mapper):
    events = await some_events(store, mapper)
    stored = await store.select_notifications(None, 1000)
    exported = lines(await collect(export_events_jsonl(store, mapper, page=3)))
    assert len(exported) == len(stored) == len(events)
    for line, n, e in zip(exported, stored, events, strict=True):
        assert line["notification_id"] == n.id
        assert UUID(line["originator_id"]) == n.originator_id == e.originator_id
        assert line["originator_version"] == n.originator_version
        assert line["topic"] == n.topic
        assert datetime.fromisoformat(line["timestamp"]) == e.timestamp
        state = line["state"]
        if isinstance(e, Account.Paid):
            assert UUID(state["order_id"]) == e.order_id
            assert Decimal(state["amount"]) == e.amount
            assert datetime.fromisoformat(state["due"]) == e.due
            assert tuple(state["tags"]) == e.tags
        else:
            assert state["owner"] == e.owner
        assert not {"originator_id", "originator_version", "timestamp"} & set(state)


async def test_a_notification_id_range_is_inclusive_at_both_ends(store: EventStore, mapper: Mapper):
    await some_events(store, mapper)
    ids = [n.id for n in await store.select_notifications(None, 1000)]
    got = lines(await collect(export_events_jsonl(store, mapper, ids[2], ids[6], page=2)))
    assert [line["notification_id"] for line in got] == ids[2:7]


async def test_a_time_range_keeps_events_from_since_until_before_until(store: EventStore, mapper: Mapper):
    events = await some_events(store, mapper)
    since, until = events[3].timestamp, events[8].timestamp
    got = lines(await collect(export_events_jsonl(store, mapper, since=since, until=until)))
    expected = [e for e in events if since <= e.timestamp < until]
    assert [datetime.fromisoformat(line["timestamp"]) for line in got] == [e.timestamp for e in expected]
    assert len(got) == 5


async def test_an_undecodable_event_is_exported_raw_not_dropped(store: EventStore, mapper: Mapper):
    await store.insert_events([StoredEvent(uuid4(), 1, "nowhere:Gone", b"\x00not json")])
    await some_events(store, mapper, 1)
    got = lines(await collect(export_events_jsonl(store, mapper, since=datetime(2000, 1, 1, tzinfo=UTC))))
    assert len(got) == 3
    assert got[0]["state"] is None and got[0]["timestamp"] is None and "error" in got[0]
    assert got[0]["state_base64"] == "AG5vdCBqc29u"


async def test_the_export_streams_page_by_page(store: EventStore, mapper: Mapper):
    await some_events(store, mapper)  # 14 events
    chunks = [c async for c in export_events_jsonl(store, mapper, page=4)]
    assert [c.count(b"\n") for c in chunks] == [4, 4, 4, 2]


class Colour(str, Enum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lng: float


def test_values_become_plain_json():
    value = {
        "id": UUID(int=1),
        "at": datetime(2025, 1, 2, tzinfo=UTC),
        "fen": Decimal("1.50"),
        "colour": Colour.RED,
        "where": Point(31.2, 121.5),
        "tags": frozenset({"b", "a"}),
        "raw": b"\x01",
        "pair": (1, 2),
        UUID(int=2): "key",
    }
    assert orjson.loads(dumps(value)) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "at": "2025-01-02T00:00:00+00:00",
        "fen": "1.50",
        "colour": "red",
        "where": {"lat": 31.2, "lng": 121.5},
        "tags": ["a", "b"],
        "raw": "AQ==",
        "pair": [1, 2],
        "00000000-0000-0000-0000-000000000002": "key",
    }


async def rows_of(*rows):
    for row in rows:
        yield row


async def test_csv_rows_parse_back_with_the_header_first():
    rows = [
        {"store": "云店 A, 上海", "fen": 1999, "at": datetime(2025, 1, 1, tzinfo=UTC), "note": 'say "hi"\nbye'},
        {"store": "B", "fen": -5, "at": None, "note": None, "extra": "ignored"},
    ]
    data = await collect(export_csv(rows_of(*rows), chunk_rows=1))
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed == [
        ["store", "fen", "at", "note"],
        ["云店 A, 上海", "1999", "2025-01-01T00:00:00+00:00", 'say "hi"\nbye'],
        ["B", "-5", "", ""],
    ]
    assert data.endswith(b"\r\n")


async def test_csv_escapes_formulas_and_can_start_with_a_bom_for_excel():
    data = await collect(export_csv(rows_of({"name": '=HYPERLINK("x")', "ok": True}), bom=True))
    assert data.startswith("\ufeff".encode())
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1] == ['\'=HYPERLINK("x")', "true"]
    raw = await collect(export_csv(rows_of({"name": "=1+1"}), escape_formulas=False))
    assert raw == b"name\r\n=1+1\r\n"


async def test_csv_with_given_columns_and_no_rows_is_just_the_header():
    assert await collect(export_csv(rows_of(), columns=["a", "b"])) == b"a,b\r\n"
    assert await collect(export_csv(rows_of())) == b""


async def test_a_stream_is_written_to_a_file_object(store: EventStore, mapper: Mapper):
    await some_events(store, mapper, 2)
    sink = io.BytesIO()
    written = await write_stream(export_events_jsonl(store, mapper), sink)
    assert written == len(sink.getvalue()) and len(lines(sink.getvalue())) == 5


def test_the_export_command_streams_events_as_json_lines(fresh_dsn: str, tmp_path) -> None:
    async def seed() -> None:
        store = await EventStore.open(fresh_dsn, NAMES)
        try:
            await store.insert_events([StoredEvent(uuid4(), v, "tests:Unknown", b"{}") for v in (1, 2, 3)])
        finally:
            await store.close()

    asyncio.run(seed())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-m", "infrastructure.export", "--after", "1"],
        cwd=root,
        capture_output=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": fresh_dsn, "LOYALTY_DATA_DIR": str(tmp_path)},
        check=True,
    ).stdout
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [line["notification_id"] for line in lines] == [2, 3]
    assert all(line["topic"] == "tests:Unknown" for line in lines)
