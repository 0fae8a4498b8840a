"""The same bad value gets the same reason through every RPC that takes it (issue 13, item 10).

A small fuzz corpus, generated from a fixed seed so a failure reproduces: brands and reasons that are
too long (up to 1 MB), empty or blank, or hold a NUL or another control character, sent through every
RPC taking such a field. Each failure class has one reason everywhere: too long or NUL -> INVALID_TEXT,
missing -> FIELD_REQUIRED.
"""

from __future__ import annotations

import random

import pytest

from protos.loyalty.v1 import audit_pb2 as au
from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import orders_pb2 as o
from protos.loyalty.v1 import programmes_pb2 as p
from protos.loyalty.v1 import programmes_pb2_grpc
from protos.loyalty.v1 import stores_pb2 as s
from tests.api.builders import draft, store_spec, stores
from tests.api.conftest import auth
from tests.api.test_errors import INVALID, rejected

OP, MP, AU = auth("operator"), auth("miniprogram"), auth("auditor")
RNG = random.Random(13)
LETTERS = "abcdefghijklmnopqrstuvwxyz云店导购-_ 0123456789"


def _text(n: int) -> str:
    return "".join(RNG.choice(LETTERS) for _ in range(n)).strip() or "x"


def _too_long(limit: int) -> list[str]:
    return [_text(limit) + "x", _text(RNG.randint(limit + 2, 4 * limit)), "b" * 1_000_000]


def _with_control() -> list[str]:
    out = []
    for ch in ("\x00", "\x01", "\x1b"):
        base = _text(RNG.randint(1, 20))
        i = RNG.randint(0, len(base))
        out.append(base[:i] + ch + base[i:])
    return out


BAD_BRANDS = (
    [(v, "INVALID_TEXT") for v in _too_long(128)]
    + [(v, "FIELD_REQUIRED") for v in (" ", "\t \n")]  # "": the caller's brand
    + [(v, "INVALID_TEXT") for v in _with_control()]
)
BAD_REASONS = [(v, "INVALID_TEXT") for v in _too_long(200)] + [(v, "INVALID_TEXT") for v in _with_control()]


async def _world(api) -> dict[str, str]:
    store = await api.stores.OpenCloudStore(
        s.OpenCloudStoreRequest(
            request_id=api.rid(), brand="acme", cloud_store=s.CloudStore(spec=store_spec("S-1", 31.2310, 121.4740))
        ),
        metadata=OP,
    )
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    await api.settled()
    placed = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    paid = await api.orders.PlaceOrder(
        o.PlaceOrderRequest(request_id=api.rid(), order=draft(member.name, 31.2305, 121.4738)), metadata=MP
    )
    await api.orders.PayOrder(o.PayOrderRequest(request_id=api.rid(), name=paid.name, paid_fen=12_800), metadata=MP)
    return {"store": store.name, "member": member.name, "placed": placed.name, "paid": paid.name}


def brand_calls(api, w, brand: str):
    programmes = programmes_pb2_grpc.ProgrammeServiceStub(api.channel)
    return {
        "RegisterMember": lambda: api.members.RegisterMember(
            m.RegisterMemberRequest(request_id=api.rid(), brand=brand, member=m.Member(openid="o-new")), metadata=MP
        ),
        "OpenCloudStore": lambda: api.stores.OpenCloudStore(
            s.OpenCloudStoreRequest(
                request_id=api.rid(), brand=brand, cloud_store=s.CloudStore(spec=store_spec("S-2", 31.2, 121.4))
            ),
            metadata=OP,
        ),
        "ImportCloudStores": lambda: api.stores.ImportCloudStores(
            s.ImportCloudStoresRequest(
                request_id=api.rid(), brand=brand, cloud_stores=stores([store_spec("S-3", 31.2, 121.4)])
            ),
            metadata=OP,
        ),
        "HireGuide": lambda: api.guides.HireGuide(
            s.HireGuideRequest(
                request_id=api.rid(),
                brand=brand,
                guide=s.Guide(store=w["store"], wecom_userid="wx-1", display_name="Li"),
            ),
            metadata=OP,
        ),
        "PublishProgramme": lambda: programmes.PublishProgramme(
            p.PublishProgrammeRequest(request_id=api.rid(), programme=p.Programme(brand=brand, version=2)), metadata=OP
        ),
        "GetProgramme": lambda: programmes.GetProgramme(p.GetProgrammeRequest(brand=brand), metadata=AU),
        "GetPointsLiability": lambda: api.audit.GetPointsLiability(
            au.GetPointsLiabilityRequest(brand=brand), metadata=AU
        ),
    }


def reason_calls(api, w, reason: str):
    return {
        "CancelOrder": lambda: api.orders.CancelOrder(
            o.CancelOrderRequest(request_id=api.rid(), name=w["placed"], reason=reason), metadata=MP
        ),
        "RefundOrder": lambda: api.orders.RefundOrder(
            o.RefundOrderRequest(request_id=api.rid(), name=w["paid"], amount_fen=100, reason=reason), metadata=MP
        ),
        "SuspendCloudStore": lambda: api.stores.SuspendCloudStore(
            s.SuspendCloudStoreRequest(request_id=api.rid(), name=w["store"], reason=reason), metadata=OP
        ),
        "AdjustPoints": lambda: api.members.AdjustPoints(
            m.AdjustPointsRequest(request_id=api.rid(), name=w["member"], points=5, reason=reason, operator="op-1"),
            metadata=OP,
        ),
        "AssignTierFloor": lambda: api.members.AssignTierFloor(
            m.AssignTierFloorRequest(
                request_id=api.rid(), name=w["member"], tier=m.TIER_SEED, reason=reason, operator="op-1"
            ),
            metadata=OP,
        ),
    }


async def _reasons(calls) -> dict[str, tuple[object, str]]:
    out: dict[str, tuple[object, str]] = {}
    for rpc, call in calls.items():
        code, reason, _ = await rejected(call())
        out[rpc] = (code, reason)
    return out


async def test_a_bad_brand_gets_the_same_reason_through_every_rpc_that_takes_a_brand(api):
    w = await _world(api)
    for value, expected in BAD_BRANDS:
        got = await _reasons(brand_calls(api, w, value))
        assert got == dict.fromkeys(got, (INVALID, expected)), (value[:40], len(value))


async def test_a_bad_reason_gets_the_same_reason_through_every_rpc_that_takes_a_reason(api):
    w = await _world(api)
    for value, expected in BAD_REASONS:
        got = await _reasons(reason_calls(api, w, value))
        assert got == dict.fromkeys(got, (INVALID, expected)), (value[:40], len(value))
    order = await api.orders.GetOrder(o.GetOrderRequest(name=w["paid"]), metadata=MP)
    assert order.refunded_fen == 0  # nothing was half-written


@pytest.mark.parametrize("birthday", ["2999-01-01", "1899-12-31"])
async def test_a_birthday_in_the_future_or_before_1900_is_out_of_range(api, birthday):
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id=api.rid(), brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    code, reason, meta = await rejected(
        api.members.UpdateMemberProfile(
            m.UpdateMemberProfileRequest(request_id=api.rid(), name=member.name, birthday=birthday), metadata=MP
        )
    )
    assert (code, reason, meta["field"]) == (INVALID, "OUT_OF_RANGE", "birthday")
