"""start_eagerly: finishes synchronously when it can, hands over to a task when it must wait."""

from __future__ import annotations

import asyncio

from imagechat_tui.server.eager import start_eagerly


async def test_a_coroutine_that_never_waits_runs_to_the_end_at_once() -> None:
    done = []

    async def quick() -> None:
        done.append(1)

    assert start_eagerly(quick()) is None
    assert done == [1]


async def test_a_coroutine_that_waits_is_finished_by_a_task() -> None:
    ready = asyncio.Event()
    steps = []

    async def slow() -> None:
        steps.append("started")
        await ready.wait()
        await asyncio.sleep(0)
        steps.append("finished")

    task = start_eagerly(slow())
    assert task is not None and steps == ["started"]
    ready.set()
    await asyncio.wait_for(task, 1)
    assert steps == ["started", "finished"]


async def test_cancelling_the_task_closes_the_coroutine() -> None:
    cleaned = []

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = start_eagerly(waits_forever())
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert cleaned == [True]
