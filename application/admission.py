"""Admission control: a bounded amount of work in flight, refused at once beyond it.

A queue without a bound turns overload into latency for everyone. The runner
admits at most ``max_in_flight`` commands per process and lets at most
``max_queue_per_aggregate`` commands wait for one aggregate (a hot store);
beyond either it refuses at once with :class:`Overloaded` (RESOURCE_EXHAUSTED
with a retry delay at the API). A call whose deadline has passed, or is nearer
than the time commands take now, is not started. Refused calls wrote nothing,
so overload never costs an acknowledged order.

The servicer passes the call's deadline in as a plain number
(:func:`deadline_scope`, ``time.monotonic()`` seconds), so the use cases keep
their signatures.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from domain.errors import DomainError

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


class Overloaded(DomainError):
    """More work than the budget allows; retry after ``retry_after`` seconds. -> RESOURCE_EXHAUSTED"""

    reason = "OVERLOADED"

    def __init__(self, message: str, *, retry_after: float, reason: str | None = None, **details: object) -> None:
        super().__init__(message, reason=reason, **details)
        self.retry_after = retry_after


@contextmanager
def deadline_scope(remaining: float | None) -> Iterator[None]:
    """Run the enclosed call with ``remaining`` seconds to its deadline (None: no deadline)."""
    token = _deadline.set(None if remaining is None else time.monotonic() + remaining)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left to the current call's deadline, or None."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@dataclass(frozen=True)
class Budget:
    max_in_flight: int = 64
    max_queue_per_aggregate: int = 32
    retry_after: float = 0.1


class Admission:
    """Counts commands in flight and keeps a running estimate of how long one takes."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.in_flight = 0
        self.typical_s = 0.0  # exponentially weighted mean duration of recent commands

    def admit(self) -> None:
        if self.in_flight >= self.budget.max_in_flight:
            raise Overloaded("too many commands in flight; retry shortly", retry_after=self.budget.retry_after,
                             limit=self.budget.max_in_flight)
        left = remaining()
        if left is not None and left <= self.typical_s:
            raise Overloaded("the call's deadline is nearer than commands take now", reason="DEADLINE_TOO_SHORT",
                             retry_after=self.budget.retry_after, typical_ms=round(self.typical_s * 1000))
        self.in_flight += 1

    def done(self, seconds: float) -> None:
        self.in_flight -= 1
        self.typical_s += 0.05 * (seconds - self.typical_s)

    def left_out(self) -> None:
        self.in_flight -= 1

    def queue_full(self, waiting: int) -> bool:
        return waiting >= self.budget.max_queue_per_aggregate

    def overloaded_aggregate(self) -> Overloaded:
        return Overloaded("too many commands queued on one aggregate; retry shortly", reason="AGGREGATE_OVERLOADED",
                          retry_after=self.budget.retry_after, limit=self.budget.max_queue_per_aggregate)
