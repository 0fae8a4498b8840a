"""Operability: TLS by configuration, structured logs, deadlines, graceful shutdown, reflection and health."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import io
import ipaddress
import json
import logging
from pathlib import Path
from uuid import uuid4

import asyncpg
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from application.unit_of_work import KeyedLocks
from infrastructure.config import load_settings
from infrastructure.logging import JsonFormatter, TextFormatter, configure_logging
from infrastructure.tenants import names_in, schema_for
from protos.loyalty.v1 import audit_pb2, members_pb2_grpc
from protos.loyalty.v1 import members_pb2 as m
from tests.api.conftest import TOKENS, auth, serving

MP, OP = auth("miniprogram"), auth("operator")
SERVING = health_pb2.HealthCheckResponse.SERVING


# --- TLS ------------------------------------------------------------------------------------------------------


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issue(common_name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None, *, ca=False):
    """A certificate for 127.0.0.1/localhost, self-signed unless an issuer (certificate, key) is given."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


def write_pair(directory: Path, name: str, cert, key) -> dict[str, Path]:
    paths = {"cert": directory / f"{name}.crt", "key": directory / f"{name}.key"}
    paths["cert"].write_bytes(_pem(cert))
    paths["key"].write_bytes(_pem(key))
    return paths


async def health_of(channel: grpc.aio.Channel, service: str = "") -> int:
    # the HealthStub stub declares none of the methods __init__ sets
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)  # type: ignore[attr-defined]
    return reply.status


