"""Admission control: bounded work in flight, refused at once beyond it, never at an acknowledged write's cost."""

from __future__ import annotations

import asyncio

import pytest
from eventsourcing.domain import Aggregate, event

from application.admission import Admission, Budget, Overloaded, deadline_scope
from application.repository import Repository
from application.unit_of_work import CommandRunner
from infrastructure.mapper import build_mapper
from tests.application.fakes import InMemoryStore


class Tally(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.n = 0

    @event("Counted")
    def count(self) -> None:
        self.n += 1


async def setup(**budget) -> tuple[CommandRunner, InMemoryStore, Tally]:
    store = InMemoryStore()
    repository = Repository(store, build_mapper({}))
    tally = Tally()
    await repository.save(tally)
    return CommandRunner(repository, admission=Admission(Budget(**budget))), store, tally


def counting(tally_id, gate: asyncio.Event | None = None):
    async def handler(uow):
        tally = await uow.get(tally_id, Tally)
        if gate is not None:
            await gate.wait()
        tally.count()
        return tally.n

    return handler


async def test_commands_beyond_the_process_budget_are_refused_at_once_with_a_retry_delay():
    runner, store, tally = await setup(max_in_flight=3, retry_after=0.25)
    gate = asyncio.Event()
    admitted = [asyncio.ensure_future(runner.run(counting(tally.id, gate))) for _ in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as refused:
        await runner.run(counting(tally.id))
    assert (refused.value.reason, refused.value.retry_after) == ("OVERLOADED", 0.25)
    gate.set()
    assert sorted(await asyncio.gather(*admitted)) == [1, 2, 3]  # the admitted ones all land
    assert len(store.events[tally.id]) == 1 + 3
    assert await runner.run(counting(tally.id)) == 4  # room again once the load drops


async def test_a_hot_aggregate_queues_a_bounded_number_of_commands():
    runner, store, tally = await setup(max_queue_per_aggregate=2)
    gate = asyncio.Event()
    holder = asyncio.ensure_future(runner.run(counting(tally.id, gate)))
    queued = [asyncio.ensure_future(runner.run(counting(tally.id))) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as refused:
        await runner.run(counting(tally.id))
    assert refused.value.reason == "AGGREGATE_OVERLOADED"
    gate.set()
    assert sorted([await holder, *await asyncio.gather(*queued)]) == [1, 2, 3]
    assert len(store.events[tally.id]) == 1 + 3


async def test_a_command_whose_deadline_has_passed_is_not_started():
    runner, store, tally = await setup()
    started = []

    async def handler(uow):
        started.append(True)

    with deadline_scope(0.0), pytest.raises(Overloaded) as refused:
        await runner.run(handler)
    assert refused.value.reason == "DEADLINE_TOO_SHORT" and not started
    with deadline_scope(5.0):
        assert await runner.run(counting(tally.id)) == 1
