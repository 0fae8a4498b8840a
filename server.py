"""Composition root: read config, start or attach PostgreSQL, build services, serve gRPC."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from application.admission import Admission, Budget, watch_loop
from application.background import stop_task
from application.clock import Clock, SystemClock
from application.store_directory import StoreDirectory
from infrastructure import reflection
from infrastructure.api.auth import TokenAuthenticator, development_tokens
from infrastructure.api.tenancy import BrandRouter, add_service
from infrastructure.brands import Brand, Brands
from infrastructure.config import Settings, load_settings
from infrastructure.database import platform_database
from infrastructure.drop_seeds import HmacSeedSource
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.event_store import EventStore
from infrastructure.health import DatabaseHealth
from infrastructure.logging import configure_logging
from infrastructure.privacy import key_config
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.scheduler import Scheduler
from infrastructure.tenants import Registry, Tenant, onboard_brands
from protos.loyalty.v1 import (
    attribution_pb2,
    audit_pb2,
    drops_pb2,
    members_pb2,
    orders_pb2,
    privacy_pb2,
    programmes_pb2,
    stock_pb2,
    stores_pb2,
)

log = logging.getLogger("loyalty")


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    brands: Brands
    health: health.aio.HealthServicer
    embedded: EmbeddedPostgres | None
    database_health: DatabaseHealth | None = None
    default_brand: str | None = None
    """The first brand of the tokens: what ``store``, ``directory``, ``projections`` and ``scheduler`` name."""
    lag_watch: asyncio.Task | None = None
    """Measures the event loop for admission control (``application.admission.watch_loop``)."""

    def brand(self, brand: str) -> Brand:
        """A brand's stack in this process (its store, projections, directory, scheduler)."""
        return self.brands.stacks[brand]

    def _default(self) -> Brand:
        if self.default_brand is None:
            raise LookupError("no default brand: this process serves several, name one with brand()")
        return self.brand(self.default_brand)

    @property
    def store(self) -> EventStore:
        return self._default().store

    @property
    def directory(self) -> StoreDirectory:
        return self._default().directory

    @property
    def projections(self) -> ProjectionRunner:
        return self._default().projections

    @property
    def scheduler(self) -> Scheduler:
        return self._default().scheduler

    async def settled(self) -> None:
        """Every brand's read models and store directory have applied everything committed so far (tests)."""
        for stack in list(self.brands.stacks.values()):
            head = await stack.store.max_notification_id()
            if head is not None:
                await stack.projections.run_until(head)
            await stack.directory.catch_up()
            if stack.stock_directory is not None:
                await stack.stock_directory.catch_up()

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish, then stop workers and the database."""
        await self.health.enter_graceful_shutdown()
        if self.database_health is not None:
            await self.database_health.stop()
        await self.server.stop(grace)
        await stop_task(self.lag_watch)
        await self.brands.stop()
        if self.embedded is not None:
            self.embedded.stop()


SERVICES = {  # each service's descriptor, by name
    "MemberService": members_pb2,
    "StoreService": stores_pb2,
    "GuideService": stores_pb2,
    "OrderService": orders_pb2,
    "AttributionService": attribution_pb2,
    "AuditService": audit_pb2,
    "ProgrammeService": programmes_pb2,
    "StockService": stock_pb2,
    "DropService": drops_pb2,
    "PrivacyService": privacy_pb2,
}


async def tenants_to_open(settings: Settings, platform_dsn: str, auth: TokenAuthenticator) -> list[Tenant]:
    """Every registered brand, after onboarding the tokens' brands when allowed."""
    if settings.onboard_token_brands:
        await onboard_brands(platform_dsn, auth.brands(), legacy_schema=settings.schema)
    return await Registry(platform_dsn).all()


