"""Composition root: read config, start or attach PostgreSQL, build services, serve gRPC."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from infrastructure.config import Settings, load_settings
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.migrations import Names

log = logging.getLogger("loyalty")


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    store: EventStore
    health: health.aio.HealthServicer
    embedded: EmbeddedPostgres | None

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish, then release the database."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.store.close()
        if self.embedded is not None:
            self.embedded.stop()


async def start(settings: Settings) -> Running:
    embedded = None
    dsn = settings.database_url
    if dsn is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = embedded.start()
    names = Names(settings.schema, settings.events_table, settings.snapshots_table)
    store = await EventStore.open(
        dsn, names, lock_timeout_s=settings.lock_timeout_s,
        min_size=settings.pool_min, max_size=settings.pool_max,
    )
    server = grpc.aio.server()
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    reflection.enable_server_reflection([*service_names, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(settings.grpc_address)
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("serving gRPC on %s", settings.grpc_address.rsplit(":", 1)[0] + f":{port}")
    return Running(server, port, store, health_servicer, embedded)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    running = await start(load_settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await running.stop()
    log.info("stopped")


if __name__ == "__main__":
    asyncio.run(main())
