"""Drop seeds: HMAC-SHA256 of the drop id under a server secret (``SeedSource`` for application.drops).

Deterministic (the same drop always gets the same seed, in every process and after a
restart, so nothing secret is stored per drop) and unguessable without the key. The key
is ``LOYALTY_DROP_SECRET`` (at least 32 characters) or, for a development server, a
random key written once to ``<data dir>/drop-secret`` (mode 0600). Whoever holds the key
can compute every future seed: keep it with the other server secrets, rotate it only
between drops (a drop created under one key must be drawn under it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path
from uuid import UUID

MIN_SECRET = 32


class HmacSeedSource:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_SECRET:
            raise ValueError(f"the drop secret must be at least {MIN_SECRET} bytes")
        self._key = key

    def seed_for(self, drop_id: UUID) -> bytes:
        return hmac.new(self._key, drop_id.bytes, hashlib.sha256).digest()

    @classmethod
    def from_environment(cls, env: Mapping[str, str], data_dir: Path) -> HmacSeedSource:
        configured = env.get("LOYALTY_DROP_SECRET")
        if configured:
            return cls(configured.encode())
        path = data_dir / "drop-secret"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return cls(path.read_text().strip().encode())
