"""OrjsonTranscoder: eventsourcing's own conformance suite, exact types, and stock interop."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError
from eventsourcing.tests import persistence as stock_tests
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.transcoder import (
    OrjsonTranscoder,
    default_transcodings,
    register_value_types,
)


class _SubclassAs(Transcoding):
    """Tags a builtin subclass by name and rebuilds it from the builtin value."""

    def __init__(self, cls: type, base: type, name: str) -> None:
        self.type, self._base, self.name = cls, base, name

    def encode(self, obj: Any) -> Any:
        return self._base(obj)

    def decode(self, data: Any) -> Any:
        return self.type(data)


class TestOrjsonTranscoderConformance(stock_tests.TranscoderTestCase):
    """eventsourcing's TranscoderTestCase, with nothing skipped."""

    def construct_transcoder(self) -> OrjsonTranscoder:
        transcoder = OrjsonTranscoder()
        transcoder.register(stock_tests.CustomType1AsDict())
        transcoder.register(stock_tests.CustomType2AsDict())
        transcoder.register(_SubclassAs(stock_tests.Mydict, dict, "mydict"))
        transcoder.register(_SubclassAs(stock_tests.MyList, list, "mylist"))
        transcoder.register(_SubclassAs(stock_tests.MyStr, str, "mystr"))
        transcoder.register(_SubclassAs(stock_tests.MyInt, int, "myint"))
        return transcoder


class Colour(str, Enum):
    RED = "red"
    BLUE = "blue"


