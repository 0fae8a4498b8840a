"""Zone names become fixed offsets at the edge; zones with daylight saving are refused (issue 13, item 8)."""

from __future__ import annotations

import orjson
import pytest

from domain.errors import InvalidArgument
from domain.store_values import OpeningHours
from infrastructure.mapper import build_transcoder
from infrastructure.time_zones import fixed_offset_minutes


@pytest.mark.parametrize(
    ("name", "minutes"), [("Asia/Shanghai", 480), ("Asia/Tokyo", 540), ("UTC", 0), ("Asia/Kolkata", 330)]
)
def test_a_fixed_offset_zone_resolves_to_its_offset(name, minutes):
    assert fixed_offset_minutes(name) == minutes


@pytest.mark.parametrize("name", ["America/New_York", "Europe/London", "Australia/Sydney", "Mars/Olympus", ""])
def test_a_zone_with_daylight_saving_or_no_zone_at_all_is_refused(name):
    with pytest.raises(InvalidArgument) as e:
        fixed_offset_minutes(name)
    assert e.value.reason == "INVALID_TIME_ZONE"


def test_hours_recorded_before_offsets_were_stored_get_their_zones_offset_when_read():
    transcoder = build_transcoder()
    recorded = {
        "_type_": "domain.store_values:OpeningHours",
        "_data_": {"days": {"_type_": "tuple_as_list", "_data_": []}, "time_zone": "Asia/Tokyo"},
    }
    hours = transcoder.decode(orjson.dumps({"hours": recorded}))["hours"]
    assert hours == OpeningHours((), "Asia/Tokyo", 540)
    assert transcoder.decode(transcoder.encode({"hours": hours}))["hours"] == hours
