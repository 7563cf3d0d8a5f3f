"""A sandbox: a temporary copy of the files a subagent works on; every path a tool touches must stay inside it.

What the tested code leaves there is read back only within bounds, checked before anything is read: at most
:data:`MAX_FILES` files, :data:`MAX_BYTES` in all (by their sizes, so sparse files and hard links count in full),
folders at most :data:`MAX_DEPTH` deep, UTF-8 names; past them a read is a :class:`SandboxUnusable` error (an
``OSError``, so a tool reports it like any other). Walking and removing never recurse, however deep the tree.
A sandbox is a folder ``subagent-<pid>-*`` in the temporary folder; :meth:`Sandbox.remove_abandoned` removes those
of processes that died (a killed recorder).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import TracebackType

from teacher.errors import FineTrainingError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_FILES", "Sandbox", "SandboxEscape", "SandboxUnusable", "inside"]

_IGNORED = ("__pycache__", ".pytest_cache", ".ruff_cache")
MAX_FILES = 2_000
MAX_BYTES = 64 * 2**20
MAX_DEPTH = 64
_PREFIX = "subagent-"
_OWNED = re.compile(r"subagent-([0-9]+)-.+")


class SandboxEscape(ValueError, FineTrainingError):
    """A path that would leave the sandbox (absolute, ``..``, or a link pointing out)."""


class SandboxUnusable(OSError, FineTrainingError):
    """The tested code left more in the sandbox than is read back (files, bytes, depth) or a name that is not UTF-8."""


class Sandbox:
    """A directory holding copies of the target file (and any companions); remembers what it started with."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.initial = self.snapshot()

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> Sandbox:
        """A fresh temporary sandbox holding ``files`` (relative path -> text)."""
        root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        for relative, text in files.items():
            target = inside(root.resolve(), relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return cls(root)

    @classmethod
    def copy_of(cls, repo: Path, paths: list[str]) -> Sandbox:
        """A sandbox with copies of ``paths`` (relative to ``repo``, which must hold them)."""
        files = {}
        for relative in paths:
            source = inside(repo.resolve(), relative)
            files[relative] = source.read_text(encoding="utf-8")
        return cls.from_files(files)

    def path(self, relative: str) -> Path:
        """The real path of a sandbox-relative path; raises :class:`SandboxEscape` for one that leaves it."""
        return inside(self.root, relative)

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
        """Every file's bytes by sandbox-relative path (caches, and links, which may point out, left out); raises
        :class:`SandboxUnusable` past the bounds, checked before a byte is read."""
        found = self.check()
        budget = MAX_BYTES
        files = {}
        for file in sorted(found):
            data = _read_regular(file, budget)
            budget -= len(data)
            files[file.relative_to(self.root).as_posix()] = data
        return files

    def check(self) -> list[Path]:
        """The sandbox's regular files (caches and links left out), walked without recursion; raises
        :class:`SandboxUnusable` for more than :data:`MAX_FILES` files or :data:`MAX_BYTES` bytes, a folder deeper
        than :data:`MAX_DEPTH` or a name that is not UTF-8."""
        found: list[Path] = []
        total = 0
        folders = [(self.root, 0)]
        while folders:
            folder, depth = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name in _IGNORED or entry.is_symlink():
                        continue
                    try:
                        entry.name.encode("utf-8")
                    except UnicodeEncodeError:
                        where = Path(entry.path).relative_to(self.root)
                        raise SandboxUnusable(f"a name in the sandbox is not UTF-8: {os.fsencode(where)!r}") from None
                    if entry.is_dir(follow_symlinks=False):
                        if depth >= MAX_DEPTH:
                            raise SandboxUnusable(f"the sandbox holds folders nested more than {MAX_DEPTH} deep")
                        folders.append((Path(entry.path), depth + 1))
                    elif entry.is_file(follow_symlinks=False):
                        found.append(Path(entry.path))
                        total += entry.stat(follow_symlinks=False).st_size
                        if len(found) > MAX_FILES or total > MAX_BYTES:
                            raise SandboxUnusable(f"the sandbox holds more than {MAX_FILES} files or "
                                                  f"{MAX_BYTES // 2**20} MiB (sparse files and links count in full)")
        return found

    def changed_files(self) -> list[str]:
        """The files added or modified since the sandbox was made, sorted."""
        now = self.snapshot()
        return sorted(path for path, data in now.items() if self.initial.get(path) != data)

    def close(self) -> None:
        """Remove the sandbox (whatever the tested code left there)."""
        remove_tree(self.root)

    @staticmethod
    def remove_abandoned() -> list[Path]:
        """Remove the sandboxes of processes that are gone (a recorder killed mid-run); the folders removed."""
        removed = []
        for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
            owner = _OWNED.fullmatch(folder.name)
            if owner and int(owner[1]) != os.getpid() and not _alive(int(owner[1])) and folder.is_dir():
                remove_tree(folder)
                removed.append(folder)
        return removed

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


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes; :class:`SandboxUnusable` when it holds more than ``limit`` (None: no limit)."""
    with os.fdopen(_open_regular(path, os.O_RDONLY), "rb") as file:
        size = os.fstat(file.fileno()).st_size  # a read of N bytes takes N bytes of memory at once
        data = file.read() if limit is None else file.read(min(limit, size) + 1)
    if limit is not None and len(data) > limit:
        raise SandboxUnusable(f"the sandbox holds more than {MAX_BYTES // 2**20} MiB")
    return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _entries(fd: int) -> list[tuple[str, bool]]:
    with os.scandir(fd) as entries:
        return [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]


def _open_folder(name: str, parent: int | None) -> int | None:
    """A descriptor of folder ``name`` in ``parent`` (made readable first when the tested code took that away)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for attempt in range(2):
        try:
            return os.open(name, flags, dir_fd=parent)
        except PermissionError:
            if attempt == 0:
                with contextlib.suppress(OSError):
                    os.chmod(name, 0o700, dir_fd=parent)
        except OSError:
            return None
    return None


def remove_tree(root: Path) -> None:
    """Remove ``root`` and all it holds, as far as possible, without recursion or long paths: each folder's
    subfolders are moved up into ``root`` before it is removed, so any depth takes two descriptors."""
    top = _open_folder(str(root), None) if root.is_dir() and not root.is_symlink() else None
    if top is None:
        with contextlib.suppress(OSError):
            root.unlink()
        return
    moved = 0
    try:
        while True:
            progress = False
            for name, folder in _entries(top):
                if not folder:
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=top)
                    continue
                inner = _open_folder(name, top)
                if inner is None:
                    continue
                try:
                    for child, child_folder in _entries(inner):
                        if not child_folder:
                            with contextlib.suppress(OSError):
                                os.unlink(child, dir_fd=inner)
                            continue
                        for _ in range(100):  # past a name the tested code took already
                            moved += 1
                            try:
                                os.rename(child, f".removing-{moved}", src_dir_fd=inner, dst_dir_fd=top)
                                break
                            except OSError as error:
                                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                                    break
                finally:
                    os.close(inner)
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=top)
                    progress = True
            if not progress:
                break
    except OSError:
        pass
    finally:
        os.close(top)
    with contextlib.suppress(OSError):
        root.rmdir()


def inside(root: Path, relative: str, what: str = "the sandbox") -> Path:
    """The real path of ``relative`` under ``root`` (links resolved); :class:`SandboxEscape` for a path that is
    absolute, starts with ``~`` or leaves ``root`` (``what`` names it in the message)."""
    pure = PurePosixPath(relative.replace("\\", "/"))
    if not relative.strip() or pure.is_absolute() or relative.startswith("~"):
        raise SandboxEscape(f"path {relative!r} is not relative to {what}")
    target = (root / pure).resolve()
    if target != root and not target.is_relative_to(root):
        raise SandboxEscape(f"path {relative!r} leaves {what}")
    return target
