from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid5

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attribution import AttributionPolicy, AttributionSource
from domain.brand_programme import BrandProgramme, programme_id
from domain.errors import InvalidArgument, NotFound, RuleViolation
from domain.identity import NAMESPACE
from domain.programme import LoyaltyProgramme
from infrastructure.mapper import build_transcoder

UTC = UTC
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
DEFAULT = LoyaltyProgramme.default("acme")


def version(n: int, brand: str = "acme", **changes) -> LoyaltyProgramme:
    return replace(LoyaltyProgramme.default(brand), version=n, **changes)


def test_a_programme_carries_the_default_attribution_precedence():
    assert DEFAULT.attribution == AttributionPolicy()
    assert DEFAULT.attribution.precedence[0] is AttributionSource.ENTRY_CONTEXT


def test_a_programme_refuses_an_attribution_that_is_not_a_policy():
    with pytest.raises(InvalidArgument) as refused:
        replace(DEFAULT, attribution="NEAREST")
    assert refused.value.reason == "INVALID_POLICY"


def test_a_stored_programme_from_before_attribution_existed_still_decodes():
    transcoder = build_transcoder()
    stored = orjson.loads(transcoder.encode({"p": replace(DEFAULT, points_per_yuan=3)}))
    del stored["p"]["_data_"]["attribution"]  # what a programme written before the field looks like
    assert transcoder.decode(orjson.dumps(stored))["p"] == replace(DEFAULT, points_per_yuan=3)


def test_a_publication_round_trips_through_the_transcoder_with_exact_types():
    policy = AttributionPolicy(
        precedence=(AttributionSource.NEAREST, AttributionSource.HOME_STORE),
        fallback_target="acme-online",
        max_distance_m=5_000,
        tie_tolerance_m=0,
    )
    publication = BrandProgramme.publish_first(version(3, points_per_yuan=4, attribution=policy), T0).publications[0]
    transcoder = build_transcoder()
    copy = transcoder.decode(transcoder.encode({"p": publication}))["p"]
    assert copy == publication and copy.published_at.tzinfo is not None
    assert type(copy.programme.attribution.precedence) is tuple
    assert copy.programme.attribution.precedence[0] is AttributionSource.NEAREST


def test_the_id_is_derived_from_the_brand():
    assert BrandProgramme.create_id("acme") == uuid5(NAMESPACE, "acme:programme") == programme_id("acme")
    assert programme_id("acme") != programme_id("brio")


def test_the_first_publication_creates_the_brands_programme_history():
    brand = BrandProgramme.publish_first(version(2, points_per_yuan=2), T0)
    assert brand.id == programme_id("acme") and brand.brand == "acme"
    assert brand.current.points_per_yuan == 2
    assert [type(e).__name__ for e in brand.collect_events()] == ["Started", "Published"]


def test_the_first_published_version_must_be_above_the_defaults_version_1():
    with pytest.raises(RuleViolation) as refused:
        BrandProgramme.publish_first(version(1), T0)
    assert refused.value.reason == "PROGRAMME_VERSION_NOT_NEWER"
    assert refused.value.details == {"version": "1", "current_version": "1"}


def test_later_publications_become_current_and_earlier_versions_stay_readable():
    brand = BrandProgramme.publish_first(version(2, points_per_yuan=2), T0)
    brand.publish(version(5, points_per_yuan=3), T0 + timedelta(days=1))
    assert brand.current.version == 5
    assert brand.programme_at(2).points_per_yuan == 2
    assert [p.published_at for p in brand.publications] == [T0, T0 + timedelta(days=1)]


@pytest.mark.parametrize("stale", [1, 2, 3])
def test_a_version_not_above_the_current_one_is_refused_without_an_event(stale):
    brand = BrandProgramme.publish_first(version(3), T0)
    brand.collect_events()
    with pytest.raises(RuleViolation) as refused:
        brand.publish(version(stale, points_per_yuan=9), T0)
    assert refused.value.reason == "PROGRAMME_VERSION_NOT_NEWER"
    assert brand.pending_events == [] and brand.current == version(3)


def test_another_brands_programme_is_refused():
    brand = BrandProgramme.publish_first(version(2), T0)
    with pytest.raises(InvalidArgument) as refused:
        brand.publish(version(3, brand="brio"), T0)
    assert refused.value.reason == "BRAND_MISMATCH"
    assert len(brand.pending_events) == 2


@pytest.mark.parametrize("programme, at", [("rules", T0), (None, T0), (version(2), T0.replace(tzinfo=None))])
def test_a_malformed_publication_is_refused(programme, at):
    with pytest.raises(InvalidArgument):
        BrandProgramme.publish_first(programme, at)


def test_an_unknown_version_is_not_found():
    brand = BrandProgramme.publish_first(version(2), T0)
    with pytest.raises(NotFound) as missing:
        brand.programme_at(3)
    assert missing.value.reason == "PROGRAMME_VERSION_NOT_FOUND"
    with pytest.raises(InvalidArgument):
        brand.programme_at(0)


def test_a_brand_programme_replays_to_the_same_state():
    brand = BrandProgramme.publish_first(version(2), T0)
    brand.publish(version(3, attribution=AttributionPolicy(precedence=(AttributionSource.NEAREST,))), T0)
    copy = None
    for e in brand.collect_events():
        copy = e.mutate(copy)
    assert copy.publications == brand.publications


@given(st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_published_versions_strictly_increase_whatever_is_tried(attempts):
    brand = None
    for n in attempts:
        try:
            if brand is None:
                brand = BrandProgramme.publish_first(version(n), T0)
            else:
                brand.publish(version(n), T0)
        except RuleViolation:
            pass
    versions = [p.programme.version for p in brand.publications] if brand else []
    assert versions == sorted(set(versions)) and all(v > 1 for v in versions)
    expected = []
    for n in attempts:
        if n > max(expected, default=1):
            expected.append(n)
    assert versions == expected
