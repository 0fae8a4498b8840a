"""The order responses' bytes: the routing field remembered per order, the rest encoded each time."""

from __future__ import annotations

import copy
import gc
from dataclasses import replace
from uuid import uuid4

from infrastructure.api.orders import _routings, order_bytes, order_message
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


def test_the_remembered_routing_lives_as_long_as_its_order_object():
    """The aggregate cache's bound in bytes bounds the remembered fields: an order object evicted (or a copy
    a command dropped) takes its entry, and its decision, with it; a newer object's entry stays."""
    order = allocated_order()
    order_id = order.id
    order_bytes(order)
    assert order_id in _routings
    newer = copy.copy(order)  # another object of the same order, as a reload from the store makes
    order_bytes(newer)
    del order
    gc.collect()
    assert _routings[order_id].order() is newer  # the older object's going left the newer one's entry
    assert pb.Order.FromString(order_bytes(newer)) == order_message(newer)
    del newer
    gc.collect()
    assert order_id not in _routings