async def test_the_server_speaks_tls_when_configured(fresh_dsn, tmp_path):
    cert, key = issue("loyalty-server")
    files = write_pair(tmp_path, "server", cert, key)
    env = {"GRPC_TLS_CERT_FILE": str(files["cert"]), "GRPC_TLS_KEY_FILE": str(files["key"])}
    trusted = grpc.ssl_channel_credentials(root_certificates=_pem(cert))
    async with serving(fresh_dsn, tmp_path, env=env, credentials=trusted) as (running, channel):
        assert await health_of(channel) == SERVING
        member = await members_pb2_grpc.MemberServiceStub(channel).RegisterMember(
            m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
        )
        assert member.name.startswith("members/")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as plaintext:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health_of(plaintext)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_admits_only_clients_with_a_certificate_from_the_configured_ca(fresh_dsn, tmp_path):
    ca = issue("loyalty-test-ca", ca=True)
    server_files = write_pair(tmp_path, "server", *issue("loyalty-server", ca))
    client_cert, client_key = issue("miniprogram-backend", ca)
    (tmp_path / "ca.crt").write_bytes(_pem(ca[0]))
    env = {
        "GRPC_TLS_CERT_FILE": str(server_files["cert"]),
        "GRPC_TLS_KEY_FILE": str(server_files["key"]),
        "GRPC_TLS_CLIENT_CA_FILE": str(tmp_path / "ca.crt"),
    }
    with_client_cert = grpc.ssl_channel_credentials(
        root_certificates=_pem(ca[0]), private_key=_pem(client_key), certificate_chain=_pem(client_cert)
    )
    async with serving(fresh_dsn, tmp_path, env=env, credentials=with_client_cert) as (running, channel):
        assert await health_of(channel) == SERVING
        anonymous = grpc.ssl_channel_credentials(root_certificates=_pem(ca[0]))
        async with grpc.aio.secure_channel(f"127.0.0.1:{running.port}", anonymous) as without:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health_of(without)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_settings_are_all_or_nothing(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    assert load_settings({}).tls is None
    for env in (
        {"GRPC_TLS_CERT_FILE": str(tmp_path / "c.pem")},
        {"GRPC_TLS_CLIENT_CA_FILE": str(tmp_path / "c.pem")},
        {"GRPC_TLS_CERT_FILE": str(tmp_path / "c.pem"), "GRPC_TLS_KEY_FILE": str(tmp_path / "missing.pem")},
    ):
        with pytest.raises(ValueError):
            load_settings(env)


# --- structured logs ------------------------------------------------------------------------------------------


def test_a_json_log_line_carries_time_level_logger_message_and_extra_fields():
    record = logging.LogRecord("loyalty.x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.code, record.duration_ms = "OK", 1.5
    line = json.loads(JsonFormatter().format(record))
    assert line.pop("ts").endswith("Z")
    assert line == {"level": "WARNING", "logger": "loyalty.x", "msg": "hello world", "code": "OK", "duration_ms": 1.5}
    assert TextFormatter().format(record).endswith("loyalty.x hello world code=OK duration_ms=1.5")


def test_log_format_is_configured_by_environment():
    assert load_settings({}).log_format == "json"
    assert load_settings({"LOG_FORMAT": "TEXT", "LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(ValueError):
        load_settings({"LOG_FORMAT": "xml"})
    out, root = io.StringIO(), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", "INFO", stream=out)
        logging.getLogger("loyalty.test").info("configured", extra={"answer": 42})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert json.loads(out.getvalue())["answer"] == 42


def rpc_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "loyalty.api.rpc"]


async def test_each_call_is_logged_with_method_code_duration_and_role_but_no_secrets_or_personal_data(api, caplog):
    caplog.set_level(logging.INFO, logger="loyalty.api.rpc")
    await api.members.RegisterMember(
        m.RegisterMemberRequest(
            request_id="reg-1", brand="acme", member=m.Member(openid="o-secret-openid", phone="13800138000")
        ),
        metadata=MP,
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await api.members.GetMember(
            m.GetMemberRequest(name="members/00000000-0000-0000-0000-000000000001"), metadata=MP
        )
    with pytest.raises(grpc.aio.AioRpcError):
        await api.members.GetMember(m.GetMemberRequest(), metadata=(("authorization", "Bearer wrong-token-xyz"),))
    ok, missing, anonymous = rpc_records(caplog)[-3:]
    assert (ok.rpc, ok.code, ok.role, ok.brand, ok.request_id) == (
        "/loyalty.v1.MemberService/RegisterMember",
        "OK",
        "miniprogram",
        "acme",
        "reg-1",
    )
    assert isinstance(ok.duration_ms, float) and ok.duration_ms >= 0
    assert (missing.rpc, missing.code, missing.reason) == (
        "/loyalty.v1.MemberService/GetMember",
        "NOT_FOUND",
        "MEMBER_NOT_FOUND",
    )
    assert (anonymous.code, anonymous.role, anonymous.brand) == ("UNAUTHENTICATED", None, None)
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in ("o-secret-openid", "13800138000", "wrong-token-xyz", *TOKENS.values()):
        assert secret not in text


async def test_streamed_calls_are_logged_with_their_message_count(api, caplog):
    caplog.set_level(logging.INFO, logger="loyalty.api.rpc")
    await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="reg-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    events = [
        e
        async for e in api.audit.StreamEvents(
            audit_pb2.StreamEventsRequest(positions=audit_pb2.PositionRange(after=0)), metadata=auth("auditor")
        )
    ]
    record = rpc_records(caplog)[-1]
    assert (record.rpc, record.code, record.messages) == ("/loyalty.v1.AuditService/StreamEvents", "OK", len(events))


# --- deadlines and graceful shutdown --------------------------------------------------------------------------


async def hold_events_table(dsn: str, brand: str = "acme") -> asyncpg.Connection:
    """Another writer inside its transaction: every insert of ``brand``'s events waits for it."""
    names = names_in(schema_for(brand))
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"BEGIN; LOCK TABLE {names.q(names.events)} IN EXCLUSIVE MODE")
    return conn


async def waiting_for_locks(dsn: str, count: int, *, at_most: bool = False) -> None:
    """Until at least ``count`` lock requests wait in PostgreSQL (``at_most``: until no more than ``count`` do)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(1000):
            waiting = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if (waiting <= count) if at_most else (waiting >= count):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"lock waits never reached {count} ({'at most' if at_most else 'at least'})")
    finally:
        await conn.close()


async def test_a_call_past_its_deadline_is_cancelled_on_the_server_and_writes_nothing(api, fresh_dsn, caplog):
    caplog.set_level(logging.INFO, logger="loyalty.api.rpc")
    member = await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
    )
    head = await api.running.store.max_notification_id()
    blocker = await hold_events_table(fresh_dsn)
    try:
        earn = m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5)
        # Blocked at its insert, inside its transaction:
        # Deadlines leave room for a loaded machine: the first call must reach the table before its own.
        in_tx = asyncio.ensure_future(api.members.EarnPoints(earn, metadata=MP, timeout=4))
        await waiting_for_locks(fresh_dsn, 1)
        # Blocked behind the first on the member's in-process lock:
        queued = api.members.EarnPoints(
            m.EarnPointsRequest(request_id="earn-2", name=member.name, rule="sign-in", points=7),
            metadata=MP,
            timeout=1.5,
        )
        for call in (queued, in_tx):
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await call
            assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        def logged() -> dict[str, str]:
            return {
                getattr(r, "request_id", ""): getattr(r, "code", "")
                for r in rpc_records(caplog)
                if getattr(r, "request_id", "").startswith("earn")
            }

        for _ in range(2000):  # the server has ended both handlers (each logs its call as its last step)
            if len(logged()) == 2:
                break
            await asyncio.sleep(0.01)
        assert logged() == {"earn-1": "DEADLINE_EXCEEDED", "earn-2": "DEADLINE_EXCEEDED"}
        # The abandoned commit is withdrawn by a cancel request to PostgreSQL, which arrives on its own
        # connection: wait until its lock wait is gone, or releasing the table first would let it commit.
        await waiting_for_locks(fresh_dsn, 0, at_most=True)
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
    # The events table is free again. A later change of the same member commits after anything of the two
    # cancelled calls could have (it queues behind them on the member and the table): once it is stored,
    # whatever they would have written is there too, so their absence below is final.
    later = await api.members.EarnPoints(
        m.EarnPointsRequest(request_id="later-1", name=member.name, rule="sign-in", points=1), metadata=MP, timeout=5
    )
    assert later.member.available_points == 1, "only the later call's points: the cancelled ones wrote nothing"
    assert await api.running.store.max_notification_id() == head + 1
    assert (
        await api.running.store.pool.fetchval(
            f"SELECT count(*) FROM {api.running.store.names.q('request_log')} WHERE request_id LIKE 'acme/earn-%'"
        )
        == 0
    )
    # Nothing stays locked: the retries go through, once each.
    first = await api.members.EarnPoints(earn, metadata=MP, timeout=5)
    assert first.member.available_points == 1 + 5
    assert await api.members.EarnPoints(earn, metadata=MP, timeout=5) == first


async def test_a_cancelled_waiter_leaves_no_lock_entry_behind():
    locks, key = KeyedLocks(), uuid4()
    await locks.acquire(key, timeout=1)
    waiter = asyncio.ensure_future(locks.acquire(key, timeout=5))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    locks.release(key)
    assert locks._locks == {}


async def test_graceful_shutdown_finishes_calls_in_flight(fresh_dsn, tmp_path):
    async with serving(fresh_dsn, tmp_path, stop=False) as (running, channel):
        stub = members_pb2_grpc.MemberServiceStub(channel)
        member = await stub.RegisterMember(
            m.RegisterMemberRequest(request_id="r-1", brand="acme", member=m.Member(openid="o-1")), metadata=MP
        )
        blocker = await hold_events_table(fresh_dsn)
        try:
            in_flight = asyncio.ensure_future(
                stub.EarnPoints(
                    m.EarnPointsRequest(request_id="earn-1", name=member.name, rule="sign-in", points=5), metadata=MP
                )
            )
            await waiting_for_locks(fresh_dsn, 1)
            stopping = asyncio.ensure_future(running.stop(grace=5))
            for _ in range(500):  # until the server is stopping: new calls are turned away meanwhile
                async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as late:
                    try:
                        await health_of(late)  # SERVING, then NOT_SERVING (health enters shutdown first)
                    except grpc.aio.AioRpcError as refused:
                        # Turned away, not served: UNAVAILABLE once the listener is closed; CANCELLED from grpc's
                        # core when the call arrived as the shutdown began (seen under load).
                        assert refused.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
                        break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the server never turned new calls away")
            # The server is stopping and refusing calls: the one in flight is neither cut off nor finished.
            assert not in_flight.done() and not stopping.done()
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()
        reply = await in_flight
        assert reply.member.available_points == 5
        await stopping


# --- reflection and health ------------------------------------------------------------------------------------


async def test_reflection_lists_every_service_and_health_reports_each_serving(api):
    stub = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="loyalty.v1.OrderService"),
    ]
    listed, described = [r async for r in stub.ServerReflectionInfo(iter(requests))]
    services = {s.name for s in listed.list_services_response.service}
    assert services >= {
        "loyalty.v1.MemberService",
        "loyalty.v1.StoreService",
        "loyalty.v1.GuideService",
        "loyalty.v1.OrderService",
        "loyalty.v1.AttributionService",
        "loyalty.v1.AuditService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
    assert described.file_descriptor_response.file_descriptor_proto  # enough for grpcurl describe
    for service in [
        *sorted(services - {"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}),
        "",
    ]:
        assert await health_of(api.channel, service) == SERVING, service
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await health_of(api.channel, "loyalty.v1.NoSuchService")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_answers_the_v1_protocol_newer_clients_ask_for_first(api):
    # A v1 client: the method path /grpc.reflection.v1.ServerReflection/ServerReflectionInfo with v1 messages
    # (built here from the v1 descriptor the server publishes, not from v1alpha's classes).
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.Default()
    request_type = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest")
    )
    response_type = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse")
    )
    call = api.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )
    requests = [
        request_type(list_services=""),
        request_type(file_containing_symbol="loyalty.v1.OrderService"),
        request_type(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
    ]
    listed, described, itself = [r async for r in call(iter(requests))]
    assert {s.name for s in listed.list_services_response.service} >= {
        "loyalty.v1.OrderService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in described.file_descriptor_response.file_descriptor_proto
    ]
    assert "loyalty/v1/orders.proto" in {f.name for f in files}
    assert itself.file_descriptor_response.file_descriptor_proto, "the v1 service describes itself"


# --- garbage collection ---------------------------------------------------------------------------------------


def test_the_server_freezes_what_start_up_built_and_collects_its_youngest_objects_less_often():
    from server import tune_gc

    assert load_settings({}).gc_gen0 == 20_000 and load_settings({"GC_GEN0_THRESHOLD": "0"}).gc_gen0 == 0
    with pytest.raises(ValueError):
        load_settings({"GC_GEN0_THRESHOLD": "-1"})
    before = gc.get_threshold()
    kept = [object() for _ in range(10)]  # alive across the freeze, as start-up's objects are
    try:
        tune_gc(5_000)
        assert gc.get_threshold() == (5_000, *before[1:])
        assert gc.get_freeze_count() > 0
        tune_gc(0)
        assert gc.get_threshold()[0] == 5_000  # 0 leaves the threshold as it is
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert kept


# --- memory ---------------------------------------------------------------------------------------------------


async def test_sigusr1_logs_resident_memory_and_what_each_brands_caches_hold(api, caplog):
    """``kill -USR1 <pid>``: the resident set and, per brand, each bounded cache's entries and estimated MB."""
    from server import _memory_report

    caplog.set_level(logging.INFO, logger="loyalty")
    report = _memory_report(api.running.brands)
    report()
    (empty,) = [r for r in caplog.records if r.getMessage() == "memory"]
    await api.members.RegisterMember(
        m.RegisterMemberRequest(request_id="reg-mem", brand="acme", member=m.Member(openid="o-mem")), metadata=MP
    )
    report()
    full = [r for r in caplog.records if r.getMessage() == "memory"][-1]
    assert full.rss_mb > 10
    before, after = empty.caches["acme"], full.caches["acme"]
    assert after["aggregates"]["entries"] == before["aggregates"]["entries"] + 2  # the member, its identity index
    assert after["aggregates"]["bytes"] > before["aggregates"]["bytes"]
    assert after["requests"]["entries"] == before["requests"]["entries"] + 1
    assert set(after) == {"aggregates", "requests", "stock_directory", "drop_entries"}
