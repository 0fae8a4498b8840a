"""An in-process server on a fresh database, a real gRPC channel over loopback, a hand-moved clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

import server
from application.clock import ManualClock
from infrastructure.config import load_settings
from protos.loyalty.v1 import attribution_pb2_grpc, audit_pb2_grpc, members_pb2_grpc, orders_pb2_grpc, stores_pb2_grpc

TOKENS = {  # "role@brand": token; brand acme is the tests' own, beta the other brand of one deployment
    "miniprogram@acme": "mp-token-0123456789abcdef",
    "operator@acme": "op-token-0123456789abcdef",
    "auditor@acme": "au-token-0123456789abcdef",
    "dealer:D1@acme": "d1-token-0123456789abcdef",
    "dealer:D2@acme": "d2-token-0123456789abcdef",
    "miniprogram@beta": "mp-token-beta-0123456789",
    "operator@beta": "op-token-beta-0123456789",
    "auditor@beta": "au-token-beta-0123456789",
    "dealer:D1@beta": "d1-token-beta-0123456789",
}
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
KEYS = {  # every test server's personal-data keys: servers sharing a database must share them
    "LOYALTY_KEK": "test1:dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
    "LOYALTY_BLIND_INDEX_KEY": "dGVzdC1ibGluZC1pbmRleC1rZXktMzItYnl0ZXMtLS0=",
}


def auth(role: str, brand: str = "acme") -> tuple[tuple[str, str], ...]:
    """Metadata of ``role`` (e.g. ``operator``, ``dealer:D1``) of ``brand``."""
    return (("authorization", f"Bearer {TOKENS[f'{role}@{brand}']}"),)


@dataclass
class Api:
    channel: grpc.aio.Channel
    clock: ManualClock
    running: server.Running
    members: members_pb2_grpc.MemberServiceStub
    stores: stores_pb2_grpc.StoreServiceStub
    guides: stores_pb2_grpc.GuideServiceStub
    orders: orders_pb2_grpc.OrderServiceStub
    attribution: attribution_pb2_grpc.AttributionServiceStub
    audit: audit_pb2_grpc.AuditServiceStub
    _ids = itertools.count(1)

    def rid(self) -> str:
        return f"req-{next(self._ids)}"

    async def settled(self) -> None:
        """Wait until every brand's read models have applied everything committed so far."""
        await self.running.settled()


@asynccontextmanager
async def serving(
    dsn: str,
    data_dir: Path,
    clock: ManualClock | None = None,
    *,
    env: dict[str, str] | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    stop: bool = True,
) -> AsyncIterator[tuple[server.Running, grpc.aio.Channel]]:
    """A server process's worth of state on ``dsn`` (settings from ``env``): start, yield, stop."""
    settings = load_settings(
        {
            "DATABASE_URL": dsn,
            "GRPC_ADDRESS": "127.0.0.1:0",
            "LOYALTY_DATA_DIR": str(data_dir),
            "SCHEDULER_INTERVAL": "0",
            **(env or {}),
        }
    )  # tests run scheduled work by hand
    running = await server.start(
        settings,
        clock=clock or ManualClock(START),
        tokens=",".join(f"{t}={r}" for r, t in TOKENS.items()),
        env=dict(KEYS),
    )
    target = f"127.0.0.1:{running.port}"
    channel = grpc.aio.secure_channel(target, credentials) if credentials else grpc.aio.insecure_channel(target)
    try:
        yield running, channel
    finally:
        await channel.close()
        if stop:
            await running.stop(grace=1)


@pytest.fixture
async def api(fresh_dsn: str, tmp_path: Path) -> AsyncIterator[Api]:
    clock = ManualClock(START)
    async with serving(fresh_dsn, tmp_path, clock) as (running, channel):
        yield Api(
            channel,
            clock,
            running,
            members_pb2_grpc.MemberServiceStub(channel),
            stores_pb2_grpc.StoreServiceStub(channel),
            stores_pb2_grpc.GuideServiceStub(channel),
            orders_pb2_grpc.OrderServiceStub(channel),
            attribution_pb2_grpc.AttributionServiceStub(channel),
            audit_pb2_grpc.AuditServiceStub(channel),
        )


def reasons_in(status: grpc.Status) -> list[str]:
    """The ErrorInfo reasons a status carries to the client."""
    from google.rpc import error_details_pb2, status_pb2

    reasons = []
    for key, value in status.trailing_metadata:
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    reasons.append(info.reason)
    return reasons


@pytest.fixture(autouse=True)
def sent_error_reasons(monkeypatch) -> Iterator[list[str]]:
    """Every ErrorInfo reason the in-process server sends during a test must be one of ErrorReason's values.

    The three functions the servicers (and the brand router in front of them) turn failures into statuses
    with are wrapped; after the test every reason they produced is looked up in
    protos/loyalty/v1/errors.proto (a reason outside it fails the test).
    """
    from infrastructure.api import rpc, tenancy
    from protos.loyalty.v1 import errors_pb2

    sent: list[str] = []

    def spy(make):
        def wrapped(*args, **kwargs):
            status = make(*args, **kwargs)
            sent.extend(reasons_in(status))
            return status

        return wrapped

    for module in (rpc, tenancy):
        for name in ("to_status", "unavailable_status", "internal_status"):
            monkeypatch.setattr(module, name, spy(getattr(module, name)))
    yield sent
    catalogued = set(errors_pb2.ErrorReason.keys())
    unknown = sorted({r for r in sent if f"ERROR_REASON_{r}" not in catalogued})
    assert not unknown, f"ErrorInfo reasons sent but not in ErrorReason (protos/loyalty/v1/errors.proto): {unknown}"
