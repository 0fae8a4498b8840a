"""build_mapper: events survive storage, compressed or encrypted, and stock eventsourcing reads them."""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import Environment, get_topic
from hypothesis import strategies as st

from domain.attribution import AttributionPolicy, AttributionSource, EntryContext, EntryKind
from domain.geo import CoordSystem, Location
from domain.order import OrderLine
from domain.programme import ExpiryPolicy, LoyaltyProgramme
from domain.settlement import Month
from domain.store_values import DayHours, OpeningHours, StoreStatus
from infrastructure import mapper as mapper_module
from infrastructure.config import APPLICATION_NAME
from infrastructure.mapper import build_mapper, build_transcoder, domain_value_types, register_domain_types
from infrastructure.transcoder import OrjsonTranscoder, default_transcodings, register_value_types
from tests.infrastructure.test_transcoder import (
    VALUE_TYPES,
    Colour,
    Point,
    Rank,
    Zone,
    a_zone,
    strictly_equal,
)

AT = datetime(2024, 6, 18, 20, 0, tzinfo=UTC)
ZLIB = "eventsourcing.compressor:ZlibCompressor"
KEY = AESCipher.create_key(16)


class Outlet(Aggregate):
    """A test aggregate whose events carry every kind of value the transcoder handles."""

    @event("Opened")
    def __init__(self, name: str, zone: Zone, at: datetime) -> None:
        self.name = name
        self.zone = zone

    @event("Ranked")
    def rank(self, rank: Rank, colours: tuple[Colour, ...], since: date) -> None:
        self.rank_ = rank


def outlet_events() -> list[Any]:
    outlet = Outlet("徐汇云店", a_zone(), AT)
    outlet.rank(Rank.HIGH, (Colour.RED, Colour.BLUE), date(2024, 6, 18))
    return list(outlet.collect_events())


def state_of(domain_event: Any) -> dict[str, Any]:
    return dict(vars(domain_event))


def mapper(env: dict[str, str]) -> Any:
    return build_mapper(env, value_types=VALUE_TYPES)


def stock_mapper(env: dict[str, str]) -> Any:
    """What a stock Application named like ours builds from the same environment."""
    transcoder = JSONTranscoder()
    for transcoding in default_transcodings():
        transcoder.register(transcoding)
    register_value_types(transcoder, VALUE_TYPES)
    return POPOFactory(Environment(APPLICATION_NAME, env)).mapper(transcoder=transcoder)


