"""A member's personal data: erasure forgets who it is but keeps its points; consent and its withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidArgument, RuleViolation
from domain.identity import IdentityIds, IdentityKind
from domain.member import Member
from domain.programme import LoyaltyProgramme

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_erasure_forgets_the_person_and_keeps_the_points() -> None:
    member = Member.register("acme", "o-1", T0, unionid="u-1", phone="13800138000")
    member.update_profile(T0, nickname="Hong")
    member.earn_points("sign-in", 10, LoyaltyProgramme.default("acme"), T0)
    assert member.erase_personal_data("member", "PIPL Art. 47", T0 + timedelta(hours=1))
    assert (member.openid, member.unionid, member.phone, member.nickname, member.birthday) == (None,) * 5
    assert member.identity_keys() == () and member.erased
    assert member.balance(T0 + timedelta(hours=2)) == 10
    assert not member.erase_personal_data("operator", "again", T0 + timedelta(hours=2))  # idempotent
    assert member.erasure == ("member", "PIPL Art. 47")
    with pytest.raises(RuleViolation) as refused:
        member.update_profile(T0 + timedelta(hours=3), nickname="back")
    assert refused.value.reason == "MEMBER_ERASED"


def test_consent_and_its_withdrawal_are_recorded_only_when_they_change() -> None:
    member = Member.register("acme", "o-1", T0)
    assert member.marketing_consent is None
    member.record_marketing_consent(True, "miniprogram", T0)
    member.record_marketing_consent(True, "miniprogram", T0)
    member.record_marketing_consent(False, "miniprogram", T0 + timedelta(days=1))
    recorded = [type(e).__name__ for e in member.collect_events()]
    assert recorded.count("MarketingConsentRecorded") == 2 and member.marketing_consent is False


def test_blind_index_ids_are_keyed_and_normalised() -> None:
    a, b = IdentityIds(b"k" * 32), IdentityIds(b"j" * 32)
    assert a.index_id("acme", IdentityKind.PHONE, "+86 138-0013-8000") == a.index_id(
        "acme", IdentityKind.PHONE, "13800138000"
    )
    assert a.index_id("acme", IdentityKind.PHONE, "13800138000") != b.index_id(
        "acme", IdentityKind.PHONE, "13800138000"
    )
    assert a.index_id("acme", IdentityKind.OPENID, "x") != a.index_id("beta", IdentityKind.OPENID, "x")
    with pytest.raises(InvalidArgument):
        IdentityIds(b"short")
