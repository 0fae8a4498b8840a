"""What happens to orders, guides and times as members merge, guides move or leave, and rules change."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from protos.loyalty.v1 import attribution_pb2 as a
from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import described, draft, store_spec
from tests.api.conftest import START, auth
from tests.api.test_errors import PRECONDITION, expect
from tests.api.test_programmes import publish

OP, MP, AU, D1 = auth("operator"), auth("miniprogram"), auth("auditor"), auth("dealer:D1")
CUSTOMER = (31.2305, 121.4738)


async def _store(api, code="S-1", lat=31.2310, lng=121.4740, dealer="D1"):
    return await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec(code, lat, lng, dealer))
        ),
        metadata=OP,
    )


async def _member(api, openid, **kw):
    return await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid=openid, **kw)), metadata=MP
    )


async def _place(api, member, fen=10_000, entry=None):
    await api.settled()
    return await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, *CUSTOMER, fen=fen, entry=entry)),
        metadata=MP,
    )


async def _pay(api, order, fen=10_000):
    return await api.orders.PayOrder(
        o.PayOrderRequest(request_id=api.rid(), name=order.name, paid_fen=fen), metadata=MP
    )


async def _state(api, name, as_of):
    request = au.GetAggregateStateRequest(name=name)
    request.as_of_time.CopyFrom(as_of)
    return (await api.audit.GetAggregateState(request, metadata=AU)).order


# --- times -------------------------------------------------------------------------------------------------


async def test_the_history_as_of_the_times_the_api_reports_shows_those_facts(api):
    await _store(api)
    order = await _place(api, await _member(api, "o-1"))
    api.clock.advance(minutes=5)
    await _pay(api, order)

    placed = await _state(api, order.name, order.place_time)
    assert placed.state == o.ORDER_STATE_ALLOCATED
    attribution = await api.attribution.GetOrderAttribution(a.GetOrderAttributionRequest(name=order.name), metadata=D1)
    paid = await _state(api, order.name, attribution.pay_time)
    assert paid.state == o.ORDER_STATE_PAID
    events = [e async for e in api.audit.StreamEvents(au.StreamEventsRequest(aggregate=order.name), metadata=AU)]
    assert [e.record_time for e in events] == [order.place_time, order.place_time, attribution.pay_time]


# --- guides who move or leave ------------------------------------------------------------------------------


async def _guide(api, store, wecom):
    return await api.guides.HireGuide(
        s.HireGuideRequest(
            request_id=api.rid(), brand="acme", guide=s.Guide(store=store.name, wecom_userid=wecom, display_name=wecom)
        ),
        metadata=OP,
    )


async def _bind(api, member, guide):
    return await api.members.BindGuide(
        m.BindGuideRequest(request_id=api.rid(), name=member.name, guide=guide.name), metadata=MP
    )


async def _get_guide(api, guide):
    return await api.guides.GetGuide(s.GetGuideRequest(name=guide.name), metadata=OP)


async def test_orders_after_a_guide_moved_credit_the_guides_new_store(api):
    first, second = await _store(api, "S-1"), await _store(api, "S-2", 31.2320, 121.4750)
    guide = await _guide(api, first, "wx-mover")
    member = await _bind(api, await _member(api, "o-1"), guide)
    await api.guides.MoveGuide(
        s.MoveGuideRequest(request_id=api.rid(), name=guide.name, to_store=second.name), metadata=OP
    )

    order = await _place(api, member)
    assert order.routing.store == second.name  # the bound guide's store is where the guide works now
    assert (order.routing.guide_credit.guide_store, order.routing.guide_credit.dual_credit) == (second.name, False)


async def test_a_departed_guide_whose_handover_was_refused_earns_nothing_and_the_customer_stays_with_the_store(api):
    home = await _store(api, "S-HOME", 31.2330, 121.4760)
    await _store(api, "S-NEAR")
    leaving, taking = await _guide(api, home, "wx-leaving"), await _guide(api, home, "wx-taking")
    member = await _bind(api, await _member(api, "o-1"), leaving)
    await api.guides.ReleaseGuide(s.ReleaseGuideRequest(request_id=api.rid(), name=leaving.name), metadata=OP)
    await api.guides.InheritCustomers(
        s.InheritCustomersRequest(request_id=api.rid(), name=leaving.name, to_guide=taking.name), metadata=OP
    )
    await api.guides.ConcludeHandover(
        s.ConcludeHandoverRequest(
            request_id=api.rid(), name=taking.name, member=member.name, accept=False, reason="NOT_MY_AREA"
        ),
        metadata=OP,
    )

    order = await _place(api, member)
    assert order.routing.store == home.name and not order.routing.HasField("guide_credit")
    assert [described(x) for x in order.routing.attribution][:3] == [
        ("ENTRY_CONTEXT", "SKIPPED: NO_ENTRY_CONTEXT"),
        ("BOUND_GUIDE_STORE", "SKIPPED: GUIDE_LEFT"),
        ("HOME_STORE", "CHOSEN"),
    ]
    await _pay(api, order)
    gone = await _get_guide(api, leaving)
    assert (gone.commission_frozen_fen, gone.commission_settled_fen) == (0, 0)


async def test_an_old_share_link_of_a_departed_guide_credits_nobody(api):
    store = await _store(api)
    sharer = await _guide(api, store, "wx-sharer")
    await api.guides.ReleaseGuide(s.ReleaseGuideRequest(request_id=api.rid(), name=sharer.name), metadata=OP)

    link = o.EntryContext(kind=o.ENTRY_KIND_GUIDE_SHARE, guide=sharer.name)
    order = await _place(api, await _member(api, "o-1"), entry=link)
    assert not order.routing.HasField("guide_credit")
    assert described(order.routing.attribution[0]) == ("ENTRY_CONTEXT", "SKIPPED: GUIDE_LEFT")
    await _pay(api, order)
    assert (await _get_guide(api, sharer)).commission_frozen_fen == 0


async def test_a_guide_who_leaves_between_placement_and_payment_earns_nothing_and_the_refund_still_works(api):
    store = await _store(api)
    guide = await _guide(api, store, "wx-1")
    order = await _place(api, await _bind(api, await _member(api, "o-1"), guide))
    assert order.routing.guide_credit.guide == guide.name
    await api.guides.ReleaseGuide(s.ReleaseGuideRequest(request_id=api.rid(), name=guide.name), metadata=OP)

    await _pay(api, order)
    assert (await _get_guide(api, guide)).commission_frozen_fen == 0
    refunded = await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=order.name, amount_fen=10_000), metadata=MP
    )
    assert refunded.state == o.ORDER_STATE_REFUNDED


# --- merged members ----------------------------------------------------------------------------------------


async def _merge(api, survivor, absorbed):
    return await api.members.MergeMembers(
        m.MergeMembersRequest(request_id=api.rid(), name=survivor.name, absorbed=absorbed.name), metadata=OP
    )


async def _points(api, member):
    got = await api.members.GetMember(m.GetMemberRequest(name=member.name), metadata=MP)
    return got.pending_points, got.available_points


async def test_orders_placed_before_a_merge_pay_refund_and_settle_on_the_surviving_member(api):
    await _store(api)
    referrer = await _member(api, "o-referrer")
    survivor = await _member(api, "o-app")
    absorbed = await _member(api, "o-mini", referrer=referrer.name)
    paid_before = await _place(api, absorbed, fen=10_000)
    await _pay(api, paid_before, fen=10_000)
    unpaid_before = await _place(api, absorbed, fen=5_000)
    await _merge(api, survivor, absorbed)
    assert await _points(api, survivor) == (100, 0)

    await _pay(api, unpaid_before, fen=5_000)  # earns on the survivor
    assert await _points(api, survivor) == (150, 0)
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=paid_before.name, amount_fen=4_000), metadata=MP
    )
    assert await _points(api, survivor) == (110, 0)  # 40 of the first order's 100 points reversed
    await api.orders.RefundOrder(
        o.RefundOrderRequest(request_id=api.rid(), name=unpaid_before.name, amount_fen=1_000), metadata=MP
    )
    assert await _points(api, survivor) == (100, 0)

    api.clock.advance(days=7, minutes=1)
    for order in (paid_before, unpaid_before):
        await api.orders.SettleOrder(o.SettleOrderRequest(request_id=api.rid(), name=order.name), metadata=OP)
    assert await _points(api, survivor) == (0, 100)
    assert (await _points(api, referrer))[1] == 200  # the absorbed member's first order still rewards its referrer
    assert (await _points(api, absorbed)) == (0, 0)


async def test_a_new_order_for_a_merged_away_member_is_refused_and_names_the_survivor(api):
    await _store(api)
    survivor, absorbed = await _member(api, "o-app"), await _member(api, "o-mini")
    await _merge(api, survivor, absorbed)
    request = o.PlaceOrderRequest(request_id=api.rid(), order=draft(absorbed.name, *CUSTOMER))
    refused = await expect(api.orders.PlaceOrder(request, metadata=MP), PRECONDITION, "MEMBER_MERGED")
    assert refused["survivor_id"] == survivor.name.removeprefix("members/")


# --- the return window -------------------------------------------------------------------------------------


async def _publish(api, version, **rules):
    return await publish(api, p.Programme(brand="acme", version=version, **rules))


async def test_a_window_shortened_after_payment_neither_settles_early_nor_leaves_the_order_frozen_for_good(api):
    store = await _store(api)
    guide = await _guide(api, store, "wx-1")
    referrer = await _member(api, "o-referrer")
    member = await _bind(api, await _member(api, "o-new", referrer=referrer.name), guide)
    await _publish(api, 2, return_window_days=30)
    order = await _place(api, member)
    await _pay(api, order)
    await _publish(api, 3, return_window_days=7)  # the brand shortens the window after the payment
    await api.settled()
    scheduler = api.running.scheduler

    api.clock.advance(days=8)
    assert await scheduler.run_once() == (0, 0)  # due 30 days after payment, as the programme then said
    await expect(
        api.orders.SettleOrder(o.SettleOrderRequest(request_id=api.rid(), name=order.name), metadata=OP),
        PRECONDITION,
        "NOT_YET_DUE",
    )
    api.clock.advance(days=22, minutes=1)
    assert await scheduler.run_once() == (1, 0)
    g = await _get_guide(api, guide)
    assert (g.commission_frozen_fen, g.commission_settled_fen) == (0, 300)
    assert (await _points(api, referrer))[1] == 200


async def test_a_window_lengthened_after_payment_settles_when_the_payment_said(api):
    store = await _store(api)
    guide = await _guide(api, store, "wx-1")
    order = await _place(api, await _bind(api, await _member(api, "o-1"), guide))
    await _pay(api, order)  # the defaults: 7 days
    await _publish(api, 2, return_window_days=30)
    await api.settled()

    api.clock.advance(days=7, minutes=1)
    assert await api.running.scheduler.run_once() == (1, 0)
    assert (await _get_guide(api, guide)).commission_settled_fen == 300


async def test_a_settlement_tried_before_it_is_due_waits_for_its_due_time_instead_of_closing(api):
    """As for an order paid before Paid carried its due time: the scheduler tries it at payment."""
    store = await _store(api)
    guide = await _guide(api, store, "wx-1")
    order = await _place(api, await _bind(api, await _member(api, "o-1"), guide))
    await _pay(api, order)
    await api.settled()
    await api.running.store.pool.execute("UPDATE due_settlements SET due_at = NULL")
    scheduler = api.running.scheduler

    assert await scheduler.run_once() == (0, 0)  # tried, refused as not yet due, rescheduled
    api.clock.advance(days=7, minutes=1)
    assert await scheduler.run_once() == (1, 0)
    assert (await _get_guide(api, guide)).commission_settled_fen == 300


async def test_an_order_paid_before_payments_carried_a_due_time_is_due_by_the_programme_in_force_when_paid(api):
    api.clock.advance(hours=1)
    await _publish(api, 2, return_window_days=30)
    api.clock.advance(days=1)
    await _publish(api, 3, return_window_days=10)
    orders = api.running.scheduler.orders

    async def due(paid_at):  # what a version-1 Paid event replays to: no settle_due_at
        return await orders.settle_due_at(SimpleNamespace(brand="acme", paid_at=paid_at, settle_due_at=None))

    assert await due(START) == START + timedelta(days=7)  # the defaults, before the first publication
    assert await due(START + timedelta(hours=2)) == START + timedelta(hours=2, days=30)
    assert await due(START + timedelta(days=2)) == START + timedelta(days=12)
