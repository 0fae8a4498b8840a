"""Configuration: small functions over the environment, read once at start-up.

Besides the database and address: ``GRPC_TLS_CERT_FILE`` and ``GRPC_TLS_KEY_FILE``
(PEM) serve gRPC over TLS, and ``GRPC_TLS_CLIENT_CA_FILE`` additionally requires
client certificates signed by that CA (mutual TLS); without them the port is
plaintext, for loopback or a TLS-terminating proxy only. ``LOG_FORMAT`` is
``json`` (the default: one JSON object per line for log shippers) or ``text``
for a developer's terminal; ``LOG_LEVEL`` is debug, info, warning or error.
"""

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
class TlsFiles:
    """PEM files for serving gRPC over TLS; with ``client_ca`` clients must present a certificate it signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        return self.cert.read_bytes(), self.key.read_bytes(), self.client_ca.read_bytes() if self.client_ca else None


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    grpc_address: str
    schema: str
    snapshot_interval: int
    scheduler_interval_s: int
    lock_timeout_s: int
    pool_min: int
    pool_max: int
    tls: TlsFiles | None = None
    max_in_flight: int = 64
    max_queue_per_aggregate: int = 32
    retry_after_ms: int = 100
    max_calls: int = 128
    max_loop_lag_ms: int = 50
    max_pending_calls: int = 64
    max_batch: int = 256
    gather_turns: int = 48
    gather_tickets: int = 12
    """The group committer lets the event loop run up to ``gather_turns`` turns before it takes a batch, until
    ``gather_tickets`` commands wait to be written (0 turns: take it at once)."""
    aggregate_cache_entries: int = 10_000
    aggregate_cache_mb: int = 64
    request_cache_mb: int = 16
    projection_gather_ms: int = 20
    """After a NOTIFY the server's projections wait this long before reading, so one batch takes the commits
    that land meanwhile (0: read at once)."""
    projection_busy_gather_ms: int = 250
    projection_gather_events: int = 200
    """Under load (commits landing while a batch is written) they take the next batch once this many events are
    waiting or the busy gather has passed (``ProjectionRunner.busy_gather``; 0 ms: at once, as when idle)."""
    stock_directory_mb: int = 64
    drop_entries_mb: int = 64
    request_log_retention_days: int = 30
    """Request-log rows (request id, payload hash, sealed response) older than this are purged by the scheduler;
    a request id is answerable at least this long, a retry after it is executed anew; 0 keeps them for ever."""
    gc_gen0: int = 20_000
    """Allocations between the garbage collector's youngest-generation runs (CPython's default is 700; 0 keeps
    it). The server also freezes what start-up built (``gc.freeze``) so no collection walks it again."""
    log_format: str = "json"
    log_level: str = "INFO"
    workers: int = 1
    """Server processes on one address (SO_REUSEPORT), sharing one database; 1 serves in this process."""
    replica_url: str | None = None
    """A streaming replica of the platform database: lag-tolerant reads of its brands go there (README "Deploying")."""
    replica_max_lag_ms: int = 5000
    replica_fallback: bool = True
    """Past the bound or with the replica away: read the primary (True) or answer UNAVAILABLE (False)."""
    projections: bool = True
    """Run the projections (as leader or standby) in this server process; ``LOYALTY_PROJECTIONS=0`` leaves them
    to projection workers (``python -m infrastructure.projection_runner ... --all-brands``)."""
    onboard_token_brands: bool = True
    """At start-up, onboard every brand named in the tokens that is not registered yet (development, tests);
    production turns it off (``LOYALTY_ONBOARD_TOKEN_BRANDS=0``) and onboards with ``infrastructure.tenants``."""

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


def _tls(env: Mapping[str, str]) -> TlsFiles | None:
    names = ("GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "GRPC_TLS_CLIENT_CA_FILE")
    cert, key, ca = (env.get(n, "").strip() for n in names)
    if not cert and not key:
        if ca:
            raise ValueError("GRPC_TLS_CLIENT_CA_FILE needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE")
        return None
    if not cert or not key:
        raise ValueError("GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE are set together")
    files = TlsFiles(Path(cert).expanduser(), Path(key).expanduser(), Path(ca).expanduser() if ca else None)
    for path in filter(None, (files.cert, files.key, files.client_ca)):
        if not path.is_file():
            raise ValueError(f"TLS file {path} does not exist")
    return files


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name, "").strip() or default).lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(env.get("LOYALTY_DATA_DIR") or Path.cwd() / ".data").expanduser(),
        grpc_address=env.get("GRPC_ADDRESS") or "127.0.0.1:50051",
        schema=env.get("POSTGRES_SCHEMA") or "public",
        snapshot_interval=_int(env, "SNAPSHOT_INTERVAL", 50, minimum=0),
        scheduler_interval_s=_int(env, "SCHEDULER_INTERVAL", 60, minimum=0),
        lock_timeout_s=_int(env, "POSTGRES_LOCK_TIMEOUT", 5, minimum=0),
        pool_min=_int(env, "POSTGRES_POOL_MIN", 2, minimum=1),
        pool_max=_int(env, "POSTGRES_POOL_MAX", 10, minimum=1),
        tls=_tls(env),
        max_in_flight=_int(env, "MAX_IN_FLIGHT", 64, minimum=1),
        max_queue_per_aggregate=_int(env, "MAX_QUEUE_PER_AGGREGATE", 32, minimum=0),
        retry_after_ms=_int(env, "RETRY_AFTER_MS", 100, minimum=0),
        max_calls=_int(env, "MAX_CALLS", 128, minimum=1),
        max_loop_lag_ms=_int(env, "MAX_LOOP_LAG_MS", 50, minimum=0),
        max_pending_calls=_int(env, "GRPC_MAX_PENDING_CALLS", 64, minimum=0),
        max_batch=_int(env, "GROUP_COMMIT_MAX", 256, minimum=1),
        gather_turns=_int(env, "GROUP_COMMIT_GATHER_TURNS", 48, minimum=0),
        gather_tickets=_int(env, "GROUP_COMMIT_GATHER_TICKETS", 12, minimum=1),
        aggregate_cache_entries=_int(env, "AGGREGATE_CACHE_ENTRIES", 10_000, minimum=0),
        aggregate_cache_mb=_int(env, "AGGREGATE_CACHE_MB", 64, minimum=0),
        request_cache_mb=_int(env, "REQUEST_CACHE_MB", 16, minimum=0),
        projection_gather_ms=_int(env, "PROJECTION_GATHER_MS", 20, minimum=0),
        projection_busy_gather_ms=_int(env, "PROJECTION_BUSY_GATHER_MS", 250, minimum=0),
        projection_gather_events=_int(env, "PROJECTION_GATHER_EVENTS", 200, minimum=0),
        stock_directory_mb=_int(env, "STOCK_DIRECTORY_MB", 64, minimum=1),
        drop_entries_mb=_int(env, "DROP_ENTRIES_MB", 64, minimum=1),
        request_log_retention_days=_int(env, "REQUEST_LOG_RETENTION_DAYS", 30, minimum=0),
        gc_gen0=_int(env, "GC_GEN0_THRESHOLD", 20_000, minimum=0),
        log_format=_choice(env, "LOG_FORMAT", "json", ("json", "text")),
        log_level=_choice(env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
        workers=_int(env, "GRPC_WORKERS", 1, minimum=1),
        replica_url=env.get("DATABASE_REPLICA_URL") or None,
        replica_max_lag_ms=_int(env, "REPLICA_MAX_LAG_MS", 5000, minimum=0),
        replica_fallback=_choice(env, "REPLICA_FALLBACK", "primary", ("primary", "unavailable")) == "primary",
        projections=_choice(env, "LOYALTY_PROJECTIONS", "1", ("1", "0", "true", "false")) in ("1", "true"),
        onboard_token_brands=_choice(env, "LOYALTY_ONBOARD_TOKEN_BRANDS", "1", ("1", "0", "true", "false"))
        in ("1", "true"),
    )
