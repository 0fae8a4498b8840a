"""Servicer plumbing: authentication, role checks, error mapping, call logs, idempotency keys.

Deadlines and cancellation: when a client's deadline passes (or it cancels), grpc.aio
cancels the handler's task. The cancellation interrupts whatever the call is awaiting:
the in-process lock of an aggregate, a query, or its turn in the group commit, from which
it is withdrawn (commands that built on its changes run again). A batch already being
written is cancelled only when every call in it has given up, so a call that ends in
DEADLINE_EXCEEDED or CANCELLED normally has written nothing. It may still have completed
when its batch was written with other calls, or the cancellation coincides with the
COMMIT: then its events are committed together with its request id. Either way a retry
with the same request id is safe: it returns the stored response or does the work once.

The call's remaining deadline goes into the application as a plain number
(``application.admission.deadline_scope``): a command that cannot finish in time is not
started, and waits for an aggregate end with the deadline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import code_pb2

from application.admission import deadline_scope
from application.auth import Principal, Role, require
from application.unit_of_work import Idempotency
from domain.errors import DomainError, InvalidArgument
from infrastructure.api.auth import TokenAuthenticator
from infrastructure.api.errors import as_unavailable, code_of, internal_status, to_status, unavailable_status
from infrastructure.health import database_unreachable_seen

log = logging.getLogger("loyalty.api")
access_log = logging.getLogger("loyalty.api.rpc")
DEADLINE_SLACK_S = 0.25


class Servicer:
    """Base of the servicers: they share the authenticator."""

    def __init__(self, auth: TokenAuthenticator) -> None:
        self.auth = auth


_method_paths: dict[tuple[type, str], str] = {}


def _method_path(cls: type, rpc: str) -> str:
    """``/loyalty.v1.MemberService/RegisterMember``, as grpcurl and the access logs of proxies spell it."""
    path = _method_paths.get((cls, rpc))
    if path is None:
        path = _method_paths[(cls, rpc)] = _find_method_path(cls, rpc)
    return path


def _find_method_path(cls: type, rpc: str) -> str:
    for base in cls.__mro__:
        if base.__module__.endswith("_pb2_grpc") and base.__name__.endswith("Servicer"):
            package = sys.modules[base.__module__.removesuffix("_grpc")].DESCRIPTOR.package
            return f"/{package}.{base.__name__.removesuffix('Servicer')}/{rpc}"
    return f"/{cls.__name__}/{rpc}"


class _CallLog:
    """One structured record per call: method, code, reason, duration, role, brand. Never tokens or request fields
    other than the client's request id (checked printable), so no personal data reaches the logs."""

    def __init__(self, servicer: Servicer, rpc: str, request: Message, context: grpc.aio.ServicerContext) -> None:
        self.method = _method_path(type(servicer), rpc)
        self.auth = servicer.auth
        self.context = context
        self.started = time.perf_counter()
        self.role: str | None = None
        self.brand: str | None = None
        self.code = "CANCELLED"
        self.reason: str | None = None
        self.messages: int | None = None
        rid = getattr(request, "request_id", "") if "request_id" in request.DESCRIPTOR.fields_by_name else ""
        self.request_id = rid if rid and len(rid) <= 128 and rid.isprintable() else None

    def principal(self, roles: tuple[Role, ...]) -> Principal:
        principal = self.auth.authenticate(self.context.invocation_metadata())
        self.role, self.brand = principal.role.value, principal.brand
        require(principal, *roles)
        return principal

    def failed(self, error: DomainError) -> grpc.Status:
        self.code, self.reason = code_pb2.Code.Name(code_of(error)), error.reason
        return to_status(error)

    async def unexpected(self, error: Exception) -> None:
        """A bug of ours: log it with its traceback; the client sees a bare INTERNAL.

        Unless the database could not be reached or a commit's outcome is unknown:
        that is UNAVAILABLE (retry with the same request id), and the health
        service is told at once.
        """
        if (unavailable := as_unavailable(error)) is not None:
            self.code, self.reason = "UNAVAILABLE", unavailable.reason
            database_unreachable_seen()
            await self.context.abort_with_status(unavailable_status(unavailable))
        self.code = "INTERNAL"
        log.exception("unexpected error in %s", self.method)
        await self.context.abort_with_status(internal_status())

    def cancelled(self) -> None:
        # The client gives up at its deadline, a transit time before the server's copy of it
        # runs out: a cancellation that close to the deadline is the deadline.
        remaining = self.context.time_remaining()
        self.code = "DEADLINE_EXCEEDED" if remaining is not None and remaining <= DEADLINE_SLACK_S else "CANCELLED"

    def emit(self) -> None:
        fields = {
            "rpc": self.method,
            "code": self.code,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 2),
            "role": self.role,
            "brand": self.brand,
        }
        if self.reason:
            fields["reason"] = self.reason
        if self.request_id:
            fields["request_id"] = self.request_id
        if self.messages is not None:
            fields["messages"] = self.messages
        access_log.log(logging.ERROR if self.code == "INTERNAL" else logging.INFO, "rpc", extra=fields)


