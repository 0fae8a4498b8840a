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

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
    max_calls: int = 128
    """Calls inside the API's handlers at once (commands, reads, calls waiting for an aggregate)."""
    max_lag: float = 0.05
    """How far behind the event loop may run (seconds) before new calls are refused at the door; 0: no limit."""
    max_busy: float = 0.95
    calls_when_busy: int = 40
    """While the loop runs behind (lag over ``max_lag``, or busier than ``max_busy``: it has a backlog),
    only this many calls are let in. Below it nothing is refused for lag: a bounded number of callers
    (a closed loop) queues no deeper than itself, and a loop descheduled by a busy host lags too."""


class Admission:
    """Counts commands in flight and keeps a running estimate of how long one takes.

    Two rules apply at the door, before a call costs anything (the API asks :meth:`enter_call`
    first, before authentication): at most ``max_calls`` calls inside the handlers, and none
    while the event loop runs more than ``max_lag`` behind (:meth:`observe_lag`, fed by
    :func:`watch_loop`). A saturated loop is where waiting hides: gRPC hands the process a new
    call only when the loop gets round to it, so every call behind a busy loop has already
    aged by the lag. Refusing new calls then keeps the loop ahead of its queue, so both the
    accepted calls and the refusals are answered promptly instead of seconds late.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.in_flight = 0
        self.typical_s = 0.0  # exponentially weighted mean duration of recent commands
        self.calls = 0
        self.lag = 0.0
        self.busy = 0.0
        self.refused_at_door = 0
        retry = self.budget.retry_after
        self._too_many_calls = Overloaded(
            "too many calls in progress; retry shortly", retry_after=retry, limit=self.budget.max_calls
        )
        self._saturated = Overloaded(
            "the server is saturated; retry shortly",
            retry_after=retry,
            cause="SATURATED",
            max_lag_ms=round(self.budget.max_lag * 1000),
        )

    def enter_call(self) -> Overloaded | None:
        """Admit a call at the door (the caller then calls :meth:`leave_call`), or the refusal to answer it with.

        The refusals are built once: refusing costs next to nothing, which is the point when
        most of what arrives is refused.
        """
        if self.calls >= self.budget.max_calls:
            self.refused_at_door += 1
            return self._too_many_calls
        behind = (self.budget.max_lag and self.lag > self.budget.max_lag) or self.busy >= self.budget.max_busy
        if behind and self.calls >= self.budget.calls_when_busy:
            self.refused_at_door += 1
            return self._saturated
        self.calls += 1
        return None

    def leave_call(self) -> None:
        self.calls -= 1

    def observe_busy(self, share: float) -> None:
        """The share of the last moments the event loop spent working rather than waiting for I/O."""
        self.busy = share

    def observe_lag(self, seconds: float) -> None:
        """How late the event loop ran a timer just now (seconds)."""
        self.lag = seconds

    def admit(self) -> None:
        if self.in_flight >= self.budget.max_in_flight:
            raise Overloaded(
                "too many commands in flight; retry shortly",
                retry_after=self.budget.retry_after,
                limit=self.budget.max_in_flight,
            )
        left = remaining()
        if left is not None and left <= self.typical_s:
            raise Overloaded(
                "the call's deadline is nearer than commands take now",
                reason="DEADLINE_TOO_SHORT",
                retry_after=self.budget.retry_after,
                typical_ms=round(self.typical_s * 1000),
            )
        self.in_flight += 1

    def done(self, seconds: float) -> None:
        self.in_flight -= 1
        self.typical_s += 0.05 * (seconds - self.typical_s)

    def left_out(self) -> None:
        self.in_flight -= 1

    def queue_full(self, waiting: int) -> bool:
        return waiting >= self.budget.max_queue_per_aggregate

    def overloaded_aggregate(self) -> Overloaded:
        return Overloaded(
            "too many commands queued on one aggregate; retry shortly",
            reason="AGGREGATE_OVERLOADED",
            retry_after=self.budget.retry_after,
            limit=self.budget.max_queue_per_aggregate,
        )


async def watch_loop(admission: Admission, interval: float = 0.025, window: float = 0.1) -> None:
    """Measure the event loop for ``admission`` until cancelled: its lag (how late a short sleep
    wakes) and how busy it was over the last ``window`` seconds (the share of time it did not wait
    for I/O; measured where the loop exposes its selector, as asyncio's own loops do)."""
    loop = asyncio.get_running_loop()
    idle = [0.0]
    selector: Any = getattr(loop, "_selector", None)  # private to the selector event loops, untyped
    original = getattr(selector, "select", None)
    if original is not None:
        clock = time.perf_counter

        def select(timeout: float | None = None) -> Any:
            t0 = clock()
            try:
                return original(timeout)
            finally:
                idle[0] += clock() - t0

        selector.select = select
    try:
        start, idle0 = loop.time(), idle[0]
        while True:
            asked = loop.time()
            await asyncio.sleep(interval)
            now = loop.time()
            admission.observe_lag(now - asked - interval)
            if original is not None and now - start >= window:
                admission.observe_busy(1.0 - (idle[0] - idle0) / (now - start))
                start, idle0 = now, idle[0]
    finally:
        if original is not None:
            selector.select = original
