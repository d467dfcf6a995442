"""Starting a task whose first step runs at once, in the caller's turn of the event loop.

``asyncio.create_task`` runs nothing until the loop comes round to the new task, after everything
already queued; on a worker that is the fetcher's next request and faust's bookkeeping, a few
hundred microseconds of every Kafka hop. ``start_eagerly`` is Python 3.12's eager task start for
3.11: the task is made, then its first step runs at once as that task (``asyncio.current_task()``
is the new task, so ``asyncio.timeout`` and friends cancel the right one) and in the task's own
copy of the context; the loop's first scheduled step of the task then carries on from there.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["Resumed", "start_eagerly"]

_NOT_STARTED = object()


def start_eagerly(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A task for ``coroutine``, whose first step (up to its first wait) has run before this returns.
    What that step raises is the task's exception, as with any task."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    stepped = _FirstStepRun(coroutine)
    task = loop.create_task(stepped, context=context)
    caller = asyncio.current_task(loop)
    if caller is not None:
        asyncio.tasks._leave_task(loop, caller)
    asyncio.tasks._enter_task(loop, task)
    try:
        context.run(stepped.run_first_step)
    finally:
        asyncio.tasks._leave_task(loop, task)
        if caller is not None:
            asyncio.tasks._enter_task(loop, caller)
    return task


class _FirstStepRun(Coroutine[Any, Any, Any]):
    """The coroutine a task drives, whose first step was run ahead of the task (``run_first_step``):
    the task's first ``send`` gets what that step gave (the future it waits on, its result, its
    exception), and everything after goes straight to the coroutine."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._coroutine = coroutine
        self._first: Any = _NOT_STARTED
        self._first_error: BaseException | None = None
        self._pending = False
        self.__name__ = getattr(coroutine, "__name__", type(coroutine).__name__)  # the task's repr names it
        self.__qualname__ = getattr(coroutine, "__qualname__", self.__name__)

    @property
    def cr_frame(self) -> Any:  # Task.get_stack() and the worker's task dumps read it
        return getattr(self._coroutine, "cr_frame", None)

    @property
    def cr_code(self) -> Any:
        return getattr(self._coroutine, "cr_code", None)

    def run_first_step(self) -> None:
        try:
            self._first = self._coroutine.send(None)
        except BaseException as exc:  # StopIteration included: the task sees it on its first step
            self._first_error = exc
        self._pending = True

    def send(self, value: Any) -> Any:
        if self._pending:
            self._pending = False
            if self._first_error is not None:
                error, self._first_error = self._first_error, None
                raise error
            return self._first
        return self._coroutine.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if self._pending:  # cancelled before the task's first step
            self._pending = False
            if self._first_error is not None:
                error, self._first_error = self._first_error, None
                raise error
            first = self._first
            if asyncio.isfuture(first) and not first.done() and isinstance(typ, asyncio.CancelledError):
                # the task never got to wait on this future, so cancelling the task did not cancel
                # it: do now what the task would have done, and let the cancellation come through
                # the future, as the coroutine's own code expects (a lock or semaphore gives back
                # what it was granted only for a cancelled future)
                first.cancel(*typ.args)
                return first
        return self._coroutine.throw(typ, val, tb) if val is not None or tb is not None else self._coroutine.throw(typ)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, Any, Any]:
        raise TypeError("a task drives this coroutine; it is not awaited")


class Resumed:
    """A coroutine that was run by hand up to its first wait, made awaitable again from there.

    Awaiting this yields what the coroutine yielded (the future it waits on, or None for a bare
    yield to the loop), so the task waits exactly as the coroutine would have; after that the
    coroutine goes on, and whatever the task sends or throws in (a cancellation) reaches the
    coroutine at the point where it waits, as with ``await``.
    """

    def __init__(self, coroutine: Any, waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, yielded = self._coroutine, self._waiting_on
        while True:
            try:
                sent = yield yielded
            except BaseException as exc:  # thrown into the task: the coroutine gets it where it waits
                try:
                    yielded = coroutine.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                yielded = coroutine.send(sent)
            except StopIteration as done:
                return done.value
