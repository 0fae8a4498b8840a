"""The group committer lets the event loop run a few turns before it takes a batch (in memory, milliseconds)."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from application.repository import Repository
from application.unit_of_work import CommandRunner, UnitOfWork
from infrastructure.mapper import build_mapper
from tests.application.fakes import InMemoryStore
from tests.application.test_admission import Tally


def adding(tally_id: UUID, turns_before: int):
    async def handler(uow: UnitOfWork) -> None:
        for _ in range(turns_before):  # e.g. a read whose answer arrives some turns of the loop later
            await asyncio.sleep(0)
        (await uow.get(tally_id, Tally)).count()

    return handler


@pytest.mark.parametrize(
    ("gather_turns", "gather_tickets", "one_commit"),
    [(0, 12, False), (16, 12, True), (1000, 2, False), (1000, 256, True)],
)
async def test_commands_a_few_loop_turns_apart_commit_in_one_batch_when_the_committer_gathers(
    gather_turns: int, gather_tickets: int, one_commit: bool
):
    """Commands of four aggregates finish 0, 2, 4 and 6 turns of the loop after one another. Taking each batch at
    once writes them in several commits; letting 16 turns run first writes them in one. With turns to spare the
    committer takes its batch as soon as ``gather_tickets`` commands wait: several commits with 2, one with 256.
    Each command is written exactly once."""
    store = InMemoryStore()
    repository = Repository(store, build_mapper({}))
    tallies = [Tally() for _ in range(4)]
    for t in tallies:
        await repository.save(t)
    runner = CommandRunner(repository, gather_turns=gather_turns, gather_tickets=gather_tickets)
    before = store.commits
    await asyncio.gather(*(runner.run(adding(t.id, 2 * i)) for i, t in enumerate(tallies)))
    commits = store.commits - before
    assert commits == 1 if one_commit else commits > 1
    fresh = Repository(store, build_mapper({}))
    assert [(await fresh.get(t.id, Tally)).n for t in tallies] == [1, 1, 1, 1]