def check_text(message: Message, prefix: str = "") -> None:
    """No string anywhere in a request may hold NUL: PostgreSQL text cannot store it.

    (``request_id`` has its own, stricter check in :func:`idempotency`.)
    """
    for field, value in message.ListFields():
        name = f"{prefix}{field.name}"
        if field.type == field.TYPE_STRING and name != "request_id":
            values = value if field.is_repeated else (value,)
            if any("\x00" in v for v in values):
                raise InvalidArgument(f"{name} must not contain NUL characters", reason="INVALID_TEXT", field=name)
        elif field.type == field.TYPE_MESSAGE:
            children = value if field.is_repeated else (value,)
            for child in children:
                check_text(child, f"{name}.")


def unary(*roles: Role) -> Callable:
    """Wrap ``async def m(self, request, principal) -> response`` as a unary RPC."""

    def decorate(method: Callable[..., Awaitable[Message]]) -> Callable:
        @functools.wraps(method)
        async def handler(self: Servicer, request: Message, context: grpc.aio.ServicerContext) -> Message:
            call = _CallLog(self, method.__name__, request, context)
            try:
                principal = call.principal(roles)
                check_text(request)
                with deadline_scope(context.time_remaining()):
                    response = await method(self, request, principal)
                call.code = "OK"
                return response
            except DomainError as e:
                await context.abort_with_status(call.failed(e))
            except asyncio.CancelledError:
                call.cancelled()
                raise
            except grpc.aio.AbortError:
                raise
            except Exception as e:
                await call.unexpected(e)
            finally:
                call.emit()
            raise AssertionError("unreachable")

        return handler

    return decorate


def streaming(*roles: Role) -> Callable:
    """Wrap ``async def m(self, request, principal)`` yielding messages as a server-streaming RPC."""

    def decorate(method: Callable[..., AsyncIterator[Message]]) -> Callable:
        @functools.wraps(method)
        async def handler(self: Servicer, request: Message, context: grpc.aio.ServicerContext):
            call = _CallLog(self, method.__name__, request, context)
            call.messages = 0
            try:
                principal = call.principal(roles)
                check_text(request)
                async for item in method(self, request, principal):
                    yield item
                    call.messages += 1
                call.code = "OK"
            except DomainError as e:
                await context.abort_with_status(call.failed(e))
            except (asyncio.CancelledError, GeneratorExit):
                call.cancelled()
                raise
            except grpc.aio.AbortError:
                raise
            except Exception as e:
                await call.unexpected(e)
            finally:
                call.emit()

        return handler

    return decorate


def idempotency(request: Any, method: str, principal: Principal) -> Idempotency:
    """The request id (in the caller's brand's own namespace) and a digest of everything else in the request.

    Request ids are scoped by brand: another brand's client reusing an id neither
    replays this brand's stored response nor learns that the id was taken.
    """
    request_id = request.request_id
    if not request_id:
        raise InvalidArgument(
            "request_id is required (1-128 printable characters)", reason="REQUEST_ID_REQUIRED", field="request_id"
        )
    if len(request_id) > 128 or not request_id.isprintable():
        # PostgreSQL text cannot hold NUL, and ids are echoed in logs: printable only.
        raise InvalidArgument(
            "request_id must be 1-128 printable characters", reason="INVALID_REQUEST_ID", field="request_id"
        )
    payload = type(request)()
    payload.CopyFrom(request)
    payload.ClearField("request_id")
    digest = hashlib.sha256(payload.SerializeToString(deterministic=True)).digest()
    return Idempotency(f"{principal.brand}/{request_id}", method, digest)
