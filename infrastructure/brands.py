"""One process's tenants: each brand's event store (its schema, its pool), services, servicers and workers.

A brand's stack is built when the process starts (every registered brand) or on its first call
(a brand onboarded while the process runs), and shares only the process's admission budget,
clock, mapper and authenticator with the other brands'. A brand's pool connects with its schema
as the search path, so every query of its services, servicers and read models stays in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from application.admission import Admission
from application.clock import Clock
from application.drops import DropEntryIndex, DropService
from application.guides import GuideService
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.settlements import SettlementService
from application.stock import StockService
from application.stock_directory import StockDirectory
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner, RememberedRequests
from domain.identity import IdentityIds
from infrastructure.api.attribution import AttributionServicer
from infrastructure.api.audit import AuditServicer
from infrastructure.api.auth import TokenAuthenticator
from infrastructure.api.drops import DropServicer
from infrastructure.api.members import MemberServicer
from infrastructure.api.orders import OrderServicer
from infrastructure.api.privacy import PrivacyServicer
from infrastructure.api.programmes import ProgrammeServicer
from infrastructure.api.stock import StockServicer
from infrastructure.api.stores import GuideServicer, StoreServicer
from infrastructure.api.tenancy import BrandNotOnboarded
from infrastructure.config import Settings
from infrastructure.drop_seeds import HmacSeedSource
from infrastructure.event_store import EventStore, connection_failure
from infrastructure.mapper import build_mapper
from infrastructure.privacy import PrivateEventStore, for_read_models, key_config, open_private
from infrastructure.projection_runner import Leadership, ProjectionRunner, gathering
from infrastructure.projections import all_projections
from infrastructure.projections.settlement import SettlementReadModel
from infrastructure.replica import ReplicaReads
from infrastructure.scheduler import Scheduler
from infrastructure.shared_listener import SharedListener
from infrastructure.tenants import Registry, Tenant

log = logging.getLogger(__name__)


@dataclass
class Brand:
    """A brand's tenant in this process."""

    tenant: Tenant
    store: EventStore
    repository: Repository
    directory: StoreDirectory
    projections: ProjectionRunner
    scheduler: Scheduler
    servicers: dict[str, Any]
    background: bool = False
    replica: ReplicaReads | None = None
    stock_directory: StockDirectory | None = None
    drop_entries: DropEntryIndex | None = None
    requests: RememberedRequests | None = None

    def memory_usage(self) -> dict[str, tuple[int, int]]:
        """What each bounded cache of the brand holds: (entries, estimated bytes)."""
        usage = {"aggregates": self.repository.cache_usage}
        for name, cache in (
            ("requests", self.requests),
            ("stock_directory", self.stock_directory),
            ("drop_entries", self.drop_entries),
        ):
            if cache is not None:
                usage[name] = cache.usage
        return usage

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.directory.stop()
        if self.stock_directory is not None:
            await self.stock_directory.stop()
        if self.drop_entries is not None:
            await self.drop_entries.stop()
        await self.projections.stop()
        if self.replica is not None:
            await self.replica.close()
        await self.store.close()


@dataclass
class Sealed:
    """A brand's store with what seals and opens its personal data."""

    store: Any  # PrivateEventStore, or the plain EventStore when sealing is off (benchmarks)
    mapper: Any
    keyring: Any
    identities: IdentityIds


