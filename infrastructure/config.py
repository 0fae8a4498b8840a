"""Configuration: small functions over the environment, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APPLICATION_NAME = "LoyaltyEngine"
"""Stored-event tables are named after it exactly as eventsourcing's PostgreSQL
module names them (``loyaltyengine_events``), so a stock Application called
``LoyaltyEngine`` opens the same tables."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    grpc_address: str
    schema: str
    snapshot_interval: int
    lock_timeout_s: int
    pool_min: int
    pool_max: int

    @property
    def events_table(self) -> str:
        return f"{APPLICATION_NAME.lower()}_events"

    @property
    def snapshots_table(self) -> str:
        return f"{APPLICATION_NAME.lower()}_snapshots"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(env.get("LOYALTY_DATA_DIR") or Path.cwd() / ".data").expanduser(),
        grpc_address=env.get("GRPC_ADDRESS") or "127.0.0.1:50051",
        schema=env.get("POSTGRES_SCHEMA") or "public",
        snapshot_interval=_int(env, "SNAPSHOT_INTERVAL", 50, minimum=0),
        lock_timeout_s=_int(env, "POSTGRES_LOCK_TIMEOUT", 5, minimum=0),
        pool_min=_int(env, "POSTGRES_POOL_MIN", 2, minimum=1),
        pool_max=_int(env, "POSTGRES_POOL_MAX", 10, minimum=1),
    )
