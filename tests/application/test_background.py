"""Background waits: a cancelled task stops, even when the cancellation lands as its wait completes."""

from __future__ import annotations

import asyncio

from application.background import stop_task, wait_event


async def test_a_cancellation_landing_as_the_event_is_set_stops_the_task():
    # On Python 3.11 asyncio.wait_for(event.wait(), t) returns normally here and the task runs on.
    event = asyncio.Event()

    async def waiter() -> None:
        await wait_event(event, 30)
        await asyncio.sleep(30)  # reached only if the cancellation was swallowed

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)  # waiting on the event
    event.set()
    task.cancel()
    await asyncio.wait([task], timeout=2)
    assert task.cancelled()


async def test_wait_event_says_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


async def test_stop_task_waits_for_the_task_to_unwind():
    unwound = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            unwound.set()

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    await stop_task(task)
    assert task.cancelled() and unwound.is_set()
