"""One business calendar decides every local day, and the domain never reads the tz database (issue 13, item 8)."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from domain.calendar import BRAND_CALENDAR, LocalCalendar
from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument
from domain.geo import Location
from domain.store_values import FulfilmentMode, OpeningHours

DOMAIN = Path(__file__).parents[2] / "domain"
EVENING_UTC = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)  # already 3 November in Shanghai and Tokyo


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_domain_module_reads_the_tz_database():
    readers = {p.name for p in DOMAIN.glob("*.py") if imported_modules(p) & {"zoneinfo", "pytz", "dateutil.tz"}}
    assert readers == set()


def test_no_domain_module_but_the_calendar_builds_its_own_fixed_offset():
    builders = {p.name for p in DOMAIN.glob("*.py") if "timedelta(hours=8)" in p.read_text()}
    assert builders == set()


def test_the_brand_calendar_is_shanghai_at_plus_eight_hours():
    assert BRAND_CALENDAR.day(EVENING_UTC) == date(2026, 11, 3)
    assert BRAND_CALENDAR.start_of(date(2026, 11, 3)) == datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


def test_a_zone_other_than_the_default_needs_its_offset_resolved_at_the_edge():
    with pytest.raises(InvalidArgument) as e:
        OpeningHours.always("Asia/Tokyo")
    assert e.value.reason == "INVALID_TIME_ZONE"
    assert OpeningHours.always("Asia/Tokyo", 540).local_date(EVENING_UTC) == date(2026, 11, 3)
    assert OpeningHours.always("UTC", 0).local_date(EVENING_UTC) == date(2026, 11, 2)


@pytest.mark.parametrize("bad", [15 * 60, -15 * 60, True, 1.5])
def test_an_offset_beyond_fourteen_hours_is_no_time_zone(bad):
    with pytest.raises(InvalidArgument) as e:
        LocalCalendar(bad)
    assert e.value.reason == "INVALID_TIME_ZONE"


def test_a_store_counts_capacity_and_books_revenue_on_the_same_local_day():
    store = CloudStore.open(
        brand="acme",
        code="UTC-1",
        name="London",
        location=Location(31.23, 121.47),
        service_radius_m=3000,
        modes=(FulfilmentMode.DELIVERY,),
        dealer_id="D1",
        hours=OpeningHours.always("UTC", 0),
        daily_capacity=5,
        at=EVENING_UTC,
    )
    order_id = uuid4()
    store.accept_order(order_id, EVENING_UTC)
    store.attribute_order(order_id, "D1", 1_000, EVENING_UTC)
    store.attribute_refund(order_id, "D1", 100, EVENING_UTC)
    accepted, attributed, refunded = store.collect_events()[1:]
    assert accepted.local_date == attributed.local_date == refunded.local_date == date(2026, 11, 2)
    assert store.orders_on_local_day(date(2026, 11, 2)) == 1
