"""Overload is refused at once with RESOURCE_EXHAUSTED and a retry delay, and costs no acknowledged write."""

from __future__ import annotations

import asyncio

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from protos.loyalty.v1 import members_pb2 as m
from protos.loyalty.v1 import members_pb2_grpc
from tests.api.conftest import auth, serving
from tests.api.test_operability import hold_events_table, waiting_for_locks

MP = auth("miniprogram")


def details(error: grpc.aio.AioRpcError) -> tuple[str, float | None]:
    """The ErrorInfo reason and the RetryInfo delay (seconds) of a refused call."""
    # from_call reads code(), details(), trailing_metadata(): AioRpcError has them (stub: grpc.Call)
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    reason, delay = "", None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToNanoseconds() / 1e9
    return reason, delay


def earn(member: str, request_id: str) -> m.EarnPointsRequest:
    return m.EarnPointsRequest(request_id=request_id, name=member, rule="sign-in", points=5)


async def test_a_call_beyond_the_in_flight_budget_is_refused_at_once_and_the_admitted_ones_land(fresh_dsn, tmp_path):
    env = {"MAX_IN_FLIGHT": "2", "RETRY_AFTER_MS": "250"}
    async with serving(fresh_dsn, tmp_path, env=env) as (_, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        member = (
            await stub.RegisterMember(
                m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
            )
        ).name
        blocker = await hold_events_table(fresh_dsn)
        try:
            admitted = [asyncio.ensure_future(stub.EarnPoints(earn(member, f"e-{i}"), metadata=MP)) for i in (1, 2)]
            await waiting_for_locks(fresh_dsn, 1)  # both in flight: one being committed, one queued behind it
            started = asyncio.get_running_loop().time()
            try:
                await stub.EarnPoints(earn(member, "e-3"), metadata=MP)
                raise AssertionError("admitted beyond the budget")
            except grpc.aio.AioRpcError as refused:
                assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert details(refused) == ("OVERLOADED", 0.25)
            assert asyncio.get_running_loop().time() - started < 1.0  # at once, not after a wait
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()
        replies = await asyncio.gather(*admitted)
        assert replies[-1].member.available_points == 10 or replies[0].member.available_points == 10
        got = await stub.GetMember(m.GetMemberRequest(name=member), metadata=MP)
        assert got.available_points == 10


async def test_under_a_flood_every_acknowledged_write_is_stored_exactly_once_and_nothing_else(fresh_dsn, tmp_path):
    async with serving(fresh_dsn, tmp_path, env={"MAX_IN_FLIGHT": "4"}) as (running, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        member = (
            await stub.RegisterMember(
                m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
            )
        ).name
        outcomes = await asyncio.gather(
            *(stub.EarnPoints(earn(member, f"f-{i}"), metadata=MP) for i in range(60)), return_exceptions=True
        )
        ok = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert ok and refused  # some of each: the budget was hit
        assert {o.code() for o in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert all(details(o)[1] is not None for o in refused)
        got = await stub.GetMember(m.GetMemberRequest(name=member), metadata=MP)
        assert got.available_points == 5 * len(ok)
        logged = await running.store.pool.fetchval(
            f"SELECT count(*) FROM {running.store.names.q('request_log')} WHERE request_id LIKE 'acme/f-%'"
        )
        assert logged == len(ok)


async def test_beyond_the_call_budget_a_call_is_refused_at_the_door_before_authentication(fresh_dsn, tmp_path):
    env = {"MAX_CALLS": "1", "RETRY_AFTER_MS": "200"}
    async with serving(fresh_dsn, tmp_path, env=env) as (_, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        member = (
            await stub.RegisterMember(
                m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
            )
        ).name
        blocker = await hold_events_table(fresh_dsn)
        try:
            admitted = asyncio.ensure_future(stub.EarnPoints(earn(member, "e-1"), metadata=MP))
            await waiting_for_locks(fresh_dsn, 1)  # the one call allowed is inside its handler
            for metadata in (MP, ()):  # with a token, and without one: the door comes before authentication
                try:
                    await stub.EarnPoints(earn(member, "e-2"), metadata=metadata)
                    raise AssertionError("admitted beyond the call budget")
                except grpc.aio.AioRpcError as refused:
                    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    assert details(refused) == ("OVERLOADED", 0.2)
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()
        assert (await admitted).member.available_points == 5
        again = await stub.EarnPoints(earn(member, "e-2"), metadata=MP)  # the refused one wrote nothing
        assert again.member.available_points == 10
