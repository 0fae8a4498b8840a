"""Background asyncio tasks that components start with the server and stop with it."""

from __future__ import annotations

import asyncio


async def stop_task(task: asyncio.Task | None) -> None:
    """Cancel the task and wait until it has finished unwinding (its ``finally`` blocks ran).

    The cancellation is repeated until the task ends: on Python 3.11 ``asyncio.wait_for``
    can swallow a cancellation that lands as its inner wait completes (a NOTIFY arriving
    at shutdown), and the task would otherwise run on, and shutdown wait for ever.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    if not task.cancelled():
        task.exception()  # retrieved: a task that failed while stopping is not logged as never retrieved
