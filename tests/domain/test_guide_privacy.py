"""A guide's personal data: erasure forgets the WeCom id and name, only once the guide has left; figures stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidArgument, RuleViolation
from domain.guide import Guide
from domain.programme import LoyaltyProgramme

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_erasure_forgets_who_the_guide_was_and_keeps_customers_and_credits() -> None:
    guide = Guide.hire("acme", uuid4(), "wecom-zhang", "Zhang Wei", T0)
    member = uuid4()
    guide.add_customer(member, LoyaltyProgramme.default("acme"), T0)
    credits = guide.credits
    with pytest.raises(RuleViolation) as employed:
        guide.erase_personal_data("operator-1", "PIPL Art. 47", T0)
    assert employed.value.reason == "GUIDE_EMPLOYED" and guide.name == "Zhang Wei"
    guide.leave(T0 + timedelta(days=1))
    assert guide.erase_personal_data("operator-1", "PIPL Art. 47", T0 + timedelta(days=2))
    assert (guide.wecom_userid, guide.name) == (None, None) and guide.erased
    assert guide.customers == {member: T0} and guide.credits == credits
    assert not guide.erase_personal_data("operator-2", "again", T0 + timedelta(days=3))  # idempotent
    assert guide.erasure == ("operator-1", "PIPL Art. 47") and guide.erased_at == T0 + timedelta(days=2)
    assert [type(e).__name__ for e in guide.collect_events()].count("PersonalDataErased") == 1


@pytest.mark.parametrize(("by", "reason"), [("", "r"), ("x" * 65, "r"), ("op", "")])
def test_an_erasure_says_who_and_why(by: str, reason: str) -> None:
    guide = Guide.hire("acme", uuid4(), "wecom-li", "Li", T0)
    guide.leave(T0)
    with pytest.raises(InvalidArgument):
        guide.erase_personal_data(by, reason, T0)
    assert not guide.erased
