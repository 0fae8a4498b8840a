"""What a bulk rebuild decodes from stored states: the whole JSON, or only a projection's fields."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from infrastructure.mapper import build_mapper
from infrastructure.rebuild import StateLoader, Tagged, state_loader
from tests.infrastructure.test_rebuild_equals_live import SEALED


class Fields(msgspec.Struct):
    brand: str
    amount_fen: int
    at: Tagged
    local_date: Tagged | None = None


STATE = {
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-03-02T01:00:00+00:00"},
    "nested": {"brand": "not this one", "lines": [{"sku": "SKU-1", "qty": 2}]},
    "brand": "品牌·café",
    "amount_fen": 1990,
    "at": {"_type_": "datetime_iso", "_data_": "2026-03-02T12:15:00+00:00"},
}


def sealed(loader: StateLoader, state: bytes) -> bytes:
    if loader.compressor is not None:
        state = loader.compressor.compress(state)
    return state if loader.cipher is None else loader.cipher.encrypt(state)


@pytest.mark.parametrize("settings", [{}, SEALED], ids=["plain", "encrypted and compressed"])
def test_only_the_declared_fields_decode_to_what_the_whole_json_says(settings: dict[str, str]) -> None:
    loader = state_loader(build_mapper(settings))
    assert loader.plain == (not settings)
    stored = sealed(loader, orjson.dumps(STATE))
    assert settings == {} or stored != orjson.dumps(STATE)
    assert loader(stored) == STATE
    fields = loader.fields(Fields)(stored)
    assert (fields.brand, fields.amount_fen, fields.at.data, fields.local_date) == (
        "品牌·café",
        1990,
        "2026-03-02T12:15:00+00:00",
        None,  # absent: the default, as dict.get
    )
    assert loader.fields(Fields) is loader.fields(Fields)  # one decoder per struct


def test_a_state_without_a_required_field_is_an_error_not_a_default() -> None:
    loader = state_loader(build_mapper({}))
    with pytest.raises(msgspec.ValidationError, match="amount_fen"):
        loader.fields(Fields)(orjson.dumps({k: v for k, v in STATE.items() if k != "amount_fen"}))
