"""Run a coroutine synchronously until it first has to wait (what 3.12's eager tasks do).

Fanning one event out to thousands of WebSockets is the server's hot loop. An ASGI send to a
connection whose socket is writable finishes without ever suspending, so starting a task for each
would cost a scheduler round-trip per delivery for nothing; only a send that must wait for a slow
reader is handed to a task, and that one connection waits alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Step `coro` now; None if it finished, else a task that finishes it. Errors propagate."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.get_running_loop().create_task(_resume(coro, waiting_on))
    # However the task ends (even cancelled before its first step), `coro` is closed with it.
    task.add_done_callback(lambda _: coro.close())
    return task


async def _resume(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    try:
        while True:
            if waiting_on is None:  # a bare yield, as asyncio.sleep(0) does
                await asyncio.sleep(0)
            else:
                # The future was yielded by `coro` to us, not to a task: clear the flag that a
                # task's step clears before it waits on a future, or awaiting it again fails.
                waiting_on._asyncio_future_blocking = False
                await waiting_on
            waiting_on = coro.send(None)
    except StopIteration:
        return
