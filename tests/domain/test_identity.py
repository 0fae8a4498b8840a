from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.errors import InvalidArgument, RuleViolation
from domain.identity import IdentityIndex, IdentityKind, conflicting_owners, resolve

AT = datetime(2024, 5, 1, tzinfo=UTC)


def test_the_same_identity_always_maps_to_the_same_index_id():
    a = IdentityIndex.create_id("acme", IdentityKind.OPENID, "o-1")
    assert a == IdentityIndex.create_id("acme", IdentityKind.OPENID, "o-1")
    assert a != IdentityIndex.create_id("other", IdentityKind.OPENID, "o-1")
    assert a != IdentityIndex.create_id("acme", IdentityKind.UNIONID, "o-1")


def test_phone_numbers_are_normalised_before_hashing():
    assert IdentityIndex.create_id("acme", IdentityKind.PHONE, "+86 138-0013-8000") == IdentityIndex.create_id(
        "acme", IdentityKind.PHONE, "13800138000"
    )


def test_claim_records_the_owner():
    owner = uuid4()
    index = IdentityIndex.claim("acme", IdentityKind.UNIONID, "u-1", owner, AT)
    assert index.id == IdentityIndex.create_id("acme", IdentityKind.UNIONID, "u-1")
    assert index.owner_id == owner
    assert [type(e).__name__ for e in index.collect_events()] == ["Claimed"]


def test_an_index_keeps_no_copy_of_the_identity():
    """The id names the identity; the value lives in its owner's events alone (PIPL: nothing twice)."""
    index = IdentityIndex.claim("acme", IdentityKind.PHONE, "13800138000", uuid4(), AT, index_id=uuid4())
    (claimed,) = index.collect_events()
    assert "13800138000" not in repr(vars(claimed)) and "13800138000" not in repr(vars(index))


@pytest.mark.parametrize(
    "kind,value", [(IdentityKind.PHONE, "not-a-phone"), ("openid", "o-1"), (IdentityKind.OPENID, " ")]
)
def test_claim_rejects_bad_identities(kind, value):
    with pytest.raises(InvalidArgument):
        IdentityIndex.claim("acme", kind, value, uuid4(), AT)


def test_reassign_release_and_reclaim():
    index = IdentityIndex.claim("acme", IdentityKind.PHONE, "13800138000", uuid4(), AT)
    survivor, newcomer = uuid4(), uuid4()
    index.reassign(survivor, AT)
    assert index.owner_id == survivor
    with pytest.raises(RuleViolation):
        index.reassign(survivor, AT)
    with pytest.raises(RuleViolation):
        index.reclaim(newcomer, AT)
    index.release(AT)
    assert index.owner_id is None
    with pytest.raises(RuleViolation):
        index.release(AT)
    index.reclaim(newcomer, AT)
    assert index.owner_id == newcomer
    assert [type(e).__name__ for e in index.collect_events()] == ["Claimed", "Reassigned", "Released", "Reclaimed"]


def test_resolve_prefers_unionid_then_openid_then_phone():
    by_union, by_open, by_phone = uuid4(), uuid4(), uuid4()
    assert (
        resolve([(IdentityKind.PHONE, by_phone), (IdentityKind.OPENID, by_open), (IdentityKind.UNIONID, by_union)])
        == by_union
    )
    assert (
        resolve([(IdentityKind.PHONE, by_phone), (IdentityKind.OPENID, by_open), (IdentityKind.UNIONID, None)])
        == by_open
    )
    assert resolve([(IdentityKind.PHONE, by_phone)]) == by_phone
    assert resolve([(IdentityKind.OPENID, None)]) is None


def test_two_owners_for_one_person_are_a_merge_candidate():
    a, b = uuid4(), uuid4()
    assert conflicting_owners([(IdentityKind.OPENID, a), (IdentityKind.PHONE, b), (IdentityKind.UNIONID, None)]) == {
        a,
        b,
    }
