"""Background asyncio tasks that components start with the server and stop with it."""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task[object] | None) -> None:
    """Cancel the task and wait until it has finished unwinding (its ``finally`` blocks ran).

    The cancellation is repeated until the task ends, in case something inside the task
    swallows one (on Python 3.11 ``asyncio.wait_for`` does, when the cancellation lands as
    its inner wait completes; this code base waits with ``wait_event`` instead).
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    if not task.cancelled():
        task.exception()  # retrieved: a task that failed while stopping is not logged as never retrieved


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it is set.

    Not ``asyncio.wait_for(event.wait(), timeout)``: on Python 3.11 that returns normally
    when a cancellation lands just as the event is set (a NOTIFY arriving as the task is
    cancelled), so the cancelled task runs on and whoever awaits it waits for ever.
    ``asyncio.timeout`` always lets the cancellation through.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()
