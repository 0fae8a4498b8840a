"""Every call runs in its brand's tenant: one servicer set per brand, chosen by the caller's token.

A :class:`BrandRouter` stands in for one gRPC service. For each call it authenticates the
caller (the brand is the token's ``@brand``), finds that brand's servicers (built over the
brand's own schema, possibly on another database) and hands the call over unchanged. The
servicers themselves do not know there are other brands' schemas.

A token whose brand is not onboarded on this deployment gets ``PERMISSION_DENIED`` with reason
``BRAND_NOT_ONBOARDED`` (metadata ``brand``): the credential is valid, the brand cannot act here.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass

from application.admission import Admission, Overloaded
from application.auth import PermissionDenied, Unauthenticated
from infrastructure.api.auth import TokenAuthenticator
from infrastructure.api.errors import as_unavailable, internal_status, to_status, unavailable_status
from infrastructure.health import database_unreachable_seen

access_log = logging.getLogger("loyalty.api.rpc")
log = logging.getLogger("loyalty.api")


class BrandNotOnboarded(PermissionDenied):
    reason = "BRAND_NOT_ONBOARDED"


Resolve = Callable[[str], Awaitable[dict[str, Any]]]
"""brand -> that brand's servicers by service name (raises BrandNotOnboarded)."""


@functools.cache
def refusal_status(error: Overloaded) -> grpc.Status:
    """The door's refusals are a few fixed objects: their statuses are built once."""
    return to_status(error)


class BrandRouter:
    """Stands in for the servicer of ``service``; each RPC goes to the caller's brand's servicer."""

    def __init__(
        self, service: ServiceDescriptor, auth: TokenAuthenticator, resolve: Resolve, door: Admission | None = None
    ) -> None:
        self.door = door
        """The process's admission control, asked at the first line of every unary call, before authentication."""
        self.service = service.name
        self._full = service.full_name
        self._auth = auth
        self._resolve = resolve
        for method in service.methods:
            setattr(
                self, method.name, self._stream(method.name) if method.server_streaming else self._unary(method.name)
            )

    async def _target(self, rpc: str, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        brand = role = None
        try:
            principal = self._auth.authenticate(context.invocation_metadata())
            brand, role = principal.brand, principal.role.value
            servicers = await self._resolve(brand)
            return getattr(servicers[self.service], rpc)
        except Unauthenticated as e:
            self._log(rpc, started, role, brand, "UNAUTHENTICATED", e.reason)
            await context.abort_with_status(to_status(e))
        except PermissionDenied as e:
            self._log(rpc, started, role, brand, "PERMISSION_DENIED", e.reason)
            await context.abort_with_status(to_status(e))
        except grpc.aio.AbortError:
            raise
        except Exception as e:
            if (unavailable := as_unavailable(e)) is not None:
                self._log(rpc, started, role, brand, "UNAVAILABLE", unavailable.reason)
                database_unreachable_seen()
                await context.abort_with_status(unavailable_status(unavailable))
            log.exception("opening brand %s failed", brand)
            self._log(rpc, started, role, brand, "INTERNAL", "INTERNAL")
            await context.abort_with_status(internal_status())
        raise AssertionError("unreachable")

    def _log(self, rpc: str, started: float, role: str | None, brand: str | None, code: str, reason: str) -> None:
        """The access-log record the servicers write (rpc, code, reason, duration, role, brand) for a call that
        never reached them."""
        access_log.log(
            logging.ERROR if code == "INTERNAL" else logging.INFO,
            "rpc",
            extra={
                "rpc": f"/{self._full}/{rpc}",
                "code": code,
                "reason": reason,
                "role": role,
                "brand": brand,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )

    def _unary(self, rpc: str) -> Callable:
        async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
            door = self.door
            if door is not None:
                if (refused := door.enter_call()) is not None:  # first, before any work
                    self._log(rpc, time.perf_counter(), None, None, "RESOURCE_EXHAUSTED", refused.reason)
                    await context.abort_with_status(refusal_status(refused))
                try:
                    target = await self._target(rpc, context)
                    return await target(request, context)
                finally:
                    door.leave_call()
            target = await self._target(rpc, context)
            return await target(request, context)

        handler.__name__ = rpc
        return handler

    def _stream(self, rpc: str) -> Callable:
        async def handler(request: Any, context: grpc.aio.ServicerContext):
            target = await self._target(rpc, context)
            async for message in target(request, context):
                yield message

        handler.__name__ = rpc
        return handler


def _encoded_or(serialize: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """A response serializer that sends bytes as they are: a command's response is encoded once, for the request
    log, and those same bytes go to the wire (not decoded into a message to be encoded again)."""

    def serializer(response: Any) -> bytes:
        return response if type(response) is bytes else serialize(response)

    return serializer


def add_service(server: grpc.aio.Server, service: ServiceDescriptor, servicer: Any) -> None:
    """Register ``servicer``'s methods for ``service`` (what the generated ``add_*_to_server`` does), with
    responses that may be already-encoded bytes."""
    handlers = {}
    for method in service.methods:
        deserialize = GetMessageClass(method.input_type).FromString
        serialize = _encoded_or(GetMessageClass(method.output_type).SerializeToString)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            getattr(servicer, method.name), request_deserializer=deserialize, response_serializer=serialize
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
