"""The event store's Mapper: OrjsonTranscoder, every domain value type, optional zlib and AES.

Why the stock names: the cipher and compressor are read from the same environment
variables (``COMPRESSOR_TOPIC``, ``CIPHER_TOPIC``, ``CIPHER_KEY``, optionally
prefixed by the application's name) as eventsourcing's ``InfrastructureFactory``,
so a stock ``Application`` given the same environment reads the same bytes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, overload

from eventsourcing.persistence import Cipher, Compressor, Mapper, Transcoding
from eventsourcing.utils import Environment, resolve_topic

from domain.attribution import AttributionSource
from domain.routing import CandidateReport, ExplanationStep, Rejection, StepOutcome, StepReason
from domain.store_values import OpeningHours
from infrastructure.config import APPLICATION_NAME
from infrastructure.time_zones import recorded_offset_minutes
from infrastructure.transcoder import DataclassAsDict, OrjsonTranscoder, register_value_types, uuid_from_hex

if TYPE_CHECKING:
    from infrastructure.privacy import Keyring, PersonalDataMapper

COMPRESSOR_TOPIC = "COMPRESSOR_TOPIC"
CIPHER_TOPIC = "CIPHER_TOPIC"
CIPHER_KEY = "CIPHER_KEY"
DEFAULT_CIPHER_TOPIC = "eventsourcing.cipher:AESCipher"

DOMAIN_MODULES = (
    "domain.points",
    "domain.tiers",
    "domain.identity",
    "domain.programme",
    "domain.brand_programme",
    "domain.member",
    "domain.guide",
    "domain.geo",
    "domain.store_values",
    "domain.attribution",
    "domain.cloud_store",
    "domain.routing",
    "domain.order",
    "domain.stock",
    "domain.drop",
    "domain.settlement",
)


def domain_value_types() -> tuple[type[Any], ...]:
    """Every domain module's ``VALUE_TYPES``, in module order, without duplicates."""
    found: dict[type[Any], None] = {}
    for module_name in DOMAIN_MODULES:
        found.update(dict.fromkeys(importlib.import_module(module_name).VALUE_TYPES))
    return tuple(found)


class OpeningHoursAsDict(DataclassAsDict):
    """Opening hours recorded before their UTC offset was stored get it from their zone name here,
    at the edge, because the domain does not read the tz database."""

    def decode(self, data: dict[str, Any]) -> Any:
        if data.get("utc_offset_minutes") is None and "time_zone" in data:
            data = {**data, "utc_offset_minutes": recorded_offset_minutes(data["time_zone"])}
        return super().decode(data)


def _by_value(enum: type[Enum]) -> dict[Any, Any]:
    """An enum's members by value: a dict look-up, not ``enum(value)``'s call (an unknown value is a KeyError)."""
    return {member.value: member for member in enum}


_REJECTION, _SOURCE = _by_value(Rejection), _by_value(AttributionSource)
_OUTCOME, _REASON = _by_value(StepOutcome), _by_value(StepReason)


class CandidateAsList(Transcoding):
    """A routing decision's candidate as ``[store hex, dealer, metres, [rejections]]``: one tagged value where the
    dataclass form has four (its id, its tuple), so an order's decision (up to a dozen candidates) is a third of
    the bytes and cheaper both ways. Candidates of older events, stored as ``domain.routing:CandidateReport``
    dicts, still decode through that name."""

    type = CandidateReport
    name = "candidate_list"
    flat = True

    def encode(self, obj: CandidateReport) -> list[Any]:
        return [obj.store_id.hex, obj.dealer_id, obj.distance_m, [r.value for r in obj.rejections]]

    def decode(self, data: list[Any]) -> CandidateReport:
        store, dealer, metres, rejections = data
        return CandidateReport(uuid_from_hex(store), dealer, metres, tuple([_REJECTION[r] for r in rejections]))


