"""An orjson transcoder that writes eventsourcing's JSONTranscoder wire format.

Why: stored event state must decode with its exact types (a bare ``orjson.loads``
hands back datetimes as strings), and an auditor must be able to read our
database with stock ``eventsourcing``. So every non-JSON value is written as
``{"_type_": name, "_data_": ...}`` by a registered ``Transcoding``, byte for byte
what ``JSONTranscoder`` writes, while orjson does the JSON text work in C.

orjson would write UUIDs, enums and tuples natively, losing their types, and has
no pass-through option for them, so ``encode`` walks the object once and tags
every value that is not plain JSON, copying a container only when something in
it changed. (Tagging datetimes and dataclasses in the same walk measured faster
than leaving them to orjson's ``default=`` callback.) The pass-through options
stay on as a safety net. ``decode`` skips its restoring walk when the bytes hold
no ``"_type_"`` key at all.

Aggregate snapshots carry what events never do: sets, Counters and dicts keyed
by UUIDs, dates or Enums. They get tagged transcodings of their own
(``set_as_list``, ``frozenset_as_list``, ``counter_as_items``, ``dict_as_items``),
registered by default, so snapshots round-trip with exact types and a stock
``JSONTranscoder`` given ``default_transcodings()`` still reads every byte. Sets
are written sorted when their elements sort, so equal states encode to equal
bytes in every process (str hashing is salted per process). A dict goes the
tagged way only when one of its keys is not exactly ``str``; the walk checks
the keys of the dicts it meets but trusts the field dicts of value objects, so
an event pays a few type checks (see ``_preparer``).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_TYPE_KEY_BYTES = b'"_type_"'
_LEAVES = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({dict, list})


class FastUUIDAsHex(UUIDAsHex):
    """eventsourcing's ``uuid_hex``, decoding our own 32-digit form without ``UUID()``'s parsing.

    Builds the UUID the way ``uuid.UUID.__init__`` itself does (it is immutable by
    ``__setattr__``); anything else (hyphens, braces) goes through ``UUID()``.
    """

    def decode(self, data: str) -> UUID:
        return uuid_from_hex(data)


def uuid_from_hex(data: str) -> UUID:
    """``UUID(data)``, faster for our own 32-digit form."""
    if len(data) == 32 and data.isascii() and data.isalnum():
        uuid = object.__new__(UUID)
        object.__setattr__(uuid, "int", int(data, 16))
        object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
        return uuid
    return UUID(data)


class TupleAsList(Transcoding):
    """Tuples as tagged lists, so they come back as tuples (name as eventsourcing's tests)."""

    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


class DateAsISO(Transcoding):
    """Calendar dates (not datetimes) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _sorted_if_possible(items: Iterable[Any]) -> list[Any]:
    """Sorted, so equal sets give equal bytes; iteration order when elements don't sort."""
    try:
        return sorted(items)
    except TypeError:
        return list(items)


class SetAsList(Transcoding):
    """Sets as tagged lists, sorted when their elements sort (deterministic bytes)."""

    type = set
    name = "set_as_list"

    def encode(self, obj: set[Any]) -> list[Any]:
        return _sorted_if_possible(obj)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


class FrozensetAsList(Transcoding):
    """Frozensets as tagged lists, sorted when their elements sort."""

    type = frozenset
    name = "frozenset_as_list"

    def encode(self, obj: frozenset[Any]) -> list[Any]:
        return _sorted_if_possible(obj)

    def decode(self, data: list[Any]) -> frozenset[Any]:
        return frozenset(data)


class CounterAsItems(Transcoding):
    """A Counter as a list of [key, count] pairs, so keys of any type keep their type.

    Insertion order is kept (it is deterministic: replay builds it), as are
    zero and negative counts.
    """

    type = Counter
    name = "counter_as_items"

    def encode(self, obj: Counter[Any]) -> list[list[Any]]:
        return [[key, count] for key, count in obj.items()]

    def decode(self, data: list[list[Any]]) -> Counter[Any]:
        return Counter(dict(data))  # from a mapping: copied as is, not counted


class DictAsItems(Transcoding):
    """A dict with a key that is not exactly ``str`` as a list of [key, value] pairs.

    JSON object keys are strings only, so UUID, date, int or str-Enum keys would
    be refused (orjson) or silently turned into strings (json). Our walk applies
    this only to such dicts (``type`` is nominal); a stock ``JSONTranscoder`` never
    writes it but decodes it once registered.
    """

    type = dict
    name = "dict_as_items"

    def encode(self, obj: dict[Any, Any]) -> list[list[Any]]:
        return [[key, value] for key, value in obj.items()]

    def decode(self, data: list[list[Any]]) -> dict[Any, Any]:
        return dict(data)


def type_name(cls: type[Any]) -> str:
    """``module:qualname``: where the class lives, which is stored data (never a TOPIC alias)."""
    return f"{cls.__module__}:{cls.__qualname__}"


class DataclassAsDict(Transcoding):
    """A frozen dataclass value object as a dict of its init fields; decoded by calling it."""

    def __init__(self, cls: type[Any], name: str | None = None) -> None:
        self.type = cls
        self.name = name or type_name(cls)
        self._fields = tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class EnumAsValue(Transcoding):
    """An Enum member as its value; decoded by value lookup."""

    def __init__(self, cls: type[Enum], name: str | None = None) -> None:
        self.type = cls
        self.name = name or type_name(cls)

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


def default_transcodings() -> list[Transcoding]:
    """What the stock Application registers, plus dates, tuples and the snapshot containers.

    Register these on a stock ``JSONTranscoder`` to read what we write.
    """
    return [
        FastUUIDAsHex(),
        DecimalAsStr(),
        DatetimeAsISO(),
        DateAsISO(),
        TupleAsList(),
        SetAsList(),
        FrozensetAsList(),
        CounterAsItems(),
        DictAsItems(),
    ]


def register_value_types(transcoder: Any, types: Iterable[type[Any]]) -> None:
    """Register frozen dataclasses and Enums on any transcoder with ``register()``.

    Works on a stock ``JSONTranscoder`` too, which the interoperability tests rely on.
    """
    for cls in types:
        if isinstance(cls, type) and issubclass(cls, Enum):
            transcoder.register(EnumAsValue(cls))
        elif dataclasses.is_dataclass(cls) and isinstance(cls, type):
            if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
                msg = f"Value type {type_name(cls)} must be a frozen dataclass"
                raise TypeError(msg)
            transcoder.register(DataclassAsDict(cls))
        else:
            msg = f"Value type {cls!r} is neither a frozen dataclass nor an Enum"
            raise TypeError(msg)


class OrjsonTranscoder(Transcoder):
    """Drop-in for eventsourcing's ``JSONTranscoder``, same bytes, using orjson.

    Differences from the stock transcoder, all in the direction of not losing data:
    tuples, Enums, Counters, dicts with non-str keys and subclasses of
    str/int/dict/list are tagged (the stock one writes them as plain JSON values,
    or stringifies the keys) so they need a registered transcoding; NaN/Infinity
    floats and integers beyond 64 bits are refused rather than written (orjson
    would write null, or read a big int back as a float).
    """

    def __init__(self, *, register_defaults: bool = True) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self.flat: set[str] = set()
        """Names of transcodings whose data holds no tagged value (``flat = True``): decoded without a walk."""
        # Closures over the (mutable) registries: the walks are the hot path.
        self._prepare = _preparer(self.types)
        self._restore = _restorer(self.names, self.flat)
        self.register(TupleAsList())
        if register_defaults:
            for transcoding in default_transcodings():
                self.register(transcoding)

    def replacing(self, transcoding: Transcoding) -> OrjsonTranscoder:
        """A copy with ``transcoding`` registered in place of the one of its name (this one is left as it is)."""
        copy = OrjsonTranscoder(register_defaults=False)
        copy.types.update(self.types)
        copy.names.update(self.names)
        copy.flat.update(self.flat)
        copy.register(transcoding)
        return copy

    def register(self, transcoding: Transcoding) -> None:
        """Registers given transcoding, by type for encoding and by name for decoding."""
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding
        if getattr(transcoding, "flat", False):
            self.flat.add(transcoding.name)
        else:
            self.flat.discard(transcoding.name)

    def encode(self, obj: Any) -> bytes:
        """Encodes given object as UTF-8 JSON bytes."""
        try:
            return orjson.dumps(self._prepare(obj), default=self._default, option=_OPTIONS)
        except orjson.JSONEncodeError as e:
            # orjson wraps what the default= hook raised: surface the real error.
            if e.__cause__ is not None:
                raise e.__cause__ from None
            raise

    def decode(self, data: bytes) -> Any:
        """Decodes bytes previously encoded by this or the stock transcoder."""
        if type(data) is not bytes:
            data = bytes(data)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            # The stock encoder writes NaN and Infinity, which orjson refuses to read.
            obj = json.loads(data)
        if _TYPE_KEY_BYTES in data and type(obj) in _CONTAINERS:
            return self._restore(obj)
        return obj

    def _default(self, o: Any) -> Any:
        """Safety net: the walk tags everything, but should anything non-JSON reach
        orjson, the pass-through options bring it here instead of letting orjson
        write a datetime, dataclass or str/int/dict/list subclass natively."""
        return self._prepare(o)


def _not_registered(t: type) -> TranscodingNotRegisteredError:
    return TranscodingNotRegisteredError(
        f"Object of type {t} is not serializable. Please define and register a custom transcoding for this type."
    )


def _preparer(types: dict[type, Transcoding]) -> Callable[[Any], Any]:
    """A walk that returns its argument, or a copy with every non-JSON value tagged.

    Containers are copied only when something inside them changed. A dict met in
    the object graph has its keys checked (one type check per key) and goes to
    ``dict_as_items`` if one is not exactly ``str``; a dict a transcoding returns
    (a dataclass's fields, the bulk of an event's dicts) is trusted, since orjson
    refuses a non-str key anyway.
    """

    def prepare(o: Any) -> Any:
        t = type(o)
        if t in _LEAVES:
            return o
        if t is dict:  # values_of, plus the key check (inline: the hot path)
            copy: dict[Any, Any] | None = None
            for key, value in o.items():
                if type(key) is not str:
                    return items_of(o)
                if type(value) in _LEAVES:
                    continue
                prepared = prepare(value)
                if prepared is not value:
                    if copy is None:
                        copy = dict(o)
                    copy[key] = prepared
            return o if copy is None else copy
        if t is list:
            copied: list[Any] | None = None
            for index, value in enumerate(o):
                if type(value) in _LEAVES:
                    continue
                prepared = prepare(value)
                if prepared is not value:
                    if copied is None:
                        copied = list(o)
                    copied[index] = prepared
            return o if copied is None else copied
        if t is float:
            if o - o != 0.0:  # NaN or infinity, which orjson would write as null
                msg = f"Cannot store non-finite float {o!r}: JSON has no such number"
                raise ValueError(msg)
            return o
        transcoding = types.get(t)
        if transcoding is None:
            raise _not_registered(t)
        data = transcoding.encode(o)
        t = type(data)
        if t is dict:
            data = values_of(data)
        elif t not in _LEAVES:
            data = prepare(data)
        return {"_type_": transcoding.name, "_data_": data}

    def values_of(o: dict[str, Any]) -> dict[str, Any]:
        """A str-keyed dict with its values prepared."""
        copy = None
        for key, value in o.items():
            if type(value) in _LEAVES:
                continue
            prepared = prepare(value)
            if prepared is not value:
                if copy is None:
                    copy = dict(o)
                copy[key] = prepared
        return o if copy is None else copy

    def items_of(o: dict[Any, Any]) -> dict[str, Any]:
        """A dict with a non-str key, tagged as its [key, value] pairs."""
        transcoding = types.get(dict)
        if transcoding is None:
            key = next(k for k in o if type(k) is not str)
            msg = f"Dict key {key!r} of type {type(key)} is not a str; register DictAsItems."
            raise TranscodingNotRegisteredError(msg)
        return {"_type_": transcoding.name, "_data_": prepare(transcoding.encode(o))}

    return prepare


def _restorer(names: dict[str, Transcoding], flat: set[str]) -> Callable[[Any], Any]:
    """A walk that decodes tagged dicts bottom-up, as JSONTranscoder's object_hook does.

    It rebuilds the freshly parsed containers in place. A tagged value of a ``flat`` transcoding is decoded as
    it is: its data has nothing to restore.
    """

    def transcoding_named(name: Any) -> Transcoding:
        transcoding = names.get(name)
        if transcoding is None:
            msg = (
                f"Data serialized with name '{name}' is not "
                "deserializable. Please register a "
                "custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return transcoding

    def restore(o: Any) -> Any:
        if type(o) is dict:
            if len(o) == 2 and o.get("_type_") in flat and "_data_" in o:
                return transcoding_named(o["_type_"]).decode(o["_data_"])
            for key, value in o.items():
                t = type(value)
                if t is dict:
                    if (
                        len(value) == 2
                        and "_type_" in value
                        and "_data_" in value
                        and (type(value["_data_"]) in _LEAVES or value["_type_"] in flat)
                    ):  # A tagged scalar (the commonest case) or flat value: no call needed.
                        o[key] = transcoding_named(value["_type_"]).decode(value["_data_"])
                    else:
                        o[key] = restore(value)
                elif t is list:
                    o[key] = restore(value)
            if len(o) == 2 and "_type_" in o and "_data_" in o:
                return transcoding_named(o["_type_"]).decode(o["_data_"])
            return o
        for index, value in enumerate(o):
            t = type(value)
            if t is dict or t is list:
                o[index] = restore(value)
        return o

    return restore
