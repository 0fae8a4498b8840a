"""Bearer tokens: each names one role of one brand (``token=role@brand``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from application.auth import Principal, Role
from infrastructure.api.auth import TokenAuthenticator, development_tokens

TOKEN = "t" * 16


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def test_a_token_names_its_role_and_brand_and_a_dealer_token_its_dealer_too() -> None:
    auth = TokenAuthenticator.parse(f"{TOKEN}=operator@acme, {'d' * 16}=dealer:D001@beta-2")
    assert auth.authenticate(bearer(TOKEN)) == Principal(Role.OPERATOR, "acme")
    assert auth.authenticate(bearer("d" * 16)) == Principal(Role.DEALER, "beta-2", "D001")


@pytest.mark.parametrize("entry", [f"{TOKEN}=operator", f"{TOKEN}=dealer:D001", f"{TOKEN}=operator@"])
def test_a_token_without_its_brand_stops_the_start_with_a_clear_message(entry: str) -> None:
    with pytest.raises(ValueError, match="token=role@brand"):
        TokenAuthenticator.parse(entry)


@pytest.mark.parametrize("brand", ["Acme", "-acme", "ac me", "x" * 65, "acme\u00e9", "a/b"])
def test_a_brand_is_1_to_64_lower_case_letters_digits_dashes_or_underscores(brand: str) -> None:
    with pytest.raises(ValueError, match="1-64 characters"):
        TokenAuthenticator.parse(f"{TOKEN}=auditor@{brand}")
    TokenAuthenticator.parse(f"{TOKEN}=auditor@{'x' * 64},{'u' * 16}=auditor@a_b-9")


def test_development_tokens_are_brand_acmes_and_readable_in_their_file(tmp_path: Path) -> None:
    auth = TokenAuthenticator.parse(development_tokens(tmp_path))
    written = json.loads((tmp_path / "api-tokens.json").read_text())
    assert set(written) == {"miniprogram@acme", "operator@acme", "auditor@acme", "dealer:DEV-DEALER@acme"}
    assert auth.authenticate(bearer(written["dealer:DEV-DEALER@acme"])) == Principal(Role.DEALER, "acme", "DEV-DEALER")


def test_a_development_token_file_from_before_brands_is_read_as_brand_acme(tmp_path: Path) -> None:
    (tmp_path / "api-tokens.json").write_text(json.dumps({"operator": TOKEN}))
    assert TokenAuthenticator.parse(development_tokens(tmp_path)).authenticate(bearer(TOKEN)) == Principal(
        Role.OPERATOR, "acme"
    )
