"""Data keys: KEK rotation re-wraps them without touching events; a wrong or missing key stops the start."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

import server
from domain.member import Member
from infrastructure.config import load_settings
from infrastructure.mapper import build_mapper
from infrastructure.privacy import (
    KeyConfig,
    KeyConfigurationError,
    Keyring,
    Policy,
    PrivateEventStore,
    key_config,
    rotate,
)
from tests.conftest import NAMES

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


BLIND = b64()
TOKEN = "tok-0123456789abcdef=operator@acme"


def keys(kek: str, blind: str = BLIND) -> KeyConfig:
    return key_config({"LOYALTY_KEK": kek, "LOYALTY_BLIND_INDEX_KEY": blind})


async def save_member(store, config: KeyConfig) -> tuple[Member, bytes]:
    keyring = await Keyring.open(store.pool, NAMES, config)
    mapper = build_mapper({}, keyring=keyring)
    member = Member.register("acme", "oRotate1", AT, phone="13700001111")
    stored = [mapper.to_stored_event(e) for e in member.collect_events()]
    await PrivateEventStore(store, keyring, mapper).commit([server_write(stored, member)])
    return member, stored[0].state


def server_write(stored, member):
    from application.ports import Write

    return Write(events=stored, expected={member.id: 0})


async def read_member(store, config: KeyConfig, member_id) -> Member:
    keyring = await Keyring.open(store.pool, NAMES, config)
    mapper = build_mapper({}, keyring=keyring)
    private = PrivateEventStore(store, keyring, mapper)
    aggregate = None
    for s in await private.select_events(member_id):
        event: Any = mapper.to_domain_event(s)
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Member)
    return aggregate


async def test_rotating_the_kek_rewraps_data_keys_and_leaves_events_alone(store):
    old_kek, new_kek = f"k1:{b64()}", f"k2:{b64()}"
    member, state = await save_member(store, keys(old_kek))
    assert b"13700001111" not in state

    with pytest.raises(KeyConfigurationError):  # the new key alone cannot open what the old one wrapped
        await Keyring.open(store.pool, NAMES, keys(new_kek))
    both = keys(f"{new_kek},{old_kek}")  # new current, old still unwraps
    assert await rotate(store.pool, NAMES, both.provider) == 1
    assert await rotate(store.pool, NAMES, both.provider) == 0  # nothing left to re-wrap

    read = await read_member(store, keys(new_kek), member.id)  # the old KEK is gone from configuration
    assert (read.openid, read.phone) == ("oRotate1", "13700001111")
    stored = await store.select_events(member.id)
    assert stored[0].state == state  # the event's bytes did not change
    conn = await asyncpg.connect(store.dsn)
    try:
        assert {r[0] for r in await conn.fetch("SELECT kek_id FROM data_keys")} == {"k2"}
    finally:
        await conn.close()


async def test_a_wrong_kek_or_blind_index_key_is_refused(store):
    config = keys(f"k1:{b64()}")
    await save_member(store, config)
    with pytest.raises(KeyConfigurationError, match=r"wrong key|not configured"):
        await Keyring.open(store.pool, NAMES, keys(f"k1:{b64()}"))  # same id, other bytes
    with pytest.raises(KeyConfigurationError, match="not configured"):
        await Keyring.open(store.pool, NAMES, keys(f"k9:{b64()}"))
    with pytest.raises(KeyConfigurationError, match="BLIND_INDEX"):
        await Keyring.open(store.pool, NAMES, KeyConfig(config.provider, os.urandom(32)))
    await Keyring.open(store.pool, NAMES, config)  # the right keys open it


@pytest.mark.parametrize(
    "env",
    [
        {"LOYALTY_BLIND_INDEX_KEY": BLIND},  # the KEK missing
        {"LOYALTY_KEK": "k1:not-base64!"},
        {"LOYALTY_KEK": f"k1:{base64.b64encode(b'short').decode()}", "LOYALTY_BLIND_INDEX_KEY": BLIND},
    ],
)
def test_missing_or_malformed_keys_are_refused(env):
    with pytest.raises(KeyConfigurationError):
        key_config(env)


async def test_the_server_does_not_start_with_the_wrong_key(fresh_dsn, tmp_path: Path):
    settings = load_settings(
        {
            "DATABASE_URL": fresh_dsn,
            "GRPC_ADDRESS": "127.0.0.1:0",
            "LOYALTY_DATA_DIR": str(tmp_path),
            "SCHEDULER_INTERVAL": "0",
        }
    )
    good = {"LOYALTY_KEK": f"k1:{b64()}", "LOYALTY_BLIND_INDEX_KEY": BLIND}
    running = await server.start(settings, tokens=TOKEN, env=good, background=False)
    await running.stop(grace=0)
    with pytest.raises(KeyConfigurationError):
        await server.start(settings, tokens=TOKEN, env={**good, "LOYALTY_KEK": f"k1:{b64()}"}, background=False)
    with pytest.raises(KeyConfigurationError):  # no keys configured: development keys, which are not these
        await server.start(settings, tokens=TOKEN, env={}, background=False)
    running = await server.start(settings, tokens=TOKEN, env=good, background=False)
    await running.stop(grace=0)


async def test_the_request_log_is_purged_after_its_retention_period(store):
    from infrastructure.privacy import purge_request_log

    await store.pool.execute(
        "INSERT INTO request_log (request_id, method, payload_hash, response, recorded_at) VALUES "
        "('old', 'M', '\\x00', '\\x01', now() - interval '40 days'), ('new', 'M', '\\x00', '\\x01', now())"
    )
    assert await purge_request_log(store.pool, NAMES, 30) == 1
    assert [r[0] for r in await store.pool.fetch("SELECT request_id FROM request_log")] == ["new"]


def test_nothing_personal_is_written_for_a_subject_already_erased():
    """An aggregate decoded before an erasure (a snapshot taken later) must not write its plaintext back."""
    from eventsourcing.domain import Snapshot

    keyring = Keyring(None, NAMES, keys(f"k1:{b64()}").provider)
    mapper = build_mapper({}, keyring=keyring)
    member = Member.register("acme", "oErased1", AT, phone="13700002222")
    keyring.mark_erased(member.id)
    stored = mapper.to_stored_event(Snapshot.take(member))
    assert b"oErased1" not in stored.state and b"13700002222" not in stored.state
    copy = mapper.to_domain_event(stored).mutate(None)
    assert (copy.openid, copy.phone) == (None, None)


def test_every_event_and_snapshot_round_trips_sealed_with_exact_field_types():
    from eventsourcing.domain import Snapshot

    from tests.infrastructure.test_event_round_trip import difference, fields_of, workload_events
    from tests.infrastructure.test_snapshots import WORKLOADS

    keyring = Keyring(None, NAMES, keys(f"k1:{b64()}").provider)
    mapper = build_mapper({}, keyring=keyring)
    sealed = 0
    for event in workload_events():
        stored = mapper.to_stored_event(event)
        sealed += b'"_type_":"pii"' in stored.state
        copy = mapper.to_domain_event(stored)
        assert difference(fields_of(copy), fields_of(event), type(event).__qualname__) is None
    assert sealed >= 5  # registrations, profile updates, hires, claims, placed orders
    for workload in WORKLOADS.values():
        for aggregate in workload():
            stored = mapper.to_stored_event(Snapshot.take(aggregate))
            copy = mapper.to_domain_event(stored).mutate(None)
            for name in ("openid", "phone", "nickname", "birthday", "customer_location", "wecom_userid", "name"):
                if hasattr(aggregate, name) and type(aggregate).__name__ != "IdentityIndex":
                    assert getattr(copy, name) == getattr(aggregate, name), name


def test_an_index_claimed_with_its_value_sealed_by_the_older_code_decodes_without_it():
    """Version 1 of ``IdentityIndex.Claimed`` carried the value sealed under the owner's key (and, sealing off,
    its snapshots the value in clear): both decode to the index without it; a claim now stores no value."""
    from eventsourcing.domain import Snapshot
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.utils import get_topic

    from domain.identity import IdentityIndex, IdentityKind
    from infrastructure.privacy import PersonalDataMapper

    keyring = Keyring(None, NAMES, keys(f"k1:{b64()}").provider)
    mapper = build_mapper({}, keyring=keyring)
    assert isinstance(mapper, PersonalDataMapper)
    owner, index_id = uuid4(), uuid4()
    index = IdentityIndex.claim("acme", IdentityKind.PHONE, "13800138000", owner, AT, index_id=index_id)
    (claimed,) = index.collect_events()
    now = mapper.to_stored_event(claimed)
    assert b"value" not in now.state and b'"_type_":"pii"' not in now.state and b'"class_version":2' in now.state

    state = dict(vars(claimed), value="13800138000")  # what the older code wrote, its value sealed by the policy
    del state["originator_id"], state["originator_version"]
    sealed = mapper._sealed_state(Policy(lambda s, _: s["owner_id"], ("value",)), state, index_id)
    older = StoredEvent(index_id, 1, get_topic(IdentityIndex.Claimed), mapper.transcoder.encode(sealed))
    assert b'"_type_":"pii"' in older.state and b"class_version" not in older.state
    decoded = mapper.to_domain_event(older).mutate(None)
    assert isinstance(decoded, IdentityIndex) and decoded.owner_id == owner and not hasattr(decoded, "value")

    plain = build_mapper({})
    snapshot = Snapshot.take(index)
    snapshot_state = {k: v for k, v in vars(snapshot).items() if k not in ("originator_id", "originator_version")}
    snapshot_state["state"] = {**snapshot.state, "value": "13800138000"}
    del snapshot_state["state"]["class_version"]
    old_snapshot = StoredEvent(index_id, 1, get_topic(Snapshot), plain.transcoder.encode(snapshot_state))
    restored = plain.to_domain_event(old_snapshot).mutate(None)
    assert restored.owner_id == owner and not hasattr(restored, "value")


def test_the_read_models_decode_personal_fields_as_none_and_open_nothing(monkeypatch):
    """Read models keep no personal data: their mapper leaves every sealed field unopened (None) and asks the
    keyring for no key, while every other field decodes as the opening mapper decodes it."""
    from tests.infrastructure.test_event_round_trip import fields_of, workload_events

    keyring = Keyring(None, NAMES, keys(f"k1:{b64()}").provider)
    mapper = build_mapper({}, keyring=keyring)
    unopened = mapper.without_personal_data()
    assert mapper.without_personal_data() is unopened  # made once
    personal = {name for entry in mapper.policies.values() for policy in entry if policy for name in policy.fields}
    stored = [(event, mapper.to_stored_event(event)) for event in workload_events()]

    def no_key(*_: Any) -> None:
        raise AssertionError("a read model's decoding asked for a data key")

    monkeypatch.setattr(keyring, "for_read", no_key)
    sealed = 0
    for event, row in stored:
        copy = fields_of(unopened.to_domain_event(row))
        expected = fields_of(event)
        hidden = {k for k in expected if b'"' + k.encode() + b'":{"_type_":"pii"' in row.state}
        sealed += bool(hidden)
        assert hidden <= personal and all(copy[k] is None for k in hidden), type(event).__qualname__
        assert {k: v for k, v in copy.items() if k not in hidden} == {
            k: v for k, v in expected.items() if k not in hidden
        }, type(event).__qualname__
    assert sealed >= 5  # registrations, profile updates, hires, claims, placed orders
