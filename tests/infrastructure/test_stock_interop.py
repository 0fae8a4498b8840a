"""A stock eventsourcing Application and our engine read each other's events.

Why: an auditor must be able to open our database with stock ``eventsourcing``
(PostgreSQL module, JSONTranscoder) and replay it, and we must be able to read
anything written that way. Both sides share the tables and the wire format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder, Mapper

from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from infrastructure.transcoder import default_transcodings
from tests.conftest import NAMES

AT = datetime(2024, 11, 11, 2, 0, tzinfo=UTC)


class GiftCard(Aggregate):
    """Test aggregate with every awkward type: UUID, aware datetime, Decimal, nested tuples."""

    @event("Issued")
    def __init__(self, holder: UUID, issued_at: datetime, value: Decimal, tags: tuple[str, ...]):
        self.holder = holder
        self.issued_at = issued_at
        self.value = value
        self.tags = tuple(tags)  # stock JSONTranscoder writes tuples as plain arrays
        self.redemptions: tuple[tuple[UUID, datetime, Decimal], ...] = ()

    @event("Redeemed")
    def redeem(self, ref: UUID, at: datetime, amount: Decimal) -> None:
        self.value -= amount
        self.redemptions = (*self.redemptions, (ref, at, amount))


class LoyaltyEngine(Application):
    """Stock application named like ours, so it opens the ``loyaltyengine_*`` tables."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        for transcoding in default_transcodings():  # adds tuples and dates to the stock three
            transcoder.register(transcoding)


def stock_env(dsn: str) -> dict[str, str]:
    """POSTGRES_* settings for our embedded server's DSN (a Unix socket directory as host)."""
    url = urlsplit(dsn)
    query = parse_qs(url.query)
    host = query.get("host", [url.hostname or "127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
    }


def our_mapper(env: dict[str, str] | None = None) -> Mapper[UUID]:
    """Our orjson mapper; the test aggregate needs no domain value types."""
    return build_mapper(env or {}, value_types=())


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def write_with_our_store(dsn: str, events: Sequence[Any], env: dict[str, str] | None = None) -> list[int]:
    store = await EventStore.open(dsn, NAMES)
    try:
        mapper = our_mapper(env)
        return await store.insert_events([mapper.to_stored_event(e) for e in events])
    finally:
        await store.close()


async def read_with_our_store(dsn: str, aggregate_id: UUID, env: dict[str, str] | None = None) -> list[Any]:
    store = await EventStore.open(dsn, NAMES)
    try:
        mapper = our_mapper(env)
        return [mapper.to_domain_event(s) for s in await store.select_events(aggregate_id)]
    finally:
        await store.close()


async def migrate_only(dsn: str) -> None:
    await (await EventStore.open(dsn, NAMES)).close()


@pytest.fixture
def stock_app(fresh_dsn: str) -> Iterator[LoyaltyEngine]:
    run(migrate_only(fresh_dsn))  # our migrations create the tables; the stock app adopts them
    app = LoyaltyEngine(env=stock_env(fresh_dsn))
    yield app
    app.close()


def a_gift_card() -> GiftCard:
    """Issued and redeemed twice; its three events still pending."""
    card = GiftCard(uuid4(), AT, Decimal("199.90"), ("双11", "vip"))
    card.redeem(uuid4(), AT + timedelta(hours=1), Decimal("50.05"))
    card.redeem(uuid4(), AT + timedelta(days=2, microseconds=7), Decimal("0.85"))
    return card


def test_the_stock_app_opens_our_tables_over_the_unix_socket_with_an_empty_password(
    fresh_dsn: str, stock_app: LoyaltyEngine
):
    assert stock_env(fresh_dsn)["POSTGRES_HOST"].startswith("/")
    assert stock_env(fresh_dsn)["POSTGRES_PASSWORD"] == ""
    assert stock_app.recorder.events_table_name == NAMES.events  # type: ignore[attr-defined]
    assert stock_app.recorder.max_notification_id() is None


def test_the_stock_app_reads_events_our_engine_wrote(fresh_dsn: str, stock_app: LoyaltyEngine):
    card = a_gift_card()
    events = card.collect_events()
    run(write_with_our_store(fresh_dsn, events))

    assert list(stock_app.events.get(card.id)) == events
    replayed: GiftCard = stock_app.repository.get(card.id)
    assert replayed == card
    assert replayed.redemptions[0][2] == Decimal("50.05")
    assert type(replayed.tags) is tuple
    notifications = stock_app.notification_log.select(start=1, limit=10)
    assert [n.originator_version for n in notifications] == [1, 2, 3]


def test_our_engine_reads_events_the_stock_app_wrote(fresh_dsn: str, stock_app: LoyaltyEngine):
    card = a_gift_card()
    stock_app.save(card)

    ours = run(read_with_our_store(fresh_dsn, card.id))
    stocks = list(stock_app.events.get(card.id))
    assert ours == stocks
    # Stock JSONTranscoder writes tuples as plain arrays, so tuple attributes come back
    # as lists from either reader; everything else keeps its type.
    assert ours[0].tags == ["双11", "vip"]
    assert [(type(e.timestamp), e.originator_version) for e in ours] == [(datetime, 1), (datetime, 2), (datetime, 3)]
    assert [type(e.amount) for e in ours[1:]] == [Decimal, Decimal]
    rebuilt = None
    for e in ours:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt == card


def test_both_write_to_one_log_and_see_one_sequence_of_notification_ids(fresh_dsn: str, stock_app: LoyaltyEngine):
    first, second, third = a_gift_card(), a_gift_card(), a_gift_card()
    assert run(write_with_our_store(fresh_dsn, first.collect_events())) == [1, 2, 3]
    stock_app.save(second)
    assert run(write_with_our_store(fresh_dsn, third.collect_events())) == [7, 8, 9]

    notifications = stock_app.notification_log.select(start=1, limit=10)
    assert [n.id for n in notifications] == list(range(1, 10))
    assert [n.originator_id for n in notifications[3:6]] == [second.id] * 3


def test_compressed_and_encrypted_events_cross_both_ways_with_the_same_settings(
    fresh_dsn: str,
):
    """Our mapper reads COMPRESSOR_TOPIC / CIPHER_KEY as the stock factory does."""
    run(migrate_only(fresh_dsn))
    secret = {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(num_bytes=32),
    }
    app = LoyaltyEngine(env={**stock_env(fresh_dsn), **secret})
    try:
        ours, theirs = a_gift_card(), a_gift_card()
        our_events = ours.collect_events()
        run(write_with_our_store(fresh_dsn, our_events, secret))
        app.save(theirs)

        assert list(app.events.get(ours.id)) == our_events
        assert run(read_with_our_store(fresh_dsn, theirs.id, secret)) == list(app.events.get(theirs.id))
        raw = app.recorder.select_events(ours.id)
        assert b"vip" not in raw[0].state  # really encrypted at rest
    finally:
        app.close()
