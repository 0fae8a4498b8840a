"""The order responses' bytes: the routing field remembered per order, the rest encoded each time."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from infrastructure.api.orders import order_bytes, order_message
from protos.loyalty.v1 import orders_pb2 as pb
from tests.domain.test_order import PROGRAMME, STORE, T0, allocated_order, place, routed


def test_an_unrouted_order_encodes_like_its_message():
    order = place()
    assert pb.Order.FromString(order_bytes(order)) == order_message(order)


def test_a_routed_order_encodes_like_its_message_before_and_after_payment():
    order = allocated_order()
    first = order_bytes(order)
    assert pb.Order.FromString(first) == order_message(order)
    assert pb.Order.FromString(first).routing.store == f"cloudStores/{STORE.store_id}"
    order.pay(order.total_fen, PROGRAMME, T0)
    paid = pb.Order.FromString(order_bytes(order))
    assert paid == order_message(order)
    assert paid.state == pb.ORDER_STATE_PAID and paid.routing.allocated


def test_a_new_decision_replaces_the_remembered_one():
    order = place()
    other = replace(STORE, store_id=uuid4(), lat=STORE.lat + 0.001)
    order.allocate(routed(order, (other,)), T0)
    assert pb.Order.FromString(order_bytes(order)).routing.store == f"cloudStores/{other.store_id}"
    changed = replace(order.decision, store_id=STORE.store_id)
    order.__dict__["decision"] = changed  # as a re-route does: the order holds a new decision object
    assert pb.Order.FromString(order_bytes(order)).routing.store == f"cloudStores/{STORE.store_id}"
