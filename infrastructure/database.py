"""Opening the event store the configuration names: a real server, or the embedded one."""

from __future__ import annotations

from infrastructure.config import Settings
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.migrations import Names


def platform_database(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The configured database's DSN (``DATABASE_URL``), or else the embedded server's, started here (the
    caller stops it): the tenant registry's home, and that of every brand without a database of its own."""
    if settings.database_url is not None:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.data_dir)
    return embedded.start(), embedded


async def open_event_store(settings: Settings) -> tuple[EventStore, EmbeddedPostgres | None]:
    """The migrated store, and the embedded server started for it (None with ``DATABASE_URL``)."""
    dsn, embedded = platform_database(settings)
    names = Names(settings.schema, settings.events_table, settings.snapshots_table)
    store = await EventStore.open(
        dsn,
        names,
        lock_timeout_s=settings.lock_timeout_s,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
    )
    return store, embedded
