"""Composition root: read config, start or attach PostgreSQL, build services, serve gRPC."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from application.clock import Clock, SystemClock
from application.guides import GuideService
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.settlements import SettlementService
from application.repository import Repository
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner
from infrastructure.api.attribution import AttributionServicer
from infrastructure.api.audit import AuditServicer
from infrastructure.api.auth import TokenAuthenticator, development_tokens
from infrastructure.api.members import MemberServicer
from infrastructure.api.orders import OrderServicer
from infrastructure.api.programmes import ProgrammeServicer
from infrastructure.api.stores import GuideServicer, StoreServicer
from infrastructure.config import Settings, load_settings
from infrastructure.database import open_event_store
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.logging import configure_logging
from infrastructure.mapper import build_mapper
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.projections import all_projections
from infrastructure.projections.settlement import SettlementReadModel
from infrastructure.scheduler import Scheduler
from protos.loyalty.v1 import (
    attribution_pb2,
    attribution_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    members_pb2,
    members_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    programmes_pb2,
    programmes_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
)

log = logging.getLogger("loyalty")


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    store: EventStore
    health: health.aio.HealthServicer
    directory: StoreDirectory
    projections: ProjectionRunner
    scheduler: Scheduler
    embedded: EmbeddedPostgres | None

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish, then stop workers and the database."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.scheduler.stop()
        await self.directory.stop()
        await self.projections.stop()
        await self.store.close()
        if self.embedded is not None:
            self.embedded.stop()


async def start(
    settings: Settings, *, clock: Clock | None = None, tokens: str | None = None,
    env: dict[str, str] | None = None,
) -> Running:
    env = dict(os.environ) if env is None else env
    clock = clock or SystemClock()
    store, embedded = await open_event_store(settings)
    mapper = build_mapper(env)
    repository = Repository(store, mapper, snapshot_interval=settings.snapshot_interval)
    runner = CommandRunner(repository)
    programmes = ProgrammeCatalog(runner, clock)
    directory = StoreDirectory(store, mapper)
    await directory.load()
    directory.start()
    projections = ProjectionRunner(store, all_projections(store), mapper)
    await projections.setup()  # read models exist before the first query
    projections.start()

    if tokens is None:
        tokens = env.get("LOYALTY_API_TOKENS") or development_tokens(settings.data_dir)
    auth = TokenAuthenticator.parse(tokens)
    server = grpc.aio.server()
    members = MemberService(runner, clock, programmes)
    members_pb2_grpc.add_MemberServiceServicer_to_server(MemberServicer(auth, members), server)
    stores_pb2_grpc.add_StoreServiceServicer_to_server(
        StoreServicer(auth, StoreService(runner, clock, programmes)), server)
    stores_pb2_grpc.add_GuideServiceServicer_to_server(
        GuideServicer(auth, GuideService(runner, clock, programmes)), server)
    orders = OrderService(runner, clock, programmes, directory)
    orders_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(auth, orders), server)
    settlements = SettlementService(runner, clock, programmes, SettlementReadModel(store, mapper))
    attribution_pb2_grpc.add_AttributionServiceServicer_to_server(
        AttributionServicer(auth, store.pool, orders, settlements), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(auth, store, repository, clock), server)
    programmes_pb2_grpc.add_ProgrammeServiceServicer_to_server(ProgrammeServicer(auth, programmes), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_names = [
        members_pb2.DESCRIPTOR.services_by_name["MemberService"].full_name,
        stores_pb2.DESCRIPTOR.services_by_name["StoreService"].full_name,
        stores_pb2.DESCRIPTOR.services_by_name["GuideService"].full_name,
        orders_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
        attribution_pb2.DESCRIPTOR.services_by_name["AttributionService"].full_name,
        audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
        programmes_pb2.DESCRIPTOR.services_by_name["ProgrammeService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    ]
    reflection.enable_server_reflection([*service_names, reflection.SERVICE_NAME], server)
    port = _listen(server, settings)
    await server.start()
    for name in ["", *service_names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving gRPC on %s", settings.grpc_address.rsplit(":", 1)[0] + f":{port}",
             extra={"tls": settings.tls is not None, "mutual_tls": bool(settings.tls and settings.tls.client_ca)})
    scheduler = Scheduler(store, orders, members, programmes, clock, interval=settings.scheduler_interval_s)
    if settings.scheduler_interval_s:
        scheduler.start()
    return Running(server, port, store, health_servicer, directory, projections, scheduler, embedded)


def _listen(server: grpc.aio.Server, settings: Settings) -> int:
    """TLS when configured (mutual TLS with a client CA); else plaintext, for loopback or behind a TLS proxy."""
    if settings.tls is None:
        return server.add_insecure_port(settings.grpc_address)
    cert, key, client_ca = settings.tls.read()
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None)
    return server.add_secure_port(settings.grpc_address, credentials)


async def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    running = await start(settings)
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
