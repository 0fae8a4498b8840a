"""The event store's Mapper: OrjsonTranscoder, every domain value type, optional zlib and AES.

Why the stock names: the cipher and compressor are read from the same environment
variables (``COMPRESSOR_TOPIC``, ``CIPHER_TOPIC``, ``CIPHER_KEY``, optionally
prefixed by the application's name) as eventsourcing's ``InfrastructureFactory``,
so a stock ``Application`` given the same environment reads the same bytes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, overload

from eventsourcing.persistence import Cipher, Compressor, Mapper
from eventsourcing.utils import Environment, resolve_topic

from domain.store_values import OpeningHours
from infrastructure.config import APPLICATION_NAME
from infrastructure.time_zones import recorded_offset_minutes
from infrastructure.transcoder import DataclassAsDict, OrjsonTranscoder, register_value_types

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


def build_transcoder(value_types: Iterable[type[Any]] | None = None) -> OrjsonTranscoder:
    """The transcoder with the built-ins and the value types (default: the domain's)."""
    transcoder = OrjsonTranscoder()
    types = tuple(domain_value_types() if value_types is None else value_types)
    register_value_types(transcoder, types)
    if OpeningHours in types:
        transcoder.register(OpeningHoursAsDict(OpeningHours))
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
