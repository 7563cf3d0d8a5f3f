"""One writer per output directory: :func:`hold` takes ``DIR/.lock`` with ``fcntl.flock`` and writes its PID there.

The kernel releases a flock when its holder exits, however it exits (SIGKILL included), so a lock left by a dead
process is simply taken over; the PID in the file only says who holds it now. On a clean exit the PID is erased.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from teacher.errors import FineTrainingError

__all__ = ["LOCK_NAME", "DirectoryInUse", "hold"]

LOCK_NAME = ".lock"


class DirectoryInUse(RuntimeError, FineTrainingError):
    """Another live process holds the directory's lock; ``holder`` is its PID as it wrote it (or "unknown")."""

    def __init__(self, directory: Path, holder: str) -> None:
        super().__init__(f"{directory} is in use by another recorder (PID {holder}, per {directory / LOCK_NAME})")
        self.holder = holder


@contextmanager
def hold(directory: Path) -> Iterator[Path]:
    """Hold ``directory``'s lock for the ``with`` block (creating the directory); raise :class:`DirectoryInUse`
    at once when a live process holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            raise DirectoryInUse(directory, holder or "unknown") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # closing the last descriptor releases the flock
