"""One validation style in the domain: the same failure always gives the same reason (issue 13, item 10)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.geo import Location
from domain.guide import Guide
from domain.loyalty_args import MAX_BRAND_LENGTH, check_int, check_text
from domain.member import Member
from domain.order import Order, OrderLine
from domain.programme import LoyaltyProgramme
from domain.store_values import FulfilmentMode, require_int, require_text

AT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
CONTROL = st.sampled_from([chr(c) for c in range(32) if chr(c) not in "\t\n\r"])


def reason_of(action) -> str | None:
    try:
        action()
    except InvalidArgument as e:
        return e.reason
    return None


def expected_reason(value: str, limit: int) -> str | None:
    if not value.strip():
        return "FIELD_REQUIRED"
    if len(value) > limit or any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        return "INVALID_TEXT"
    return None


BRAND_TAKERS = {
    "Member.register": lambda b: Member.register(b, "o-1", AT),
    "Guide.hire": lambda b: Guide.hire(b, uuid4(), "wx-1", "Li", AT),
    "Order.place": lambda b: Order.place(
        member_id=uuid4(),
        brand=b,
        mode=FulfilmentMode.DELIVERY,
        customer_location=Location(31.23, 121.47),
        lines=[OrderLine("SKU", 1, 100)],
        at=AT,
    ),
    "LoyaltyProgramme": lambda b: LoyaltyProgramme(brand=b, version=2),
}

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=" \t\n", max_size=5),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=20), CONTROL, st.text(max_size=20)),
    st.integers(MAX_BRAND_LENGTH - 2, MAX_BRAND_LENGTH + 2).map(lambda n: "b" * n),
)


@given(texts)
def test_every_command_taking_a_brand_refuses_a_bad_one_for_the_same_reason(brand):
    reasons = {name: reason_of(lambda take=take: take(brand)) for name, take in BRAND_TAKERS.items()}
    assert reasons == dict.fromkeys(BRAND_TAKERS, expected_reason(brand, MAX_BRAND_LENGTH))


@given(texts, st.integers(1, 300))
def test_both_spellings_of_the_text_check_are_one_rule(value, limit):
    assert reason_of(lambda: check_text("f", value, max_length=limit)) == expected_reason(value, limit)
    assert reason_of(lambda: require_text(value, "f", limit)) == expected_reason(value, limit)


@given(st.one_of(st.integers(-10, 20), st.booleans(), st.floats(allow_nan=False), st.none()))
def test_both_spellings_of_the_integer_check_are_one_rule(value):
    assert reason_of(lambda: require_int(value, "n", 0, 10)) == reason_of(
        lambda: check_int("n", value, minimum=0, maximum=10)
    )


@pytest.mark.parametrize("birthday", [date(2999, 1, 1), date(2026, 11, 3), date(1899, 12, 31)])
def test_a_birthday_after_today_or_before_1900_is_out_of_range(birthday):
    member = Member.register("acme", "o-1", AT)
    with pytest.raises(InvalidArgument) as e:
        member.update_profile(AT, birthday=birthday)
    assert (e.value.reason, e.value.details["field"]) == ("OUT_OF_RANGE", "birthday")
    member.update_profile(AT, birthday=date(2026, 11, 2))  # today (Shanghai) is fine