CONFIGURATIONS = {
    "plain": {},
    "compressed": {"COMPRESSOR_TOPIC": ZLIB},
    "encrypted": {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": KEY},
    "compressed and encrypted": {"COMPRESSOR_TOPIC": ZLIB, "CIPHER_KEY": KEY},
}


@pytest.mark.parametrize("env", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def test_domain_events_round_trip_with_exact_types(env: dict[str, str]) -> None:
    m = mapper(env)
    for domain_event in outlet_events():
        copy = m.to_domain_event(m.to_stored_event(domain_event))
        assert type(copy) is type(domain_event)
        assert strictly_equal(state_of(copy), state_of(domain_event))


def test_without_configuration_state_is_readable_json() -> None:
    stored = mapper({}).to_stored_event(outlet_events()[0])
    assert stored.state.startswith(b"{") and "徐汇云店".encode() in stored.state


def test_a_compressor_shrinks_the_stored_state() -> None:
    domain_event = outlet_events()[0]
    plain = mapper({}).to_stored_event(domain_event).state
    compressed = mapper({"COMPRESSOR_TOPIC": ZLIB}).to_stored_event(domain_event).state
    assert len(compressed) < len(plain)


def test_a_cipher_hides_the_stored_state() -> None:
    stored = mapper({"CIPHER_KEY": KEY}).to_stored_event(outlet_events()[0])
    assert "徐汇云店".encode() not in stored.state
    assert b"_type_" not in stored.state


def test_a_cipher_key_alone_implies_aes_as_in_eventsourcing() -> None:
    assert isinstance(mapper({"CIPHER_KEY": KEY}).cipher, AESCipher)
    assert mapper({}).cipher is None and mapper({}).compressor is None


def test_the_application_prefixed_variable_wins_as_in_eventsourcing() -> None:
    other_key = AESCipher.create_key(16)
    env = {"CIPHER_KEY": other_key, f"{APPLICATION_NAME.upper()}_CIPHER_KEY": KEY}
    stored = mapper(env).to_stored_event(outlet_events()[0])
    assert mapper({"CIPHER_KEY": KEY}).to_domain_event(stored)


def test_a_wrong_cipher_key_fails_clearly() -> None:
    stored = mapper({"CIPHER_KEY": KEY}).to_stored_event(outlet_events()[0])
    wrong = mapper({"CIPHER_KEY": AESCipher.create_key(16)})
    with pytest.raises(MapperDeserialisationError, match="Cipher text is damaged"):
        wrong.to_domain_event(stored)


def test_a_cipher_topic_without_a_key_fails_at_construction() -> None:
    with pytest.raises(OSError, match="CIPHER_KEY"):
        mapper({"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher"})


def test_encrypted_state_read_without_the_cipher_fails_clearly() -> None:
    stored = mapper({"CIPHER_KEY": KEY}).to_stored_event(outlet_events()[0])
    with pytest.raises(MapperDeserialisationError, match="Failed to deserialise"):
        mapper({}).to_domain_event(stored)


@pytest.mark.parametrize("env", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def test_stock_eventsourcing_reads_our_stored_events(env: dict[str, str]) -> None:
    for domain_event in outlet_events():
        stored = mapper(env).to_stored_event(domain_event)
        copy = stock_mapper(env).to_domain_event(stored)
        assert strictly_equal(state_of(copy), state_of(domain_event))


@pytest.mark.parametrize("env", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def test_we_read_stock_eventsourcing_stored_events(env: dict[str, str]) -> None:
    opened = outlet_events()[0]
    stored = stock_mapper(env).to_stored_event(opened)
    copy = mapper(env).to_domain_event(stored)
    # The stock encoder writes tuples as lists; everything else keeps its type.
    assert copy.zone.corners == list(opened.zone.corners)
    assert type(copy.zone.centre) is Point and type(copy.timestamp) is datetime
    assert copy.originator_id == opened.originator_id


def test_stored_events_keep_the_stock_topic_and_ids() -> None:
    opened = outlet_events()[0]
    stored = mapper({}).to_stored_event(opened)
    assert stored == StoredEvent(
        originator_id=opened.originator_id,
        originator_version=1,
        topic=get_topic(type(opened)),
        state=stored.state,
    )


def test_every_domain_module_exports_its_value_types() -> None:
    types = domain_value_types()
    for module_name in mapper_module.DOMAIN_MODULES:
        module = importlib.import_module(module_name)
        assert set(module.VALUE_TYPES) <= set(types), module_name


def test_a_domain_module_without_value_types_is_an_error(monkeypatch: Any) -> None:
    monkeypatch.setattr(mapper_module, "DOMAIN_MODULES", ("tests.infrastructure.no_such_module",))
    with pytest.raises(ModuleNotFoundError):
        domain_value_types()


def test_domain_value_types_raises_a_broken_import_inside_a_module(monkeypatch: Any, tmp_path: Path) -> None:
    (tmp_path / "broken_domain_module.py").write_text("import no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(mapper_module, "DOMAIN_MODULES", ("broken_domain_module",))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        domain_value_types()


# Every value type the domain exports must survive storage with exact types.

_FLOATS = st.floats(-180, 180, allow_nan=False)
# Small ints first (domain rules bound most), up to orjson's range (PostgreSQL's bigint).
_INTS = st.integers(0, 10) | st.integers(0, 3000) | st.integers(-(2**63), 2**63 - 1)
_DATETIMES = st.datetimes(timezones=st.just(UTC))
# Text as the domain takes it (check_text: no control characters but tab and newlines), often non-empty.
_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\n"), min_size=1, max_size=12)


def _programmes() -> st.SearchStrategy[Any]:
    """A programme's fields constrain one another (tiers ascend, expiry after availability...):
    vary the defaults within the rules instead of hoping random fields agree."""
    return st.builds(
        lambda brand, version, per_yuan, pending, policy: dataclasses.replace(
            LoyaltyProgramme.default(brand),
            version=version,
            points_per_yuan=per_yuan,
            pending_days=pending,
            expiry_policy=policy,
        ),
        st.text(alphabet="abcdefghij-", min_size=1, max_size=8),
        st.integers(1, 10**6),
        st.integers(0, 100),
        st.integers(0, 28),
        st.sampled_from(ExpiryPolicy),
    )


def _day_hours() -> st.SearchStrategy[DayHours]:
    """An interval on a weekday; it may run past midnight, never beyond a day long."""
    return st.integers(0, 6).flatmap(
        lambda day: st.integers(0, 1439).flatmap(
            lambda opens: st.integers(opens + 1, opens + 1440).map(lambda closes: DayHours(day, opens, closes))
        )
    )


# Zones as the edge resolves them: the default one may leave its offset to the domain, any other names it.
_ZONES = st.sampled_from(
    [
        ("Asia/Shanghai", None),
        ("Asia/Shanghai", 480),
        ("Asia/Kolkata", 330),
        ("UTC", 0),
        ("America/Panama", -300),
        ("Pacific/Kiritimati", 840),
    ]
)

# Value types whose fields constrain one another, or are narrower than their annotations:
# built within the domain's rules rather than filtered (a type that can only be filtered into
# existence fails the round-trip test below).
SPECIFIC: dict[type[Any], st.SearchStrategy[Any]] = {
    LoyaltyProgramme: _programmes(),
    Month: st.builds(Month, st.integers(2000, 9998), st.integers(1, 12)),
    DayHours: _day_hours(),
    OpeningHours: st.builds(
        lambda days, zone: OpeningHours(tuple(days), *zone), st.lists(_day_hours(), max_size=4), _ZONES
    ),
    Location: st.builds(Location, st.floats(-90, 90), st.floats(-180, 180), st.sampled_from(CoordSystem)),
    EntryContext: st.one_of(
        st.just(EntryContext()),
        st.uuids().map(lambda store: EntryContext(EntryKind.STORE_QR, store_id=store)),
        st.builds(
            lambda store, guide: EntryContext(EntryKind.GUIDE_SHARE, store_id=store, guide_id=guide),
            st.uuids(),
            st.uuids(),
        ),
    ),
    OrderLine: st.builds(OrderLine, _TEXT.filter(str.strip), st.integers(1, 100_000), st.integers(0, 10**12)),
    AttributionPolicy: st.builds(
        AttributionPolicy,
        precedence=st.lists(st.sampled_from(AttributionSource), min_size=1, unique=True).map(tuple),
        fallback_target=_TEXT,
        max_distance_m=st.integers(0, 10**6),
        tie_tolerance_m=st.integers(0, 1000),
        pickup_max_distance_m=st.integers(0, 10_000),
    ),
}


def value_strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a type hint, as the domain's rules allow: aware UTC times, finite floats."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in SPECIFIC:
        return SPECIFIC[hint]
    if hint is datetime:
        return _DATETIMES
    if hint is float:
        return _FLOATS
    if hint is int:
        return _INTS
    if hint is str:
        return st.just("") | _TEXT
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return st.composite(lambda draw: _build(draw, hint))()
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(value_strategy(args[0]), max_size=3).map(tuple)
        return st.tuples(*map(value_strategy, args))
    if origin is dict:
        return st.dictionaries(value_strategy(args[0]), value_strategy(args[1]), max_size=3)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*map(value_strategy, args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    return st.from_type(hint)


def _field_strategy(field: dataclasses.Field[Any], hint: Any) -> st.SearchStrategy[Any]:
    """A field's own default is often the only value its validation accepts: offer it."""
    if field.default is not dataclasses.MISSING:
        return st.just(field.default) | value_strategy(hint)
    if field.default_factory is not dataclasses.MISSING:
        return st.builds(field.default_factory) | value_strategy(hint)
    return value_strategy(hint)


def _build(draw: Any, cls: type[Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: draw(_field_strategy(f, hints[f.name])) for f in dataclasses.fields(cls) if f.init}
    try:
        return cls(**kwargs)
    except Exception:  # the domain's own validation refused this combination
        hypothesis.reject()


def check_round_trip(value_types: tuple[type[Any], ...], value_type: type[Any]) -> None:
    """Fails, never skips, when valid instances of ``value_type`` cannot be built: mostly-rejected
    examples (Hypothesis's filter_too_much health check) or none at all (Unsatisfiable). A type the
    generic builder cannot satisfy gets its own strategy in SPECIFIC."""
    transcoder = build_transcoder(value_types)

    @hypothesis.settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[h for h in hypothesis.HealthCheck if h is not hypothesis.HealthCheck.filter_too_much],
    )
    @hypothesis.given(value_strategy(value_type))
    def round_trips(value: Any) -> None:
        state = {"value": value, "many": (value,)}
        assert strictly_equal(transcoder.decode(transcoder.encode(state)), state)

    try:
        round_trips()
    except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck) as e:
        pytest.fail(
            f"cannot build valid {get_topic(value_type)} instances: give it a strategy in SPECIFIC "
            f"({type(e).__name__}: {str(e).splitlines()[0]})"
        )


def test_the_round_trip_check_fails_on_a_value_type_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unbuildable:
        n: int

        def __post_init__(self) -> None:
            raise ValueError("no value is valid")

    with pytest.raises(pytest.fail.Exception, match=r"cannot build valid .*Unbuildable"):
        check_round_trip((Unbuildable,), Unbuildable)


@pytest.mark.parametrize("value_type", VALUE_TYPES, ids=get_topic)
def test_the_round_trip_check_works_on_sample_value_types(value_type: type[Any]) -> None:
    check_round_trip(VALUE_TYPES, value_type)


def test_the_round_trip_check_catches_a_lossy_value_type() -> None:
    @dataclasses.dataclass(frozen=True)
    class Stamped:
        at: datetime

    class Lossy(type(build_transcoder(()).types[datetime])):  # type: ignore[misc]
        def decode(self, data: str) -> datetime:
            return super().decode(data).replace(tzinfo=None)

    transcoder = build_transcoder((Stamped,))
    transcoder.register(Lossy())
    value = Stamped(AT)
    assert not strictly_equal(transcoder.decode(transcoder.encode(value)), value)


@pytest.mark.parametrize("value_type", domain_value_types(), ids=get_topic)
def test_every_value_type_round_trips(value_type: type[Any]) -> None:
    check_round_trip(domain_value_types(), value_type)


# A routing decision's candidates and steps are written compactly; those written before still decode.


def a_decision() -> Any:
    from dataclasses import replace as copy_with
    from uuid import uuid4

    from tests.domain.test_order import STORE, place, routed

    order = place()
    closed = copy_with(STORE, store_id=uuid4(), status=StoreStatus.CLOSED, online_orders_enabled=False)
    stores = [closed, *(copy_with(STORE, store_id=uuid4(), lat=STORE.lat + 0.001 * i) for i in range(4))]
    decision = routed(order, stores)
    assert decision.candidates[0].rejections or any(c.rejections for c in decision.candidates)
    return decision


def test_a_decision_round_trips_compactly_with_exact_types() -> None:
    decision = a_decision()
    ours = build_transcoder()
    encoded = ours.encode(decision)
    assert b"candidate_list" in encoded and b"step_list" in encoded
    assert b"domain.routing:CandidateReport" not in encoded
    assert strictly_equal(ours.decode(encoded), decision)


def test_a_decision_written_before_the_compact_form_still_decodes() -> None:
    decision = a_decision()
    before = OrjsonTranscoder()  # the dataclass forms only, as events were written before
    register_value_types(before, domain_value_types())
    old = before.encode(decision)
    assert b"domain.routing:CandidateReport" in old and b"candidate_list" not in old
    assert strictly_equal(build_transcoder().decode(old), decision)
    assert len(build_transcoder().encode(decision)) < len(old) / 1.5


def test_a_stock_transcoder_given_the_domain_types_reads_the_compact_form() -> None:
    decision = a_decision()
    stock = JSONTranscoder()
    for transcoding in default_transcodings():
        stock.register(transcoding)
    register_domain_types(stock, domain_value_types())
    assert stock.decode(build_transcoder().encode(decision)) == decision
