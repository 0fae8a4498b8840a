"""An event happens at the time its command was given: its ``timestamp`` is its ``at``.

The API reports ``at`` (an order's ``placed_at``, ``paid_at``) and the audit history
orders and filters by ``timestamp``; if the two differ, the history contradicts the
API (an order is unpaid as of its own ``paid_at``). The workloads trigger every event
class of every aggregate (``test_the_workloads_trigger_every_event_class``), with
times far from the wall clock, so a timestamp taken from the clock shows at once.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from domain.brand_programme import BrandProgramme
from domain.programme import LoyaltyProgramme
from domain.settlement import Month, SettlementPeriod, StatementTotals
from tests.infrastructure.test_event_round_trip import aggregates_in, event_classes_of
from tests.infrastructure.test_snapshots import T0, WORKLOADS

MODULES = (
    "domain.member",
    "domain.guide",
    "domain.identity",
    "domain.cloud_store",
    "domain.order",
    "domain.settlement",
    "domain.brand_programme",
    "domain.stock",
    "domain.drop",
)


def settlement_workload() -> list[Aggregate]:
    return [
        SettlementPeriod.close(
            brand="acme",
            dealer_id="D1",
            month=Month(2024, 2),
            totals=StatementTotals(100, 10, 3, 1, 3),
            through_position=42,
            at=T0,
        )
    ]


def programme_workload() -> list[Aggregate]:
    programme = BrandProgramme.publish_first(replace(LoyaltyProgramme.default("acme"), version=2), T0)
    programme.publish(replace(LoyaltyProgramme.default("acme"), version=3), T0 + timedelta(days=1))
    return [programme]


def every_event() -> list[Any]:
    workloads = [*WORKLOADS.values(), settlement_workload, programme_workload]
    return [e for workload in workloads for aggregate in workload() for e in aggregate.collect_events()]


def test_the_events_checked_are_every_event_class_of_every_aggregate() -> None:
    classes = {c for m in map(importlib.import_module, MODULES) for a in aggregates_in(m) for c in event_classes_of(a)}
    assert {type(e) for e in every_event()} == classes


def test_every_event_is_timestamped_at_the_time_its_command_was_given() -> None:
    late = [(type(e).__qualname__, e.at, e.timestamp) for e in every_event() if e.timestamp != e.at]
    assert late == []


def test_an_aggregate_was_created_and_modified_at_its_commands_times() -> None:
    (programme,) = programme_workload()
    assert (programme.created_on, programme.modified_on) == (T0, T0 + timedelta(days=1))
