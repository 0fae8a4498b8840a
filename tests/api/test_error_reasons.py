"""ErrorReason (protos/loyalty/v1/errors.proto) lists every ErrorInfo.reason the server can send.

Two checks: every reason written in the code (a ``reason="..."`` argument, an error class's ``reason``
attribute, and the two families built at run time, ``ORDER_<state>`` and ``<AGGREGATE>_NOT_FOUND``) is
a value of the enum; and every reason the in-process server actually sends in the API tests is one
(the autouse fixture ``sent_error_reasons`` in tests/api/conftest.py, exercised here on purpose).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grpc
import pytest

from domain.aggregate import Aggregate
from domain.order import OrderStatus
from protos.loyalty.v1 import errors_pb2
from protos.loyalty.v1 import members_pb2 as m
from tests.api.conftest import auth

ROOT = Path(__file__).resolve().parents[2]
CATALOGUED = {v.name.removeprefix("ERROR_REASON_") for v in errors_pb2.ErrorReason.DESCRIPTOR.values} - {"UNSPECIFIED"}


def reasons_in_code() -> set[str]:
    found: set[object] = set()
    for path in [p for d in ("domain", "application", "infrastructure") for p in (ROOT / d).rglob("*.py")]:
        tree = ast.parse(path.read_text())
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "reason" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found.add(kw.value.value)
                    elif kw.arg == "reason" and isinstance(kw.value, ast.Name) and kw.value.id in constants:
                        found.add(constants[kw.value.id])
            if isinstance(node, ast.ClassDef):
                for st in node.body:
                    if (
                        isinstance(st, ast.Assign)
                        and isinstance(st.value, ast.Constant)
                        and any(isinstance(t, ast.Name) and t.id == "reason" for t in st.targets)
                    ):
                        found.add(st.value.value)
    return {r for r in found if isinstance(r, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", r)}


def aggregate_types() -> set[str]:

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {c.__name__ for c in subclasses(Aggregate)}


def test_every_reason_in_the_code_is_catalogued():
    written = reasons_in_code()
    assert len(written) > 100, "the scan found too few reasons: is it still reading the code?"
    assert not written - CATALOGUED, f"add to ErrorReason: {sorted(written - CATALOGUED)}"


def test_the_reasons_built_at_run_time_are_catalogued():
    # application.auth.owned and Repository.get: f"{type.upper()}_NOT_FOUND"; orders: f"ORDER_{status}".
    built = {f"{name.upper()}_NOT_FOUND" for name in aggregate_types() | {"aggregate"}}
    built |= {f"ORDER_{s.value}" for s in OrderStatus}
    assert {"MEMBER_NOT_FOUND", "CLOUDSTORE_NOT_FOUND", "ORDER_PAID"} <= built
    assert not built - CATALOGUED, f"add to ErrorReason: {sorted(built - CATALOGUED)}"


async def test_the_server_sends_catalogued_reasons_and_the_fixture_sees_them(api, sent_error_reasons):
    with pytest.raises(grpc.aio.AioRpcError):
        await api.members.GetMember(m.GetMemberRequest(name="members/not-a-uuid"), metadata=auth("miniprogram"))
    with pytest.raises(grpc.aio.AioRpcError):
        await api.members.GetMember(m.GetMemberRequest(name="members/x"), metadata=(("authorization", "Bearer nope"),))
    assert sent_error_reasons == ["INVALID_RESOURCE_NAME", "UNAUTHENTICATED"]
    assert set(sent_error_reasons) <= CATALOGUED
