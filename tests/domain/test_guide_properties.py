"""Commission invariants under arbitrary sale / settle / claw-back sequences."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.guide import Guide
from domain.programme import LoyaltyProgramme

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PROGRAMME = LoyaltyProgramme.default("acme")
STORE = uuid4()

ops = st.one_of(
    st.tuples(st.just("sale"), st.integers(1, 100_000), st.integers(0, 10_000)),
    st.tuples(st.just("settle"), st.integers(0, 5)),
    st.tuples(st.just("claw"), st.integers(0, 5), st.integers(1, 100_000)),
    st.tuples(st.just("wait"), st.integers(0, 10)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, min_size=5, max_size=40))
def test_commission_credited_minus_clawed_equals_frozen_plus_settled_minus_debt(sequence):
    guide = Guide.hire("acme", STORE, "w", "n", T0)
    events = list(guide.collect_events())
    at, orders = T0, []
    for step, op in enumerate(sequence):
        version = guide.version
        try:
            if op[0] == "sale":
                commission = op[1] * op[2] // 10_000
                guide.credit_sale(
                    f"o{step}",
                    STORE,
                    op[1],
                    commission,
                    PROGRAMME,
                    at,
                    settle_after=at + timedelta(days=PROGRAMME.return_window_days),
                )
                orders.append(f"o{step}")
            elif op[0] == "settle" and orders:
                guide.settle_commission(orders[op[1] % len(orders)], at)
            elif op[0] == "claw" and orders:
                guide.claw_back(orders[op[1] % len(orders)], op[2], at)
            elif op[0] == "wait":
                at += timedelta(days=op[1])
        except DomainError:
            assert guide.version == version
        events.extend(guide.collect_events())
        credited = sum(e.commission_fen for e in events if type(e).__name__ == "SaleCredited")
        clawed = sum(e.commission_fen for e in events if type(e).__name__ == "CommissionClawedBack")
        assert credited - clawed == guide.frozen_fen + guide.settled_fen - guide.debt_fen
        assert min(guide.frozen_fen, guide.settled_fen, guide.debt_fen) >= 0
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt.__dict__ == guide.__dict__