@dataclass
class Brands:
    """Every brand's stack in this process, built on demand from the platform registry."""

    platform_dsn: str
    settings: Settings
    clock: Clock
    env: Mapping[str, str]
    """Key configuration (LOYALTY_KEK, LOYALTY_BLIND_INDEX_KEY, ...) and mapper options."""
    admission: Admission
    auth: TokenAuthenticator
    background: bool
    """Run scheduled work (and, with ``projections``, the projections) in this process."""
    projections: bool = True
    seeds: Any = None
    """Drop seeds (application.drops.SeedSource): one server secret for every brand's drops."""
    unknown_ttl_s: float = 2.0
    """How long a brand found unregistered is answered BRAND_NOT_ONBOARDED before the registry is asked again."""
    stacks: dict[str, Brand] = field(default_factory=dict)
    _building: dict[str, asyncio.Lock] = field(default_factory=dict)
    _unknown: dict[str, float] = field(default_factory=dict)
    listeners: dict[str, SharedListener] = field(default_factory=dict)
    """One LISTEN session per database, shared by every brand's followers on it (infrastructure.shared_listener)."""

    async def start(self, tenants: Iterable[Tenant]) -> None:
        """Open every brand now; one whose database cannot be reached is opened at its first call instead
        (its calls answer UNAVAILABLE meanwhile), so one brand's outage never keeps the others from serving."""
        for tenant in tenants:
            try:
                await self._open(tenant)
            except Exception as e:
                if not connection_failure(e):
                    raise
                log.warning(
                    "brand %s: its database cannot be reached; opening it at its first call",
                    tenant.brand,
                    extra={"brand": tenant.brand},
                )

    async def servicers(self, brand: str) -> dict[str, Any]:
        """The brand's servicers (the routers' resolver)."""
        return (await self.get(brand)).servicers

    async def get(self, brand: str) -> Brand:
        stack = self.stacks.get(brand)
        if stack is not None:
            return stack
        if time.monotonic() < self._unknown.get(brand, 0.0):
            raise BrandNotOnboarded(f"brand {brand} is not onboarded on this deployment", brand=brand)
        async with self._building.setdefault(brand, asyncio.Lock()):
            if brand in self.stacks:
                return self.stacks[brand]
            tenant = await Registry(self.platform_dsn).get(brand)
            if tenant is None:
                self._unknown[brand] = time.monotonic() + self.unknown_ttl_s
                raise BrandNotOnboarded(f"brand {brand} is not onboarded on this deployment", brand=brand)
            return await self._open(tenant)

    async def _open(self, tenant: Tenant) -> Brand:
        s = self.settings
        store = await EventStore.open(
            tenant.database(self.platform_dsn),
            tenant.names,
            lock_timeout_s=s.lock_timeout_s,
            min_size=s.pool_min,
            max_size=s.pool_max,
        )
        dsn = tenant.database(self.platform_dsn)
        if dsn not in self.listeners:
            self.listeners[dsn] = SharedListener(dsn)
        store.shared_listener = self.listeners[dsn]
        opened: Any = store
        try:
            sealed = await self._sealed(store)
            opened = sealed.store  # closing it also stops its erasure watcher, once _build started it
            stack = await self._build(tenant, sealed)
        except BaseException:
            await opened.close()
            raise
        self.stacks[tenant.brand] = stack
        self._unknown.pop(tenant.brand, None)
        log.info(
            "brand open", extra={"brand": tenant.brand, "schema": tenant.schema, "own_database": tenant.dsn is not None}
        )
        return stack

    async def _sealed(self, store: EventStore) -> Sealed:
        """The brand's store with personal data sealed under its keys, checked against the keys its schema
        was written with (a wrong or missing key stops this brand: KeyConfigurationError)."""
        if self.env.get("LOYALTY_SEAL_PERSONAL_DATA", "1") == "0":  # only to measure what sealing costs (bench/)
            log.warning("LOYALTY_SEAL_PERSONAL_DATA=0: personal data is stored in clear (benchmarks only)")
            blind_index_key = key_config(self.env, self.settings.data_dir).blind_index_key
            return Sealed(store, build_mapper(self.env), None, IdentityIds(blind_index_key))
        private = await open_private(store, self.env, self.settings.data_dir)
        return Sealed(private, private.mapper, private.keyring, IdentityIds(private.blind_index_key))

    async def _build(self, tenant: Tenant, sealed: Sealed) -> Brand:
        s, clock, auth = self.settings, self.clock, self.auth
        store, mapper, keyring = sealed.store, sealed.mapper, sealed.keyring
        repository = Repository(
            store,
            mapper,
            snapshot_interval=s.snapshot_interval,
            cache_size=s.aggregate_cache_entries,
            cache_bytes=s.aggregate_cache_mb * 2**20,
        )
        requests = RememberedRequests(max_bytes=s.request_cache_mb * 2**20)
        runner = CommandRunner(
            repository,
            lock_timeout=s.lock_timeout_s,
            admission=self.admission,
            max_batch=s.max_batch,
            gather_turns=s.gather_turns,
            gather_tickets=s.gather_tickets,
            requests=requests,
        )
        programmes = ProgrammeCatalog(runner, clock)
        directory = StoreDirectory(store, mapper)
        await directory.load()
        directory.start()
        stock_directory = StockDirectory(store, mapper, max_bytes=s.stock_directory_mb * 2**20)  # stock-aware routing
        await stock_directory.load()
        stock_directory.start()
        drop_entries = DropEntryIndex(store, mapper, max_bytes=s.drop_entries_mb * 2**20)  # decoded as they come
        await drop_entries.catch_up()
        drop_entries.start()
        read_models = all_projections(store)
        leadership = (
            Leadership(store.connect_dsn(), tenant.schema, [p.name for p in read_models]) if self.projections else None
        )  # one leader per projection and brand across the fleet
        log_store, log_mapper = for_read_models(store, mapper)  # read models keep no personal data: none opened
        projections = ProjectionRunner(log_store, read_models, log_mapper, leadership=leadership, **gathering(s))
        await projections.setup()  # read models exist before the first query
        if keyring is not None:  # an erasure through another server process: forget what was decoded here
            store.watch_erasures(lambda _: repository.forget_idle())
        members = MemberService(runner, clock, programmes, identities=sealed.identities, keys=keyring)
        orders = OrderService(runner, clock, programmes, directory, stock_directory)
        guides = GuideService(runner, clock, programmes, identities=sealed.identities, keys=keyring)
        settlements = SettlementService(runner, clock, programmes, SettlementReadModel(store, mapper))
        # Lag-tolerant reads (dealer revenue and ledger CSV, audit streams, liability, verification) go to the
        # brand's replica when there is one; writes and everything that reads its own writes stay on the primary.
        replica_dsn = tenant.replica_dsn or (s.replica_url if tenant.dsn is None else None)
        reads: Any = store.pool
        audit_store = store
        if replica_dsn:
            reads = ReplicaReads(
                store.pool,
                replica_dsn,
                search_path=f'"{tenant.schema}"',
                max_lag_s=s.replica_max_lag_ms / 1000,
                fallback=s.replica_fallback,
            )
            audit_store = EventStore(reads, tenant.names, lock_timeout_s=s.lock_timeout_s)
            if keyring is not None:  # the replica's events decode with the brand's keys (read from the primary)
                audit_store = PrivateEventStore(audit_store, keyring, mapper)
        stock = StockService(runner, clock, programmes, stock_directory)
        seeds = self.seeds or HmacSeedSource.from_environment(self.env, s.data_dir)
        drops = DropService(runner, clock, programmes, seeds, mapper, drop_entries, orders)
        servicers = {
            "MemberService": MemberServicer(auth, members),
            "StoreService": StoreServicer(auth, StoreService(runner, clock, programmes), directory),
            "GuideService": GuideServicer(auth, guides, store.pool),
            "OrderService": OrderServicer(auth, orders, store.pool),
            "AttributionService": AttributionServicer(auth, reads, orders, settlements),
            "AuditService": AuditServicer(auth, audit_store, repository, clock),
            "ProgrammeService": ProgrammeServicer(auth, programmes),
            "StockService": StockServicer(auth, stock),
            "DropService": DropServicer(auth, drops),
            "PrivacyService": PrivacyServicer(auth, members, orders, guides, store, mapper),
        }
        scheduler = Scheduler(
            store,
            orders,
            members,
            programmes,
            clock,
            interval=s.scheduler_interval_s,
            stock=stock,
            drops=drops,
            request_log_retention_days=s.request_log_retention_days,
        )
        stack = Brand(
            tenant,
            store,
            repository,
            directory,
            projections,
            scheduler,
            servicers,
            replica=reads if isinstance(reads, ReplicaReads) else None,
            stock_directory=stock_directory,
            drop_entries=drop_entries,
            requests=requests,
        )
        if self.projections:
            projections.start()
        if self.background and s.scheduler_interval_s:
            scheduler.start()
        stack.background = self.background
        return stack

    async def stop(self) -> None:
        stacks, self.stacks = list(self.stacks.values()), {}
        for stack in stacks:
            with contextlib.suppress(Exception):
                await stack.stop()
        listeners, self.listeners = list(self.listeners.values()), {}
        for listener in listeners:
            await listener.close()
