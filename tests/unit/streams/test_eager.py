"""streams.eager.start_eagerly: a task whose first step has run before the call returns, as that
task (current_task, its own context), as Python 3.12's eager tasks do."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from streams.eager import start_eagerly

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def test_the_first_step_runs_in_the_call_and_the_rest_in_the_task() -> None:
    ran: list[str] = []
    go_on: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> str:
        ran.append("before")
        value = await go_on
        await asyncio.sleep(0)  # a bare yield, as a task handles it
        ran.append(f"after {value}")
        return "result"

    task = start_eagerly(work())
    assert ran == ["before"] and not task.done()
    go_on.set_result("go")
    assert await asyncio.wait_for(task, 1) == "result"
    assert ran == ["before", "after go"]


async def test_a_coroutine_that_does_not_wait_is_done_by_the_next_turn() -> None:
    ran: list[str] = []

    async def work() -> str:
        ran.append("all of it")
        return "done"

    task = start_eagerly(work())
    assert ran == ["all of it"]
    assert await asyncio.wait_for(task, 1) == "done"


async def test_the_first_step_runs_as_the_new_task_and_in_its_own_context() -> None:
    seen: dict[str, object] = {}
    caller = asyncio.current_task()

    async def work() -> None:
        seen["task"] = asyncio.current_task()
        VAR.set("set by the task")
        await asyncio.sleep(0)
        seen["later"] = VAR.get()

    task = start_eagerly(work())
    assert seen["task"] is task  # what asyncio.timeout() would cancel
    assert asyncio.current_task() is caller and VAR.get() == "unset"  # the caller's own, untouched
    await asyncio.wait_for(task, 1)
    assert seen["later"] == "set by the task"


async def test_a_timeout_in_the_first_step_cancels_the_task_not_the_caller() -> None:
    async def work() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.Event().wait()  # never set
        except TimeoutError:
            return "timed out"
        return "not reached"

    task = start_eagerly(work())
    assert await asyncio.wait_for(task, 1) == "timed out"  # a caller cancelled instead would not get here


async def test_an_exception_in_the_first_step_is_the_tasks() -> None:
    async def work() -> None:
        raise ValueError("at once")

    task = start_eagerly(work())
    with pytest.raises(ValueError, match="at once"):
        await task


async def test_cancelling_the_task_reaches_the_coroutine_where_it_waits() -> None:
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = start_eagerly(work())
    task.cancel()  # before the loop ran its first scheduled step
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_cancelled_before_its_first_step_the_future_it_waits_on_is_cancelled_too() -> None:
    """As with any task: a semaphore's waiter is cancelled, so the semaphore does not count a
    grant its holder never had."""
    semaphore = asyncio.Semaphore(1)
    await semaphore.acquire()  # taken: the task below waits for it

    async def work() -> None:
        async with semaphore:
            pass

    task = start_eagerly(work())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert semaphore.locked()  # still ours, not handed to the cancelled task
    semaphore.release()
    assert not semaphore.locked()


async def test_the_task_is_named_after_its_coroutine_and_shows_its_stack() -> None:
    go_on: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def lane_work() -> None:
        await go_on

    task = start_eagerly(lane_work())
    assert "lane_work" in repr(task)
    assert task.get_stack()  # the worker's task dumps (SIGUSR1) show where it waits
    go_on.set_result(None)
    await asyncio.wait_for(task, 1)
