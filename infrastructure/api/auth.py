"""Bearer tokens from configuration, mapped to principals.

``LOYALTY_API_TOKENS`` lists ``token=role@brand`` pairs separated by commas; a
dealer's token names its dealer: ``token=dealer:D001@acme``. Every token acts for
exactly one brand. Only SHA-256 digests of the tokens are kept in memory, and
lookups compare digests.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from application.auth import Principal, Role, Unauthenticated, is_brand

DEVELOPMENT_BRAND = "acme"  # the brand of the development tokens (the README's examples)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenAuthenticator:
    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._principals = {_digest(t): p for t, p in tokens.items()}

    @classmethod
    def parse(cls, spec: str) -> TokenAuthenticator:
        return cls(parse_tokens(spec))

    def brands(self) -> list[str]:
        """The brands the tokens act for, in the order they are configured."""
        return list(dict.fromkeys(p.brand for p in self._principals.values()))

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                principal = self._principals.get(_digest(value[len("Bearer ") :].strip()))
                if principal is None:
                    break
                return principal
        raise Unauthenticated("a valid bearer token is required in the authorization metadata")


def parse_tokens(spec: str) -> dict[str, Principal]:
    """``LOYALTY_API_TOKENS`` (``token=role@brand`` pairs, comma separated) to each token's principal.

    Raises ValueError naming the expected form for any malformed entry: the server refuses to start.
    """
    tokens: dict[str, Principal] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        token, sep, who = entry.partition("=")
        who, at, brand = who.rpartition("@") if "@" in who else (who, "", "")
        role, _, dealer = who.partition(":")
        if not sep or len(token) < 16 or role not in {r.value for r in Role}:
            raise ValueError(
                "LOYALTY_API_TOKENS entries are token=role@brand (token of 16+ chars; role one of "
                f"{', '.join(r.value for r in Role)}; dealer:ID@brand for dealers)"
            )
        if not at or not is_brand(brand):
            raise ValueError(
                f"LOYALTY_API_TOKENS: the {role} token needs its brand, as token=role@brand (a brand is "
                "1-64 characters: a-z, 0-9, '_' and '-', starting with a-z or 0-9)"
            )
        if (role == Role.DEALER) != bool(dealer):
            raise ValueError("a dealer token names its dealer (token=dealer:ID@brand), and only dealer tokens do")
        tokens[token] = Principal(Role(role), brand, dealer or None)
    return tokens


def principal_label(principal: Principal) -> str:
    """The ``role@brand`` (``dealer:ID@brand``) a token entry names, as written after its ``=``."""
    role = f"{principal.role.value}:{principal.dealer_id}" if principal.dealer_id else principal.role.value
    return f"{role}@{principal.brand}"


def new_token() -> str:
    """A fresh random token (32 URL-safe characters), as the development tokens are made."""
    return secrets.token_urlsafe(24)


def development_tokens(data_dir: Path) -> str:
    """Random per-role tokens of brand ``acme`` for a server started without ``LOYALTY_API_TOKENS``.

    They are written once to ``<data dir>/api-tokens.json`` (mode 0600), as
    ``{"miniprogram@acme": "<token>", ...}``, so a developer can call the local
    server; nothing is open without a token. A file written before tokens had
    brands (keys without ``@``) is read as brand ``acme``.
    """
    path = data_dir / "api-tokens.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        roles = ("miniprogram", "operator", "auditor", "dealer:DEV-DEALER")
        tokens = {f"{role}@{DEVELOPMENT_BRAND}": new_token() for role in roles}
        path.touch(mode=0o600)
        path.write_text(json.dumps(tokens, indent=2))
    tokens = json.loads(path.read_text())
    return ",".join(
        f"{token}={role if '@' in role else f'{role}@{DEVELOPMENT_BRAND}'}" for role, token in tokens.items()
    )