class StepAsList(Transcoding):
    """A decision's explanation step as ``[source, outcome, reason, store hex | null, [rejections], [tied hex]]``
    (the same reasoning as :class:`CandidateAsList`)."""

    type = ExplanationStep
    name = "step_list"
    flat = True

    def encode(self, obj: ExplanationStep) -> list[Any]:
        return [
            obj.source.value,
            obj.outcome.value,
            obj.reason.value,
            obj.store_id.hex if obj.store_id is not None else None,
            [r.value for r in obj.rejections],
            [s.hex for s in obj.tied_store_ids],
        ]

    def decode(self, data: list[Any]) -> ExplanationStep:
        source, outcome, reason, store, rejections, tied = data
        return ExplanationStep(
            _SOURCE[source],
            _OUTCOME[outcome],
            _REASON[reason],
            uuid_from_hex(store) if store is not None else None,
            tuple([_REJECTION[r] for r in rejections]),
            tuple(map(uuid_from_hex, tied)),
        )


COMPACT = (CandidateAsList, StepAsList)


def register_domain_types(transcoder: Any, types: Iterable[type[Any]]) -> None:
    """Register value types as ``register_value_types`` does, then the compact forms and edge decoders the
    domain's types have here. A stock ``JSONTranscoder`` given ``default_transcodings()`` and this reads what
    ours writes."""
    types = tuple(types)
    register_value_types(transcoder, types)  # the dataclass forms stay registered by name: old events decode
    for compact in COMPACT:
        if compact.type in types:
            transcoder.register(compact())
    if OpeningHours in types:
        transcoder.register(OpeningHoursAsDict(OpeningHours))


def build_transcoder(value_types: Iterable[type[Any]] | None = None) -> OrjsonTranscoder:
    """The transcoder with the built-ins and the value types (default: the domain's)."""
    transcoder = OrjsonTranscoder()
    register_domain_types(transcoder, domain_value_types() if value_types is None else value_types)
    return transcoder


@overload
def build_mapper(
    env: Mapping[str, str],
    *,
    app_name: str = ...,
    value_types: Iterable[type[Any]] | None = ...,
    keyring: None = ...,
) -> Mapper: ...
@overload
def build_mapper(
    env: Mapping[str, str],
    *,
    app_name: str = ...,
    value_types: Iterable[type[Any]] | None = ...,
    keyring: Keyring,
) -> PersonalDataMapper: ...
def build_mapper(
    env: Mapping[str, str],
    *,
    app_name: str = APPLICATION_NAME,
    value_types: Iterable[type[Any]] | None = None,
    keyring: Keyring | None = None,
) -> Mapper:
    """A Mapper configured from ``env`` the way eventsourcing's factory would be.

    As in a stock Application named ``app_name``, ``LOYALTYENGINE_CIPHER_KEY`` is
    preferred to ``CIPHER_KEY`` (and likewise for the other two variables). With a
    ``keyring`` (``infrastructure.privacy.Keyring``), personal fields are sealed under
    their subject's data key (``infrastructure.privacy.PersonalDataMapper``).
    """
    environment = Environment(app_name, dict(env))
    if keyring is not None:
        from infrastructure.privacy import PersonalDataMapper

        return PersonalDataMapper(
            build_transcoder(value_types),
            keyring,
            compressor=compressor_from_env(environment),
            cipher=cipher_from_env(environment),
        )
    return Mapper(
        transcoder=build_transcoder(value_types),
        compressor=compressor_from_env(environment),
        cipher=cipher_from_env(environment),
    )


def compressor_from_env(env: Environment) -> Compressor | None:
    """``COMPRESSOR_TOPIC`` names a compressor class (instantiated) or instance."""
    topic = env.get(COMPRESSOR_TOPIC)
    if not topic:
        return None
    compressor = resolve_topic(topic)
    return compressor() if isinstance(compressor, type) else compressor


def cipher_from_env(env: Environment) -> Cipher | None:
    """``CIPHER_TOPIC`` names a cipher class; a ``CIPHER_KEY`` alone implies AES."""
    topic = env.get(CIPHER_TOPIC)
    if not topic and env.get(CIPHER_KEY):
        topic = DEFAULT_CIPHER_TOPIC
    if not topic:
        return None
    cipher_class: type[Cipher] = resolve_topic(topic)
    return cipher_class(env)