async def start(
    settings: Settings,
    *,
    clock: Clock | None = None,
    tokens: str | None = None,
    env: dict[str, str] | None = None,
    background: bool = True,
) -> Running:
    """Serve; ``background`` False skips the projection runner and scheduler tasks (worker processes
    other than the first: the first keeps the read models and due work going for all of them)."""
    env = dict(os.environ) if env is None else env
    clock = clock or SystemClock()
    if tokens is None:
        tokens = env.get("LOYALTY_API_TOKENS") or development_tokens(settings.data_dir)
    auth = TokenAuthenticator.parse(tokens)
    platform_dsn, embedded = platform_database(settings)
    try:
        tenants = await tenants_to_open(settings, platform_dsn, auth)
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    admission = Admission(
        Budget(
            settings.max_in_flight,
            settings.max_queue_per_aggregate,
            settings.retry_after_ms / 1000,
            settings.max_calls,
            settings.max_loop_lag_ms / 1000,
        )
    )
    brands = Brands(
        platform_dsn,
        settings,
        clock,
        env,
        admission,
        auth,
        background,
        projections=background and settings.projections,
        seeds=HmacSeedSource.from_environment(env, settings.data_dir),
    )
    await brands.start(tenants)

    # SO_REUSEPORT (grpc's default on Linux, set explicitly): worker processes share one address.
    options = [("grpc.so_reuseport", 1)]
    if settings.max_pending_calls:
        # gRPC's own queue of calls the event loop has not taken yet: beyond it the C core refuses a
        # call without any Python work (the client sees CANCELLED, "Too many pending requests", no RetryInfo).
        # Between the soft limit and twice it, calls are refused with a rising probability.
        options += [
            ("grpc.server.max_pending_requests", settings.max_pending_calls),
            ("grpc.server.max_pending_requests_hard_limit", 2 * settings.max_pending_calls),
        ]
    server = grpc.aio.server(options=options)
    service_names = []
    for name, module in SERVICES.items():
        descriptor = module.DESCRIPTOR.services_by_name[name]
        add_service(server, descriptor, BrandRouter(descriptor, auth, brands.servicers, door=admission))
        service_names.append(descriptor.full_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_names.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    reflection.enable(service_names, server)  # grpc.reflection.v1 and v1alpha
    port = _listen(server, settings)
    await server.start()
    lag_watch = asyncio.get_running_loop().create_task(watch_loop(admission), name="loop-lag")
    for name in ["", *service_names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    database_health = DatabaseHealth(platform_dsn, health_servicer, ["", *service_names])  # NOT_SERVING while away
    database_health.start()
    log.info(
        "serving gRPC on %s",
        settings.grpc_address.rsplit(":", 1)[0] + f":{port}",
        extra={
            "tls": settings.tls is not None,
            "mutual_tls": bool(settings.tls and settings.tls.client_ca),
            "brands": sorted(brands.stacks),
        },
    )
    default = next((b for b in auth.brands() if b in brands.stacks), next(iter(brands.stacks), None))
    return Running(server, port, brands, health_servicer, embedded, database_health, default, lag_watch)


def _listen(server: grpc.aio.Server, settings: Settings) -> int:
    """TLS when configured (mutual TLS with a client CA); else plaintext, for loopback or behind a TLS proxy."""
    if settings.tls is None:
        return server.add_insecure_port(settings.grpc_address)
    cert, key, client_ca = settings.tls.read()
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
    return server.add_secure_port(settings.grpc_address, credentials)


async def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    worker = os.environ.get(WORKER_ENV)
    if worker is not None:
        _tag_worker_logs(int(worker))
    log.info("starting", extra={"event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0]})
    running = await start(settings, background=worker in (None, "0"))
    tune_gc(settings.gc_gen0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _memory_report(running.brands))
    await stop.wait()
    log.info("shutting down")
    await running.stop()
    log.info("stopped")


def tune_gc(gen0: int) -> None:
    """Fewer, cheaper garbage collections under load: what start-up built (store directory, indexes, caches'
    first entries, modules) moves to the permanent generation, and the youngest generation is collected every
    ``gen0`` allocations instead of 700 (0 keeps the threshold). The spread profile had 3.5 % of the server's
    CPU in ``gc_collect_main``: reference counting frees nearly everything a call makes, so collections
    mostly walk live objects."""
    gc.collect()
    gc.freeze()
    if gen0:
        gc.set_threshold(gen0, *gc.get_threshold()[1:])


def _memory_report(brands: Brands):
    """A SIGUSR1 handler (``kill -USR1 <pid>``): logs the process's resident memory and what each brand's
    bounded caches hold (entries, estimated bytes). Under tracemalloc (``PYTHONTRACEMALLOC=1``) the first call
    also takes a snapshot, and each later one logs the 25 source lines whose allocations grew most since the
    previous one (memory investigations; bench_overload.py)."""
    last: list = []

    def handler() -> None:
        caches = {
            brand: {name: {"entries": n, "bytes": size} for name, (n, size) in stack.memory_usage().items()}
            for brand, stack in brands.stacks.items()
        }
        log.info("memory", extra={"rss_mb": round(_rss_bytes() / 2**20, 1), "caches": caches})
        if not tracemalloc.is_tracing():
            return
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        if last:
            for stat in snapshot.compare_to(last[0], "lineno")[:25]:
                log.info("tracemalloc %s", stat)
        log.info("tracemalloc traced %.1f MB", tracemalloc.get_traced_memory()[0] / 2**20)
        last[:] = [snapshot]

    return handler


def _rss_bytes() -> int:
    """Resident set size (Linux: /proc/self/statm); 0 where there is none."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# --- several worker processes on one address ---------------------------------------------

WORKER_ENV = "LOYALTY_WORKER"
"""Set by the parent in each worker's environment: the worker's index (0 runs the background tasks)."""
RESTARTS_ALLOWED = 5
"""A worker that dies is restarted; more than this many deaths within RESTART_WINDOW_S stop the parent."""
RESTART_WINDOW_S = 60.0
STOP_GRACE_S = 15.0


class _WorkerTag(logging.Filter):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index, self.pid = index, os.getpid()

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker, record.pid = self.index, self.pid
        return True


def _tag_worker_logs(index: int) -> None:
    """Every log line of a worker names it (``worker``, ``pid``): several processes share one output."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerTag(index))


async def _prepare_database(settings: Settings, tokens: str, env: Mapping[str, str]) -> None:
    """The registry, the tokens' brands onboarded (when allowed) and development keys made (when no keys
    are configured in ``env``, the workers' environment), once, before the workers race to."""
    key_config(env, settings.data_dir)
    if settings.onboard_token_brands:
        if settings.database_url is None:
            raise ValueError("the database URL is resolved before the database is prepared")
        await onboard_brands(
            settings.database_url, TokenAuthenticator.parse(tokens).brands(), legacy_schema=settings.schema
        )


def _address(settings: Settings) -> str:
    """The address every worker binds; port 0 becomes one free port chosen here, shared by all."""
    host, _, port = settings.grpc_address.rpartition(":")
    if port != "0":
        return settings.grpc_address
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host.strip("[]") or "0.0.0.0", 0))
        return f"{host}:{s.getsockname()[1]}"


def serve_workers(settings: Settings, env: dict[str, str] | None = None) -> int:
    """Run ``settings.workers`` server processes on one address (SO_REUSEPORT) over one database.

    The parent starts the embedded PostgreSQL (when no ``DATABASE_URL``), migrates it and creates
    the read models once, then starts the workers with its DSN: each is ``python server.py`` with
    ``GRPC_WORKERS=1``. The kernel spreads incoming connections over the workers. A worker that
    dies is restarted; if workers die more than ``RESTARTS_ALLOWED`` times within
    ``RESTART_WINDOW_S`` the parent gives up, stops the others and exits 1. SIGTERM or SIGINT to
    the parent stops every worker (each drains its calls) and then the database; exit status 0.
    """
    env = dict(os.environ) if env is None else dict(env)
    dsn, embedded = platform_database(settings)
    procs: dict[int, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        tokens = env.get("LOYALTY_API_TOKENS") or development_tokens(settings.data_dir)
        asyncio.run(_prepare_database(replace(settings, database_url=dsn), tokens, env))
        address = _address(settings)
        worker_env = {
            **env,
            "DATABASE_URL": dsn,
            "GRPC_ADDRESS": address,
            "GRPC_WORKERS": "1",
            "LOYALTY_API_TOKENS": tokens,
        }

        def spawn(index: int) -> None:
            procs[index] = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve())], env={**worker_env, WORKER_ENV: str(index)}
            )

        for i in range(settings.workers if not stopping else 0):
            spawn(i)
        log.info(
            "started %d worker processes on %s",
            settings.workers,
            address,
            extra={"pids": [p.pid for p in procs.values()]},
        )
        deaths: list[float] = []
        while not stopping:
            time.sleep(0.2)
            for i, proc in list(procs.items()):
                if stopping or proc.poll() is None:
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if now - t < RESTART_WINDOW_S] + [now]
                if len(deaths) > RESTARTS_ALLOWED:
                    log.error("worker %d exited with %s; too many worker deaths, stopping", i, proc.returncode)
                    stopping, status = True, 1
                    break
                log.warning("worker %d exited with %s; restarting it", i, proc.returncode)
                spawn(i)
        log.info("shutting down %d workers", len(procs))
    finally:
        _stop_all(procs.values())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if embedded is not None:
            embedded.stop()
    log.info("stopped")
    return status


