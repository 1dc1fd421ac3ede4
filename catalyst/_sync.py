"""One async core, one thin sync wrapper: run a coroutine from sync code without paying for an event loop.

The flow's logic is written once, as ``async def``. A coroutine that never waits on real I/O (every
check is a plain ``def``, the model is not re-asked asynchronously) finishes on its first ``send``:
:func:`run_sync` drives it directly, in microseconds. One that does wait runs in an event loop instead
(``loop=True``; in a worker thread when this thread already runs one, e.g. in a notebook).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_async_in_loop", "run_sync"]


def run_async_in_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when called inside a running loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def run_sync(coro: Coroutine[Any, Any, T], *, loop: bool) -> T:
    """The sync twin of an async call: ``loop=False`` drives ``coro`` without an event loop (it must not
    wait on I/O; if it tries, it is cancelled with a clear error), ``loop=True`` runs it in one."""
    if loop:
        return run_async_in_loop(coro)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise TypeError("an async function (a check's `async def run`, or an async `regenerate`) waited on I/O in a "
                    "sync call; use the async API (avalidate, acheck) or make it a plain function")
