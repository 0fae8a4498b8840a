"""Every event class of every aggregate survives the real store with the exact type of every field.

A bare JSON round trip hands datetimes back as strings and tuples back as lists
without complaint; only a comparison of types, field by field and recursively,
catches that. The workloads come from test_snapshots; a new event class that no
workload triggers fails ``test_the_workloads_trigger_every_event_class``.

Stored events outlive the code: ``recorded/v1_store_and_orders.jsonl`` holds
CloudStore and Order events and snapshots exactly as the code of commit 893f56b
wrote them (a store whose state still held every order; routing decisions
without a programme version). They must keep replaying to the right state.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.cloud_store import LEGACY_BRAND, CloudStore, DealerTotals
from domain.errors import RuleViolation
from domain.member import Member
from domain.order import Order, OrderStatus
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from tests.infrastructure.test_snapshots import WORKLOADS, difference, state_of

AGGREGATE_MODULES = (
    "domain.member",
    "domain.guide",
    "domain.identity",
    "domain.cloud_store",
    "domain.order",
    "domain.stock",
    "domain.drop",
)

CONFIGURATIONS = {
    "plain": {},
    "compressed and encrypted": {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_KEY": "0123456789abcdef0123456789abcdef",
    },
}


def aggregates_in(module: ModuleType) -> list[type[Aggregate]]:
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Aggregate) and v.__module__ == module.__name__
    ]


def event_classes_of(aggregate: type[Aggregate]) -> set[type[Any]]:
    """The aggregate's concrete event classes: not the base ``Event``, nor the library's
    default ``Created`` when the aggregate names its own (``@event("Registered")``)."""
    found = {
        v
        for v in vars(aggregate).values()
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
async def test_every_event_reloads_from_the_store_with_exact_field_types(
    store: EventStore, env: dict[str, str]
) -> None:
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


# --- events and snapshots recorded by older code -----------------------------------------

RECORDED = Path(__file__).parent / "recorded" / "v1_store_and_orders.jsonl"
RECORDED_T0 = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
RECORDED_STORE = UUID("3d8dc0db-7a1e-5fdf-879a-86a079aca5d2")
RECORDED_ORDERS = (UUID("13635d84-cbac-558a-8475-e77c8affb501"), UUID("a0bd4b66-0b6b-51a1-b42b-440e81411c7d"))


def recorded(kind: str, originator_id: UUID) -> list[StoredEvent]:
    rows = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    return [
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode())
        for r in rows
        if r["kind"] == kind and UUID(r["originator_id"]) == originator_id
    ]


def replayed(stored: list[StoredEvent], aggregate: Aggregate | None = None) -> Any:
    mapper = build_mapper({})
    for s in stored:
        event: Any = mapper.to_domain_event(s)
        aggregate = event.mutate(aggregate)
    return aggregate


def test_cloud_store_events_recorded_by_the_older_code_replay_to_the_right_ledger_and_counts() -> None:
    """Mon: o1 (paid 12,800, refunded 2,800) and o2 accepted; dealer-b owns from Tue; Tue: o3 (paid 5,000,
    refunded 5,000), o4; o2 paid 7,000 on Tue (dealer-a's), refunded 1,000; Wed: o5 (3,000); Thu: o6."""
    store = replayed(recorded("event", RECORDED_STORE))
    assert store.version == 15
    assert store.ledger() == {"dealer-a": DealerTotals(19_800, 3_800), "dealer-b": DealerTotals(8_000, 5_000)}
    assert dict(store._recent_days) == {date(2024, 3, 6): 1, date(2024, 3, 7): 1}
    assert store.ownership_history == ((RECORDED_T0, "dealer-a"), (RECORDED_T0 + timedelta(days=1), "dealer-b"))
    assert not {"_accepted", "_accepted_per_day", "_bookings"} & set(vars(store))
    last_accepted = RECORDED_T0 + timedelta(days=3, hours=1)
    with pytest.raises(RuleViolation) as e:
        store.transfer_to_dealer("dealer-c", last_accepted, last_accepted)
    assert e.value.reason == "TRANSFER_BEFORE_ACCEPTED_ORDER"


def test_a_store_snapshot_with_per_order_state_upcasts_to_the_state_its_events_replay_to() -> None:
    (snapshot,) = recorded("snapshot", RECORDED_STORE)
    assert b'"_bookings"' in snapshot.state and b'"class_version"' not in snapshot.state  # a version-1 snapshot
    later = [s for s in recorded("event", RECORDED_STORE) if s.originator_version > snapshot.originator_version]
    from_snapshot = replayed(later, replayed([snapshot]))
    from_events = replayed(recorded("event", RECORDED_STORE))
    assert type(from_snapshot) is CloudStore
    assert difference(state_of(from_snapshot), state_of(from_events)) is None
    assert (
        difference(state_of(replayed([snapshot])), state_of(replayed(recorded("event", RECORDED_STORE)[:10]))) is None
    )


def test_routing_decisions_recorded_without_a_programme_version_decode_as_version_1() -> None:
    for order_id in RECORDED_ORDERS:
        stored = recorded("event", order_id)
        assert not any(b"programme_version" in s.state for s in stored)
        order = replayed(stored)
        decisions = [e.decision for e in map(build_mapper({}).to_domain_event, stored) if hasattr(e, "decision")]
        assert decisions and all(d.programme_version == 1 for d in decisions)
        assert order.decision.programme_version == 1
        (snapshot,) = recorded("snapshot", order_id)
        # Refund records (with their reasons) were not kept before: an older snapshot reads with none of them,
        # everything else equal to the replayed events.
        from_events = {k: v for k, v in state_of(order).items() if k != "refunds"}
        assert difference(state_of(replayed([snapshot])), from_events) is None
    shared = replayed(recorded("event", RECORDED_ORDERS[0]))
    assert shared.status is OrderStatus.REFUNDED and shared.dealer_id == "dealer-a"


def test_payments_recorded_before_they_carried_a_due_time_replay_without_one() -> None:
    """``Order.Paid`` version 1 had no ``settle_due_at``: it decodes as None (the application derives it
    from the programme in force at payment), and a new payment event says it is version 2."""
    mapper = build_mapper({})
    stored = recorded("event", RECORDED_ORDERS[0])
    (paid,) = [e for e in map(mapper.to_domain_event, stored) if isinstance(e, Order.Paid)]
    assert (paid.settle_due_at, paid.programme_version) == (None, None)
    order = replayed(stored)
    assert order.paid_at == paid.at and order.settle_due_at is None
    new = next(e for e in workload_events() if isinstance(e, Order.Paid))
    assert b'"class_version":2' in mapper.to_stored_event(new).state
    decoded: Any = mapper.to_domain_event(mapper.to_stored_event(new))
    assert decoded.settle_due_at == new.at + timedelta(days=7)


def test_a_store_recorded_before_stores_had_a_brand_belongs_to_no_brand() -> None:
    """Its Opened event (version 1) and its snapshot (version 1) carry no brand: no caller's brand matches ''."""
    stored = recorded("event", RECORDED_STORE)
    assert b'"brand"' not in stored[0].state
    assert replayed(stored).brand == LEGACY_BRAND == ""
    (snapshot,) = recorded("snapshot", RECORDED_STORE)
    assert replayed([snapshot]).brand == ""
