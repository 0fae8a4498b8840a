"""Order use cases against in-memory ports: routing races, dealer changes, settlement."""

from __future__ import annotations

from datetime import timedelta

from application.orders import OrderDraft
from application.stores import StoreSpec
from domain.geo import CoordSystem, Location
from domain.order import OrderLine, OrderStatus
from domain.store_values import FulfilmentMode, OpeningHours
from tests.application.conftest import App

NEAR = Location(31.2310, 121.4740, CoordSystem.GCJ02)
FARTHER = Location(31.2350, 121.4790, CoordSystem.GCJ02)
CUSTOMER = Location(31.2305, 121.4738, CoordSystem.GCJ02)


def spec(code: str, where: Location, dealer: str = "D1") -> StoreSpec:
    return StoreSpec(
        code=code,
        name=f"Store {code}",
        dealer_id=dealer,
        location=where,
        service_radius_m=5000,
        modes=(FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP),
        hours=OpeningHours.always("Asia/Shanghai"),
    )


def draft(member_id) -> OrderDraft:
    return OrderDraft(
        member_id=member_id, lines=(OrderLine("SKU-1", 1, 10_000),), mode=FulfilmentMode.DELIVERY, customer=CUSTOMER
    )


async def two_stores(app: App):
    near = await app.stores.open("acme", spec("S-1", NEAR))
    farther = await app.stores.open("acme", spec("S-2", FARTHER, dealer="D2"))
    await app.directory.catch_up()
    return near, farther


async def test_an_order_routed_to_a_store_that_closed_meanwhile_is_routed_again_to_the_next(app: App):
    near, farther = await two_stores(app)
    member = await app.members.register("acme", "o-1")
    await app.stores.suspend(near.id, "stocktaking")  # the router's copy still says open: not caught up

    order = await app.orders.place(draft(member.id))

    assert order.status is OrderStatus.ALLOCATED and order.store_id == farther.id
    assert order.dealer_id == "D2"


async def test_a_store_transferred_meanwhile_books_the_order_to_its_new_dealer(app: App):
    near, _ = await two_stores(app)
    member = await app.members.register("acme", "o-1")
    await app.stores.transfer(near.id, "D9", None)  # the router's copy still names D1

    order = await app.orders.place(draft(member.id))

    assert (order.store_id, order.dealer_id) == (near.id, "D9")


async def test_settling_after_the_return_window_releases_the_referral_reward_and_the_commission(app: App):
    near, _ = await two_stores(app)
    guide = await app.guides.hire("acme", near.id, "wx-1", "Li")
    referrer = await app.members.register("acme", "o-ref")
    member = await app.members.register("acme", "o-new", referrer_id=referrer.id)
    await app.members.bind_guide(member.id, guide.id)
    order = await app.orders.place(draft(member.id))
    await app.orders.pay(order.id, 10_000)
    before = (await app.members.get(referrer.id)).balance(app.clock.now())

    app.clock.advance(days=7, minutes=1)
    await app.orders.settle(order.id)

    assert (await app.members.get(referrer.id)).balance(app.clock.now()) > before
    settled = await app.guides.get(guide.id)
    assert (settled.frozen_fen, settled.settled_fen) == (0, 300)


async def test_settling_inside_the_return_window_is_refused_and_writes_nothing(app: App):
    await two_stores(app)
    member = await app.members.register("acme", "o-1")
    order = await app.orders.place(draft(member.id))
    await app.orders.pay(order.id, 10_000)
    head = await app.store.max_notification_id()
    app.clock.advance(days=6)
    try:
        await app.orders.settle(order.id)
    except Exception as e:
        assert getattr(e, "reason", None) == "NOT_YET_DUE"
    else:
        raise AssertionError("settled inside the return window")
    assert await app.store.max_notification_id() == head
    assert app.clock.now() - order.placed_at < timedelta(days=7)
