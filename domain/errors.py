"""Domain errors: a small hierarchy the API maps onto gRPC status codes.

Each error carries a machine-readable ``reason`` (UPPER_SNAKE, becomes the
``google.rpc.ErrorInfo.reason``) and ``details`` (string metadata), so a client
can act on it without parsing prose.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses. Never raised directly."""

    reason = "DOMAIN_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.details = {k: str(v) for k, v in details.items()}


class InvalidArgument(DomainError):
    """The command itself is malformed (negative amount, unknown mode...). -> INVALID_ARGUMENT"""

    reason = "INVALID_ARGUMENT"


class RuleViolation(DomainError):
    """The command is well formed but the aggregate's state forbids it. -> FAILED_PRECONDITION"""

    reason = "RULE_VIOLATION"


class AlreadyExists(DomainError):
    """Something that must be unique already exists. -> ALREADY_EXISTS"""

    reason = "ALREADY_EXISTS"


class NotFound(DomainError):
    """A referenced aggregate does not exist. -> NOT_FOUND"""

    reason = "NOT_FOUND"
