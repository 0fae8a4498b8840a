"""The base of every aggregate here: an event happens at the time its command was given.

Every command takes ``at`` and records it on its event; this base also makes it the
event's ``timestamp`` (eventsourcing stamps ``datetime.now()`` only when no
``timestamp`` is passed to ``_create`` / ``trigger_event``). So the time the API
reports for a fact (``placed_at``, ``paid_at``) and the time the history records for
it are the same instant, and an auditor asking for the state as of ``paid_at`` sees
the order paid. The aggregate's ``created_on`` / ``modified_on`` follow.

Events stay ordered by version. Two commands that took their time and then queued
for the same aggregate can record times a few milliseconds out of that order (they
always could in ``at``); a state "as of" a time is the history up to the first event
after it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self, TypeAlias
from uuid import UUID

from eventsourcing import domain

DecoratedEvent: TypeAlias = type[Any]
"""An event class that eventsourcing makes when the aggregate class is created, from a method decorated with
``@event("Name")``: its fields are the method's parameters, which a type checker cannot see. Aggregates declare
the ones used by name elsewhere (``Member.PointsEarned``) as ``ClassVar[DecoratedEvent]`` under TYPE_CHECKING,
so that a misspelt event is still an error."""


def _at_as_timestamp(kwargs: dict[str, Any]) -> dict[str, Any]:
    at = kwargs.get("at")
    if kwargs.get("timestamp") is None and isinstance(at, datetime):
        return {**kwargs, "timestamp": at}
    return kwargs


class Aggregate(domain.Aggregate):
    """eventsourcing's ``Aggregate`` whose events are timestamped with their ``at``."""

    @classmethod
    def _create(
        cls,
        event_class: type[domain.CanInitAggregate[UUID]],
        *,
        id: UUID | None = None,
        **kwargs: Any,
    ) -> Self:
        return super()._create(event_class, id=id, **_at_as_timestamp(kwargs))

    def trigger_event(self, event_class: type[domain.CanMutateAggregate[UUID]], **kwargs: Any) -> None:
        super().trigger_event(event_class, **_at_as_timestamp(kwargs))
