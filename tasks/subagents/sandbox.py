"""A sandbox: a temporary copy of the files a subagent works on; every path a tool touches must stay inside it."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import TracebackType

from teacher.errors import FineTrainingError

__all__ = ["Sandbox", "SandboxEscape"]

_IGNORED = ("__pycache__", ".pytest_cache", ".ruff_cache")


class SandboxEscape(ValueError, FineTrainingError):
    """A path that would leave the sandbox (absolute, ``..``, or a link pointing out)."""


class Sandbox:
    """A directory holding copies of the target file (and any companions); remembers what it started with."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.initial = self.snapshot()

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> Sandbox:
        """A fresh temporary sandbox holding ``files`` (relative path -> text)."""
        root = Path(tempfile.mkdtemp(prefix="subagent-"))
        for relative, text in files.items():
            target = _inside(root.resolve(), relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return cls(root)

    @classmethod
    def copy_of(cls, repo: Path, paths: list[str]) -> Sandbox:
        """A sandbox with copies of ``paths`` (relative to ``repo``, which must hold them)."""
        files = {}
        for relative in paths:
            source = _inside(repo.resolve(), relative)
            files[relative] = source.read_text(encoding="utf-8")
        return cls.from_files(files)

    def path(self, relative: str) -> Path:
        """The real path of a sandbox-relative path; raises :class:`SandboxEscape` for one that leaves it."""
        return _inside(self.root, relative)

    def argument(self, relative: str) -> str:
        """``relative`` as a command-line argument (``./tests/test_x.py``); refuses a path a tool could read as
        an option (a part starting with ``-``) or that leaves the sandbox."""
        self.path(relative)
        pure = PurePosixPath(relative.replace("\\", "/"))
        if any(part.startswith("-") for part in pure.parts):
            raise SandboxEscape(f"path {relative!r} has a part starting with '-', which a tool could read as an option")
        return f"./{pure.as_posix()}"

    def read(self, relative: str) -> str:
        """The text of a sandbox file."""
        return _read_regular(self.path(relative)).decode("utf-8")

    def write(self, relative: str, text: str) -> None:
        """Write a sandbox file (its folders are made); refuses a FIFO or device the tested code left there."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_regular(target, os.O_WRONLY | os.O_CREAT)
        with os.fdopen(fd, "wb") as file:
            file.truncate()
            file.write(text.encode("utf-8"))

    def snapshot(self) -> dict[str, bytes]:
        """Every file's bytes by sandbox-relative path (caches, and links, which may point out, left out)."""
        return {
            file.relative_to(self.root).as_posix(): _read_regular(file)
            for file in sorted(self.root.rglob("*"))
            if not file.is_symlink() and file.is_file()
            and not any(part in _IGNORED for part in file.relative_to(self.root).parts)
        }

    def changed_files(self) -> list[str]:
        """The files added or modified since the sandbox was made, sorted."""
        now = self.snapshot()
        return sorted(path for path, data in now.items() if self.initial.get(path) != data)

    def close(self) -> None:
        """Remove the sandbox."""
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _open_regular(path: Path, flags: int) -> int:
    """Open without following a link or blocking on a FIFO; raises OSError unless it is a regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno in (errno.ENXIO, errno.ELOOP):  # a FIFO with no reader, a link
            raise OSError(f"{path.name}: not a regular file") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name}: not a regular file")
    return fd


def _read_regular(path: Path) -> bytes:
    with os.fdopen(_open_regular(path, os.O_RDONLY), "rb") as file:
        return file.read()


def _inside(root: Path, relative: str) -> Path:
    pure = PurePosixPath(relative.replace("\\", "/"))
    if not relative.strip() or pure.is_absolute() or relative.startswith("~"):
        raise SandboxEscape(f"path {relative!r} is not relative to the sandbox")
    target = (root / pure).resolve()
    if target != root and not target.is_relative_to(root):
        raise SandboxEscape(f"path {relative!r} leaves the sandbox")
    return target
