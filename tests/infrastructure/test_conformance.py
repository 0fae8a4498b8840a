"""eventsourcing's own recorder test cases, run against our store through the sync adapter.

Each test gets a new empty database on the session's embedded server (the cases
expect notification ids to start at 1).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import InterfaceError, ProgrammingError, StoredEvent
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)

from infrastructure.sync_recorder import SyncRecorder
from tests.conftest import NAMES


class OnFreshDatabase:
    """Mixin: ``create_recorder`` opens our store on this test's own new database."""

    dsn: str

    @pytest.fixture(autouse=True)
    def _fresh_database(self, fresh_dsn: str) -> None:
        self.dsn = fresh_dsn

    def create_recorder(self) -> Any:
        recorder = SyncRecorder.open(self.dsn, NAMES)
        self.addCleanup(recorder.close)  # type: ignore[attr-defined]
        return recorder


class TestAggregateRecorder(OnFreshDatabase, AggregateRecorderTestCase):
    """The snapshots table is our only pure AggregateRecorder.

    It ignores duplicate snapshots by design (a snapshot at a version is
    deterministic), which this case treats as a conflict; so the case runs against
    the events table seen as an aggregate recorder, without notification ids.
    """

    def create_recorder(self) -> Any:
        recorder = super().create_recorder()

        class EventsAsAggregateRecorder:
            def insert_events(self, stored_events: Any, **kwargs: Any) -> None:
                recorder.insert_events(stored_events, **kwargs)

            def select_events(self, originator_id: Any, **kwargs: Any) -> Any:
                return recorder.select_events(originator_id, **kwargs)

        return EventsAsAggregateRecorder()


class TestApplicationRecorder(OnFreshDatabase, ApplicationRecorderTestCase[SyncRecorder]):
    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(OnFreshDatabase, TrackingRecorderTestCase):
    pass


class TestProcessRecorder(OnFreshDatabase, ProcessRecorderTestCase):
    pass


class TestNonInterleavingNotificationIds(OnFreshDatabase, NonInterleavingNotificationIDsBaseCase):
    pass


def test_snapshots_round_trip_and_a_duplicate_is_ignored(fresh_dsn: str) -> None:
    with SyncRecorder.open(fresh_dsn, NAMES) as recorder:
        snapshots = recorder.snapshot_recorder()
        a = uuid4()
        s1, s5 = StoredEvent(a, 1, "t:S", b"1"), StoredEvent(a, 5, "t:S", b"5")
        snapshots.insert_events([s1, s5])
        snapshots.insert_events([s5])
        assert snapshots.select_events(a) == [s1, s5]
        assert snapshots.select_events(a, lte=4, desc=True, limit=1) == [s1]
        assert recorder.select_events(a) == []


def test_a_subscription_wakes_on_a_new_event_and_stops_from_another_thread(
    fresh_dsn: str,
) -> None:
    """The subscription polls only every 60 s here, so a prompt delivery proves LISTEN/NOTIFY woke it."""
    with SyncRecorder.open(fresh_dsn, NAMES) as recorder:
        recorder.poll_interval = 60.0
        received: list[int] = []
        subscription = recorder.subscribe(gt=None)

        def consume() -> None:
            with subscription:
                received.extend(n.id for n in subscription)

        consumer = threading.Thread(target=consume)
        consumer.start()
        time.sleep(0.2)  # the consumer is now blocked waiting for a notification
        started = time.monotonic()
        inserted = recorder.insert_events([StoredEvent(uuid4(), 1, "t:E", b"{}")])
        assert inserted is not None
        [notification_id] = inserted
        while not received and time.monotonic() - started < 30:
            time.sleep(0.01)
        assert received == [notification_id]
        assert time.monotonic() - started < 20  # generous for a loaded machine, far below the poll

        subscription.stop()
        consumer.join(timeout=5)
        assert not consumer.is_alive()


def test_driver_errors_surface_as_eventsourcing_errors_and_leave_no_loop_thread(
    fresh_dsn: str,
) -> None:
    loops_before = {t for t in threading.enumerate() if t.name == "sync-recorder-loop"}
    missing = fresh_dsn.replace("/t_", "/missing_", 1)
    with pytest.raises(ProgrammingError, match="does not exist"):
        SyncRecorder.open(missing, NAMES)
    assert {t for t in threading.enumerate() if t.name == "sync-recorder-loop"} == loops_before


def test_a_closed_recorder_refuses_calls(fresh_dsn: str) -> None:
    recorder = SyncRecorder.open(fresh_dsn, NAMES)
    recorder.close()
    with pytest.raises(InterfaceError, match="closed"):
        recorder.max_notification_id()