class Rank(int, Enum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lng: float


@dataclass(frozen=True)
class Zone:
    zone_id: UUID
    centre: Point
    corners: tuple[Point, ...]
    colour: Colour
    opened_on: date
    tags: dict[str, tuple[int, ...]]


VALUE_TYPES = (Colour, Rank, Point, Zone)


def ours() -> OrjsonTranscoder:
    transcoder = OrjsonTranscoder()
    register_value_types(transcoder, VALUE_TYPES)
    return transcoder


def stock() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in default_transcodings():
        transcoder.register(transcoding)
    register_value_types(transcoder, VALUE_TYPES)
    return transcoder


def a_zone() -> Zone:
    return Zone(
        zone_id=uuid4(),
        centre=Point(31.23, 121.47),
        corners=(Point(31.0, 121.0), Point(31.5, 121.9)),
        colour=Colour.BLUE,
        opened_on=date(2024, 2, 10),
        tags={"floors": (1, 2, 3)},
    )


def strictly_equal(a: Any, b: Any) -> bool:
    """Equality that also demands the same type at every level (1 != True != 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    if dataclass_fields := getattr(type(a), "__dataclass_fields__", None):
        return all(strictly_equal(getattr(a, f), getattr(b, f)) for f in dataclass_fields)
    return a == b


def test_strictly_equal_tells_tuples_from_lists_and_ints_from_bools() -> None:
    assert strictly_equal({"a": (1, [True])}, {"a": (1, [True])})
    assert not strictly_equal((1,), [1])
    assert not strictly_equal(1, True)
    assert not strictly_equal(Colour.RED, "red")


def test_value_objects_round_trip_with_exact_nested_types() -> None:
    zone = a_zone()
    state = {"zone": zone, "rank": Rank.HIGH, "at": datetime(2024, 1, 1, tzinfo=UTC)}
    assert strictly_equal(ours().decode(ours().encode(state)), state)


def test_enums_are_tagged_even_though_orjson_would_write_their_bare_value() -> None:
    data = ours().encode({"c": Colour.RED, "r": Rank.LOW})
    assert data == (
        b'{"c":{"_type_":"tests.infrastructure.test_transcoder:Colour","_data_":"red"},'
        b'"r":{"_type_":"tests.infrastructure.test_transcoder:Rank","_data_":1}}'
    )


def test_uuids_and_datetimes_are_written_exactly_as_the_stock_transcoder_writes_them() -> None:
    state = {
        "id": UUID("b2723fe2c01a40d2875ea3aac6a09ff5"),
        "at": datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=8))),
        "amount": Decimal("12.50"),
        "names": ["导购", "云店"],
    }
    assert ours().encode(state) == stock().encode(state)


def test_a_date_is_not_confused_with_a_datetime() -> None:
    state = {"day": date(2024, 3, 1), "at": datetime(2024, 3, 1, tzinfo=UTC)}
    copy = ours().decode(ours().encode(state))
    assert type(copy["day"]) is date
    assert type(copy["at"]) is datetime


def test_stock_transcoder_decodes_our_bytes_to_an_equal_object() -> None:
    state = {"zone": a_zone(), "ids": (uuid4(), uuid4()), "rank": Rank.HIGH}
    assert strictly_equal(stock().decode(ours().encode(state)), state)


def test_we_decode_what_the_stock_transcoder_writes() -> None:
    state = {"zone": a_zone(), "id": uuid4(), "at": datetime.now(UTC), "n": [1.5, None]}
    copy = ours().decode(stock().encode(state))
    # The stock encoder writes tuples as plain lists, so compare on its terms.
    assert copy == stock().decode(stock().encode(state))
    assert type(copy["zone"].centre) is Point


def test_we_read_the_non_finite_floats_the_stock_transcoder_can_write() -> None:
    copy = ours().decode(stock().encode({"x": math.inf}))
    assert copy == {"x": math.inf}


def test_non_finite_floats_are_refused_rather_than_silently_written_as_null() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        ours().encode({"lat": (math.nan,)})


def test_an_unregistered_value_type_fails_loudly_inside_a_value_object() -> None:
    transcoder = OrjsonTranscoder()
    transcoder.register(next(t for t in _value_transcodings() if t.type is Point))
    with pytest.raises(TranscodingNotRegisteredError, match="Zone"):
        transcoder.encode({"zone": a_zone()})


def _value_transcodings() -> list[Transcoding]:
    transcoder = OrjsonTranscoder(register_defaults=False)
    register_value_types(transcoder, VALUE_TYPES)
    return list(transcoder.types.values())


def test_uuids_need_a_registered_transcoding_when_defaults_are_off() -> None:
    with pytest.raises(TranscodingNotRegisteredError, match="UUID"):
        OrjsonTranscoder(register_defaults=False).encode({"id": uuid4()})


def test_encoding_does_not_modify_the_given_object() -> None:
    state = {"ids": [uuid4()], "t": (1, 2)}
    snapshot = {"ids": list(state["ids"]), "t": (1, 2)}
    ours().encode(state)
    assert strictly_equal(state, snapshot)


def test_uuids_decode_from_our_hex_and_from_other_spellings_but_not_from_junk() -> None:
    uuid = uuid4()
    uuid_hex = next(t for t in default_transcodings() if t.name == "uuid_hex")
    decoded = uuid_hex.decode(uuid.hex)
    assert decoded == uuid and hash(decoded) == hash(uuid) and str(decoded) == str(uuid)
    assert uuid_hex.decode(str(uuid).upper()) == uuid
    with pytest.raises(ValueError):
        uuid_hex.decode("z" * 32)


def test_the_orjson_fallback_hook_tags_what_orjson_passes_through() -> None:
    # The walk tags everything itself; the hook is the net behind the pass-through options.
    assert ours()._default(date(2024, 1, 2)) == {"_type_": "date_iso", "_data_": "2024-01-02"}


def test_integers_beyond_64_bits_are_refused_rather_than_rounded() -> None:
    with pytest.raises(TypeError, match="64-bit"):
        ours().encode({"fen": 2**64})


def test_a_mutable_dataclass_is_refused_as_a_value_type() -> None:
    @dataclass
    class Loose:
        x: int

    with pytest.raises(TypeError, match="frozen"):
        register_value_types(OrjsonTranscoder(), [Loose])


def test_a_plain_class_is_refused_as_a_value_type() -> None:
    with pytest.raises(TypeError, match="neither"):
        register_value_types(OrjsonTranscoder(), [object])


json_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
typed_leaves = (
    json_leaves
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from(Colour)
    | st.sampled_from(Rank)
    | st.builds(Point, st.floats(-90, 90), st.floats(-180, 180))
)


def nested(leaves: st.SearchStrategy[Any], *, tuples: bool) -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        containers = st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        return containers | st.lists(children, max_size=4).map(tuple) if tuples else containers

    return st.recursive(leaves, extend, max_leaves=12)


@given(nested(typed_leaves, tuples=True))
def test_any_nesting_of_supported_values_round_trips_with_exact_types(obj: Any) -> None:
    assert strictly_equal(ours().decode(ours().encode(obj)), obj)


@given(nested(typed_leaves, tuples=True))
def test_the_stock_transcoder_reads_any_nesting_we_write(obj: Any) -> None:
    assert strictly_equal(stock().decode(ours().encode(obj)), obj)


@given(nested(json_leaves | st.uuids() | st.datetimes(timezones=st.just(UTC)), tuples=False))
def test_we_write_the_same_bytes_as_the_stock_transcoder_where_it_keeps_types(obj: Any) -> None:
    assert ours().encode(obj) == stock().encode(obj)


class Pair:
    def __init__(self, data: Any) -> None:
        self.data = data


class PairAsList(Transcoding):
    type = Pair
    name = "pair"
    flat = True

    def encode(self, obj: Pair) -> Any:
        return obj.data

    def decode(self, data: Any) -> Pair:
        return Pair(data)


def test_a_flat_transcodings_data_is_decoded_as_it_is_not_walked() -> None:
    """Data that would look tagged reaches a flat transcoding's decode untouched (its data holds no tags), and
    a transcoding registered again under that name without ``flat`` is walked as before."""
    transcoder = OrjsonTranscoder()
    transcoder.register(PairAsList())
    tagged_lookalike = [{"_type_": "uuid_hex", "_data_": "0" * 32}]
    decoded = transcoder.decode(transcoder.encode({"p": Pair(tagged_lookalike), "l": [Pair([1])]}))
    assert decoded["p"].data == tagged_lookalike and decoded["l"][0].data == [1]

    class Walked(PairAsList):
        flat = False

    transcoder.register(Walked())
    assert transcoder.decode(transcoder.encode(Pair(tagged_lookalike))).data == [UUID(int=0)]