def _stop_all(procs) -> None:
    """SIGTERM every live worker, wait for them to drain, kill what is left."""
    procs = [p for p in procs if p.poll() is None]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("worker pid %d did not stop in time; killing it", p.pid)
            p.kill()
            p.wait()


def run() -> None:
    """``python server.py``: one process, or a parent of ``GRPC_WORKERS`` worker processes."""
    settings = load_settings()
    if settings.workers > 1 and WORKER_ENV not in os.environ:
        configure_logging(settings.log_format, settings.log_level)
        raise SystemExit(serve_workers(settings))
    _event_loop_runner()(main())


def _event_loop_runner():
    """``LOYALTY_EVENT_LOOP``: ``asyncio`` (the default) or ``uvloop``, where it is installed.

    uvloop is measured against the standard loop in every ``bench/run``; on the quiet run it did not
    serve more orders (README "Event loop"), so it is an opt-in rather than the default.
    """
    choice = os.environ.get("LOYALTY_EVENT_LOOP", "").strip().lower() or "asyncio"
    if choice not in ("uvloop", "asyncio"):
        raise SystemExit(f"LOYALTY_EVENT_LOOP must be uvloop or asyncio, got {choice!r}")
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise SystemExit("LOYALTY_EVENT_LOOP=uvloop but uvloop is not installed (pip install uvloop)") from None
        return uvloop.run
    return asyncio.run


if __name__ == "__main__":
    run()
