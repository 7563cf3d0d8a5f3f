"""Ctrl-C for a command that runs an event loop: it cancels the work, and the process ends even when some
clean-up (a language server that never exits, say) would hold it.

:func:`run_interruptible` is ``asyncio.run`` with asyncio's own first-Ctrl-C behaviour (the main task is
cancelled, its ``finally`` blocks run, then ``KeyboardInterrupt``), plus a deadline: when the clean-up has not
finished ``grace`` seconds after the interrupt, the command's interrupted line is written to stderr and the
process exits with status 130. Session logs lose nothing: each line is flushed as it is written.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["EXIT_INTERRUPTED", "run_interruptible"]

T = TypeVar("T")

#: the exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


def _overdue(message: str) -> None:
    """The clean-up outlived its grace: say the command's interrupted line and end the process now."""
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)


def run_interruptible(main: Coroutine[Any, Any, T], message: str, grace: float = 20.0) -> T:
    """Run ``main`` to its end. A first Ctrl-C (SIGINT) cancels it and raises ``KeyboardInterrupt`` once it has
    cleaned up; if that takes over ``grace`` seconds, ``message`` is written to stderr and the process exits 130.
    A second Ctrl-C raises ``KeyboardInterrupt`` at once. Call it from the main thread."""
    state: dict[str, Any] = {}

    async def tracked() -> T:
        state["task"] = asyncio.current_task()
        return await main

    with asyncio.Runner() as runner:
        loop = runner.get_loop()

        def on_sigint(signum: int, frame: object) -> None:
            task = state.get("task")
            if task is None or task.done() or state.get("interrupted"):
                raise KeyboardInterrupt
            state["interrupted"] = True
            loop.call_soon_threadsafe(task.cancel)
            timer = threading.Timer(grace, _overdue, args=(message,))
            timer.daemon = True
            timer.start()
            state["timer"] = timer

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            return runner.run(tracked())
        except asyncio.CancelledError:
            if state.get("interrupted"):
                raise KeyboardInterrupt from None
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
            if "timer" in state:
                state["timer"].cancel()
