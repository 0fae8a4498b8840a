"""Servicer plumbing: authentication, role checks, error mapping, idempotency keys."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from application.auth import Principal, Role, require
from application.unit_of_work import Idempotency
from domain.errors import DomainError, InvalidArgument
from infrastructure.api.auth import TokenAuthenticator
from infrastructure.api.errors import internal_status, to_status

log = logging.getLogger("loyalty.api")


class Servicer:
    """Base of the servicers: they share the authenticator."""

    def __init__(self, auth: TokenAuthenticator) -> None:
        self.auth = auth


def _principal(self: Servicer, context: grpc.aio.ServicerContext, roles: tuple[Role, ...]) -> Principal:
    principal = self.auth.authenticate(context.invocation_metadata())
    require(principal, *roles)
    return principal


def unary(*roles: Role) -> Callable:
    """Wrap ``async def m(self, request, principal) -> response`` as a unary RPC."""

    def decorate(method: Callable[..., Awaitable[Message]]) -> Callable:
        @functools.wraps(method)
        async def handler(self: Servicer, request: Message, context: grpc.aio.ServicerContext) -> Message:
            try:
                return await method(self, request, _principal(self, context, roles))
            except DomainError as e:
                await context.abort_with_status(to_status(e))
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception:
                log.exception("unexpected error in %s", method.__name__)
                await context.abort_with_status(internal_status())
            raise AssertionError("unreachable")

        return handler

    return decorate


def streaming(*roles: Role) -> Callable:
    """Wrap ``async def m(self, request, principal)`` yielding messages as a server-streaming RPC."""

    def decorate(method: Callable[..., AsyncIterator[Message]]) -> Callable:
        @functools.wraps(method)
        async def handler(self: Servicer, request: Message, context: grpc.aio.ServicerContext):
            try:
                async for item in method(self, request, _principal(self, context, roles)):
                    yield item
            except DomainError as e:
                await context.abort_with_status(to_status(e))
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception:
                log.exception("unexpected error in %s", method.__name__)
                await context.abort_with_status(internal_status())

        return handler

    return decorate


def idempotency(request: Any, method: str) -> Idempotency:
    """The request id and a digest of everything else in the request."""
    request_id = request.request_id
    if not request_id or len(request_id) > 128:
        raise InvalidArgument("request_id is required (1-128 characters)", reason="REQUEST_ID_REQUIRED")
    payload = type(request)()
    payload.CopyFrom(request)
    payload.ClearField("request_id")
    digest = hashlib.sha256(payload.SerializeToString(deterministic=True)).digest()
    return Idempotency(request_id, method, digest)
