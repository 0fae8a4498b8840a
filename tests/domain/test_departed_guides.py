"""A guide who has left earns nothing: routing skips them and says so, the guide refuses new credit.

A customer whose departed guide's handover was refused (or not yet made) stays
with the store: routing falls to the member's home store (or the nearest), and no
guide is credited. An old share link of a departed guide does the same. Sales
credited while the guide was employed still settle and claw back.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attribution import AttributionSource, EntryContext, GuideCreditSource, GuideRef
from domain.errors import RuleViolation
from domain.guide import Guide
from domain.programme import LoyaltyProgramme
from domain.routing import StepOutcome, StepReason, decide
from tests.domain.test_routing import NOON_SHANGHAI, POLICY, facts, store_at

PROGRAMME = LoyaltyProgramme.default("acme")


def steps(decision):
    return [(s.source, s.outcome, s.reason) for s in decision.explanation]


def test_a_departed_bound_guide_is_skipped_with_the_reason_and_the_home_store_serves_uncredited():
    guide_store, home = store_at(800), store_at(1200)
    guide = uuid4()
    f = facts(
        bound_guide=GuideRef(guide, guide_store.store_id),
        home_store_id=home.store_id,
        departed_guides=frozenset({guide}),
    )
    d = decide(f, [guide_store, home], POLICY, NOON_SHANGHAI)
    assert d.store_id == home.store_id and d.attributed_by is AttributionSource.HOME_STORE
    assert d.guide_credit is None and not d.dual_credit
    assert (AttributionSource.BOUND_GUIDE_STORE, StepOutcome.SKIPPED, StepReason.GUIDE_LEFT) in steps(d)


def test_an_old_share_link_of_a_departed_guide_names_no_store_and_credits_nobody():
    sharer_store, near = store_at(900), store_at(300)
    sharer = uuid4()
    f = facts(entry=EntryContext.guide_share(sharer, sharer_store.store_id), departed_guides=frozenset({sharer}))
    d = decide(f, [sharer_store, near], POLICY, NOON_SHANGHAI)
    assert d.store_id == near.store_id and d.attributed_by is AttributionSource.NEAREST
    assert d.guide_credit is None
    assert steps(d)[0] == (AttributionSource.ENTRY_CONTEXT, StepOutcome.SKIPPED, StepReason.GUIDE_LEFT)


def test_a_departed_sharers_link_leaves_the_credit_to_the_members_employed_bound_guide():
    sharer_store, bound_store = store_at(900), store_at(400)
    sharer, bound = uuid4(), uuid4()
    f = facts(
        entry=EntryContext.guide_share(sharer, sharer_store.store_id),
        bound_guide=GuideRef(bound, bound_store.store_id),
        departed_guides=frozenset({sharer}),
    )
    d = decide(f, [sharer_store, bound_store], POLICY, NOON_SHANGHAI)
    assert d.store_id == bound_store.store_id
    assert (d.guide_credit.guide_id, d.guide_credit.source) == (bound, GuideCreditSource.BOUND_GUIDE)


@given(share=st.booleans(), bind=st.booleans(), share_left=st.booleans(), bound_left=st.booleans())
def test_no_decision_ever_credits_a_departed_guide(share, bind, share_left, bound_left):
    store = store_at(500)
    sharer, bound = uuid4(), uuid4()
    departed = frozenset({g for g, left in ((sharer, share_left), (bound, bound_left)) if left})
    f = facts(
        entry=EntryContext.guide_share(sharer, store.store_id) if share else EntryContext(),
        bound_guide=GuideRef(bound, store.store_id) if bind else None,
        departed_guides=departed,
    )
    d = decide(f, [store], POLICY, NOON_SHANGHAI)
    assert d.guide_credit is None or d.guide_credit.guide_id not in departed
    assert d.store_id == store.store_id  # the customer is still served


def hired_and_left() -> tuple[Guide, object]:
    at = NOON_SHANGHAI
    guide = Guide.hire("acme", uuid4(), "wx-gone", "Gone", at)
    guide.credit_sale("o-before", guide.store_id, 10_000, 300, PROGRAMME, at, settle_after=at + timedelta(days=7))
    guide.leave(at + timedelta(days=1))
    return guide, at + timedelta(days=2)


def test_a_guide_who_left_refuses_sales_and_referral_credit():
    guide, later = hired_and_left()
    with pytest.raises(RuleViolation) as sale:
        guide.credit_sale("o-after", guide.store_id, 10_000, 300, PROGRAMME, later, settle_after=later)
    with pytest.raises(RuleViolation) as referral:
        guide.credit_referral(uuid4(), PROGRAMME, later)
    assert sale.value.reason == referral.value.reason == "GUIDE_LEFT"
    assert guide.frozen_fen == 300 and not guide.has_sale("o-after")


def test_what_a_guide_earned_before_leaving_still_settles_and_claws_back():
    guide, later = hired_and_left()
    assert guide.has_sale("o-before")
    guide.claw_back("o-before", 5_000, later)
    assert guide.settle_commission("o-before", later + timedelta(days=7)) == 150
