"""Domain and application errors as gRPC statuses with a google.rpc.ErrorInfo (AIP-193)."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from application.admission import Overloaded
from application.auth import PermissionDenied, Unauthenticated
from application.availability import Unavailable
from application.unit_of_work import Conflict
from domain.errors import AlreadyExists, DomainError, InvalidArgument, NotFound, RuleViolation
from infrastructure.event_store import connection_failure

log = logging.getLogger(__name__)

ERROR_DOMAIN = "loyalty.v1"

_CODES: list[tuple[type[DomainError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (RuleViolation, code_pb2.FAILED_PRECONDITION),
    (Conflict, code_pb2.ABORTED),
    (Overloaded, code_pb2.RESOURCE_EXHAUSTED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
]


def code_of(error: DomainError) -> int:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return code_pb2.FAILED_PRECONDITION


def to_status(error: DomainError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.details)
    detail = any_pb2.Any()
    detail.Pack(info)
    details = [detail]
    if isinstance(error, Overloaded):  # google.rpc.RetryInfo: when the client may try again
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(error.retry_after * 1e9))
        details.append(any_pb2.Any())
        details[-1].Pack(retry)
    return rpc_status.to_status(status_pb2.Status(code=code_of(error), message=error.message, details=details))


def internal_status() -> grpc.Status:
    """What a client sees for a bug of ours: no internals leak."""
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message="internal error", details=[detail]))


def as_unavailable(error: BaseException) -> Unavailable | None:
    """The database failure behind ``error`` as :class:`Unavailable`, or None if it is something else.

    Reads go to the pool directly from many places; any of them that meets a
    database it cannot reach ends here rather than as INTERNAL.
    """
    if isinstance(error, Unavailable):
        return error
    return Unavailable() if connection_failure(error) else None


def unavailable_status(error: Unavailable) -> grpc.Status:
    """UNAVAILABLE with its reason and a RetryInfo: gRPC clients treat it as retryable."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.details)
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromMilliseconds(int(error.retry_after_s * 1000))
    details = [any_pb2.Any(), any_pb2.Any()]
    details[0].Pack(info)
    details[1].Pack(retry)
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.UNAVAILABLE, message=error.message, details=details))
