"""Use cases wired to the in-memory ports: no PostgreSQL, no gRPC, milliseconds per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from application.clock import ManualClock
from application.guides import GuideService
from application.members import MemberService
from application.orders import OrderService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.store_directory import StoreDirectory
from application.stores import StoreService
from application.unit_of_work import CommandRunner
from infrastructure.mapper import build_mapper
from tests.application.fakes import InMemoryStore

START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


@dataclass
class App:
    store: InMemoryStore
    clock: ManualClock
    runner: CommandRunner
    directory: StoreDirectory
    stores: StoreService
    members: MemberService
    guides: GuideService
    orders: OrderService


@pytest.fixture
async def app() -> App:
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper))
    programmes = ProgrammeCatalog(runner, clock)
    directory = StoreDirectory(store, mapper)
    await directory.load()
    return App(
        store,
        clock,
        runner,
        directory,
        StoreService(runner, clock, programmes),
        MemberService(runner, clock, programmes),
        GuideService(runner, clock, programmes),
        OrderService(runner, clock, programmes, directory),
    )
