"""Drop use cases against the in-memory ports: idempotent entries, the invitation bonus, draw, claim, pass on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest

from application.clock import ManualClock
from application.drops import DropEntryIndex, DropService, DropSpec
from application.members import MemberService
from application.programmes import ProgrammeCatalog
from application.repository import Repository
from application.unit_of_work import CommandRunner
from domain.drop import DropPool, EntryTickets, draw_order
from domain.errors import DomainError, RuleViolation
from infrastructure.drop_seeds import HmacSeedSource
from infrastructure.mapper import build_mapper
from tests.application.conftest import START
from tests.application.fakes import InMemoryStore

HOUR = timedelta(hours=1)


@dataclass
class DropApp:
    store: InMemoryStore
    clock: ManualClock
    members: MemberService
    drops: DropService
    seeds: HmacSeedSource


@pytest.fixture
async def app() -> DropApp:
    store, mapper, clock = InMemoryStore(), build_mapper({}), ManualClock(START)
    runner = CommandRunner(Repository(store, mapper))
    programmes = ProgrammeCatalog(runner, clock)
    seeds = HmacSeedSource(b"k" * 32)
    return DropApp(
        store,
        clock,
        MemberService(runner, clock, programmes),
        DropService(runner, clock, programmes, seeds, mapper, DropEntryIndex(store, mapper)),
        seeds,
    )


def spec(units: int = 2, **kw) -> DropSpec:
    args = dict(
        name="Sneaker",
        sku="SNK-1",
        pools=(DropPool(None, units),),
        registration_opens_at=START + HOUR,
        registration_closes_at=START + 2 * HOUR,
        purchase_window_minutes=30,
        per_member_limit=1,
        tickets_per_invite=3,
        invite_ticket_cap=3,
    )
    return DropSpec(**{**args, **kw})


async def test_the_commitment_is_the_hash_of_the_seed_the_draw_reveals(app):
    old = await app.members.register("acme", "o-old")  # a member before the drop
    drop = await app.drops.create("acme", spec())
    assert drop.commitment == hashlib.sha256(app.seeds.seed_for(drop.id)).hexdigest()
    app.clock.advance(hours=1)
    inviter = await app.members.register("acme", "o-inviter")
    new = await app.members.register("acme", "o-new", referrer_id=inviter.id)
    first = await app.drops.register(drop.id, inviter.id)
    again = await app.drops.register(drop.id, inviter.id)
    assert first.id == again.id and first.version == again.version  # idempotent
    await app.drops.register(drop.id, new.id, invited_by=inviter.id)
    await app.drops.register(drop.id, old.id, invited_by=inviter.id)  # not new, not the inviter's invitee: no bonus
    assert (await app.drops.entry(drop.id, inviter.id)).tickets == 4

    with pytest.raises(RuleViolation):
        await app.drops.draw(drop.id)
    app.clock.advance(hours=1, minutes=1)
    drawn = await app.drops.draw(drop.id)

    assert bytes.fromhex(drawn.seed) == app.seeds.seed_for(drop.id)
    entries = [EntryTickets(inviter.id, None, 4), EntryTickets(new.id, None, 1), EntryTickets(old.id, None, 1)]
    assert set(drawn.offers) == set(draw_order(app.seeds.seed_for(drop.id), entries)[:2])


async def test_another_brand_neither_sees_nor_enters_a_drop(app):
    drop = await app.drops.create("acme", spec())
    other = await app.members.register("other", "o-1")
    app.clock.advance(hours=1)
    with pytest.raises(DomainError) as e:
        await app.drops.register(drop.id, other.id, brand="other")
    assert e.value.reason.endswith("NOT_FOUND")
    with pytest.raises(DomainError) as e:
        await app.drops.register(drop.id, other.id)  # the member is another brand's
    assert e.value.reason.endswith("NOT_FOUND")


async def test_winners_claim_and_unclaimed_units_pass_on(app):
    drop = await app.drops.create("acme", spec(units=1))
    app.clock.advance(hours=1)
    members = [await app.members.register("acme", f"o-{i}") for i in range(5)]
    for m in members:
        await app.drops.register(drop.id, m.id)
    app.clock.advance(hours=1, minutes=1)
    drawn = await app.drops.draw(drop.id)
    (winner,) = drawn.offers
    app.clock.advance(minutes=31)
    with pytest.raises(RuleViolation):
        await app.drops.claim(drop.id, winner)
    passed = await app.drops.pass_on(drop.id)
    (second,) = [m for m, o in passed.offers.items() if not o.lapsed]
    assert second != winner
    order = draw_order(app.seeds.seed_for(drop.id), [EntryTickets(m.id, None, 1) for m in members])
    assert order[:2] == [winner, second]
    await app.drops.claim(drop.id, second)
    assert (await app.drops.get(drop.id)).offers[second].claimed
