"""Ctrl-C for event-loop commands: the work is cancelled and cleans up, and a clean-up that never ends cannot
hold the process past its grace."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from teacher.interrupt import EXIT_INTERRUPTED, run_interruptible


def test_ctrl_c_cancels_the_work_runs_its_clean_up_and_raises_keyboard_interrupt() -> None:
    cleaned: list[str] = []

    async def work() -> str:
        asyncio.get_running_loop().call_later(0.1, signal.raise_signal, signal.SIGINT)
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # an awaited clean-up still runs
            cleaned.append("done")
        return "finished"

    before = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(work(), "interrupted", grace=5)
    assert cleaned == ["done"] and time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_work_that_is_not_interrupted_returns_its_result() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 7

    assert run_interruptible(work(), "interrupted") == 7


def test_a_clean_up_that_never_ends_is_cut_off_after_the_grace_with_the_interrupted_line() -> None:
    script = textwrap.dedent("""
        import asyncio, sys
        from teacher.interrupt import run_interruptible

        async def work():
            try:
                print("ready", flush=True)
                await asyncio.sleep(60)
            finally:
                while True:  # a clean-up that swallows every cancellation (a child that never exits)
                    try:
                        await asyncio.sleep(60)
                    except asyncio.CancelledError:
                        pass

        run_interruptible(work(), "tool: interrupted; resume to continue", grace=1.0)
        print("not reached", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert stderr.strip().splitlines()[-1] == "tool: interrupted; resume to continue"
    assert "not reached" not in stdout and "Traceback" not in stderr
    assert 0.9 < time.monotonic() - started < 20
