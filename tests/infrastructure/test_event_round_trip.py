"""Every event class of every aggregate survives the real store with the exact type of every field.

A bare JSON round trip hands datetimes back as strings and tuples back as lists
without complaint; only a comparison of types, field by field and recursively,
catches that. The workloads come from test_snapshots; a new event class that no
workload triggers fails ``test_the_workloads_trigger_every_event_class``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from domain.member import Member
from domain.order import Order
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from tests.infrastructure.test_snapshots import WORKLOADS, difference

AGGREGATE_MODULES = ("domain.member", "domain.guide", "domain.identity", "domain.cloud_store", "domain.order")

CONFIGURATIONS = {
    "plain": {},
    "compressed and encrypted": {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_KEY": "0123456789abcdef0123456789abcdef",
    },
}


def aggregates_in(module: ModuleType) -> list[type[Aggregate]]:
    return [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Aggregate) and v.__module__ == module.__name__
    ]


def event_classes_of(aggregate: type[Aggregate]) -> set[type[Any]]:
    """The aggregate's concrete event classes: not the base ``Event``, nor the library's
    default ``Created`` when the aggregate names its own (``@event("Registered")``)."""
    found = {
        v for v in vars(aggregate).values()
        if isinstance(v, type) and issubclass(v, Aggregate.Event) and v.__module__ == aggregate.__module__
    }
    bases = {cls for cls in found if any(other is not cls and issubclass(other, cls) for other in found)}
    own_created = [cls for cls in found if issubclass(cls, Aggregate.Created) and cls is not aggregate.Created]
    return found - bases - ({aggregate.Created} if own_created else set())


def defined_event_classes() -> set[type[Any]]:
    modules = map(importlib.import_module, AGGREGATE_MODULES)
    return {cls for module in modules for aggregate in aggregates_in(module) for cls in event_classes_of(aggregate)}


def fields_of(domain_event: Any) -> dict[str, Any]:
    """Every attribute, in name order (the mapper restores the ids last)."""
    return dict(sorted(vars(domain_event).items()))


def workload_events() -> list[Any]:
    return [e for workload in WORKLOADS.values() for aggregate in workload() for e in aggregate.collect_events()]


def test_every_aggregate_module_has_a_workload() -> None:
    names = {a.__name__ for m in map(importlib.import_module, AGGREGATE_MODULES) for a in aggregates_in(m)}
    assert names == set(WORKLOADS)


def test_the_workloads_trigger_every_event_class() -> None:
    classes = defined_event_classes()
    # The discovery itself works: triggered classes in, never-triggered bases out.
    assert {Member.Registered, Member.PointsEarned, Order.Refunded} <= classes
    assert not {Member.Event, Member.Created, Aggregate.Event} & classes
    assert {type(e) for e in workload_events()} == classes


@pytest.mark.parametrize("env", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
async def test_every_event_reloads_from_the_store_with_exact_field_types(store: EventStore, env: dict[str, str]) -> None:
    events = workload_events()
    mapper = build_mapper(env)
    await store.insert_events([mapper.to_stored_event(e) for e in events])

    reloaded = []
    for originator_id in dict.fromkeys(e.originator_id for e in events):
        reloaded += [mapper.to_domain_event(s) for s in await store.select_events(originator_id)]

    assert len(reloaded) == len(events)
    originals = {(e.originator_id, e.originator_version): e for e in events}
    for copy in reloaded:
        original = originals[(copy.originator_id, copy.originator_version)]
        assert type(copy) is type(original)
        assert difference(fields_of(copy), fields_of(original), type(original).__qualname__) is None
