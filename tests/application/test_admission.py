"""Admission control: bounded work in flight, refused at once beyond it, never at an acknowledged write's cost."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from eventsourcing.domain import Aggregate, event

from application.admission import Admission, Budget, Overloaded, deadline_scope, watch_loop
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
    runner, _, tally = await setup()
    started = []

    async def handler(uow):
        started.append(True)

    with deadline_scope(0.0), pytest.raises(Overloaded) as refused:
        await runner.run(handler)
    assert refused.value.reason == "DEADLINE_TOO_SHORT" and not started
    with deadline_scope(5.0):
        assert await runner.run(counting(tally.id)) == 1


# --- the door: refused before any work, by count and by how far behind the event loop runs ---


def test_the_door_admits_calls_up_to_its_budget_and_refuses_the_next_with_a_retry_delay():
    admission = Admission(Budget(max_calls=2, retry_after=0.3))
    assert admission.enter_call() is None and admission.enter_call() is None
    refused = admission.enter_call()
    assert isinstance(refused, Overloaded)
    assert (refused.reason, refused.retry_after, refused.details["limit"]) == ("OVERLOADED", 0.3, "2")
    assert admission.calls == 2 and admission.refused_at_door == 1  # a refusal takes no place
    admission.leave_call()
    assert admission.enter_call() is None  # room again once a call leaves


def test_while_the_event_loop_runs_behind_only_a_few_calls_are_let_in_the_rest_refused_as_saturated():
    admission = Admission(Budget(max_lag=0.05, calls_when_busy=2))
    admission.observe_lag(0.2)  # every call taken now has already waited at least this long
    assert admission.enter_call() is None and admission.enter_call() is None  # a few callers queue no deeper
    refused = admission.enter_call()
    assert (
        refused is not None
        and (refused.reason, refused.details["cause"]) == ("OVERLOADED", "SATURATED")
        and refused.retry_after > 0
    )
    assert admission.calls == 2
    admission.observe_lag(0.001)
    assert admission.enter_call() is None and admission.calls == 3


def test_a_busy_loop_lets_in_only_a_few_calls_and_no_lag_limit_means_none():
    admission = Admission(Budget(max_lag=0, max_busy=0.9, calls_when_busy=1))
    admission.observe_lag(10.0)  # max_lag 0: lag alone refuses nothing
    assert admission.enter_call() is None and admission.enter_call() is None
    admission.observe_busy(0.99)
    refused = admission.enter_call()
    assert refused is not None and (refused.reason, refused.details["cause"]) == ("OVERLOADED", "SATURATED")
    admission.observe_busy(0.5)
    assert admission.enter_call() is None and admission.calls == 3


async def test_the_loop_watch_sees_a_loop_held_up_by_blocking_work():
    admission = Admission()
    watch = asyncio.ensure_future(watch_loop(admission, interval=0.005, window=0.01))
    try:
        await asyncio.sleep(0.02)  # the watch is running
        time.sleep(0.2)  # noqa: ASYNC251 - blocks the loop on purpose: what the watch must see
        for _ in range(100):
            if admission.lag >= 0.1:
                break
            await asyncio.sleep(0)
        assert admission.lag >= 0.1
        assert admission.busy > 0.5  # the last window was spent working, not waiting for I/O
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
