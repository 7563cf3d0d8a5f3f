"""Code a subagent tool runs (pytest, ruff) runs isolated: every such run goes through :func:`run_isolated`.

- the environment is built from an allow-list (``PATH``, locale, ``HOME`` and ``PYTHONPATH`` set to the sandbox);
  a name like ``*_API_KEY``, ``*_TOKEN`` or ``*SECRET*``, or the value of one, never passes;
- the child leads its own session; on timeout, and after it exits, the whole group is killed; it is killed too
  when the recorder dies (the jail sets the parent-death signal at every step);
- the recorder makes itself non-dumpable (``PR_SET_DUMPABLE`` 0) before its first run, so a child of the same
  user cannot read its environment or memory through ``/proc/<pid>``; without namespaces a root caller's child
  gets no capabilities either (``CAP_SYS_PTRACE`` would bypass that);
- resource limits: CPU seconds, address space, file size, number of processes;
- where the machine allows user namespaces (probed once), ``jail.py`` adds: no network, everything read-only
  but the sandbox, private empty home and temporary folders, its own PID namespace (all of it dies with the
  command), and a non-root user outside the namespace. Where it does not, a warning says so once and
  :func:`isolation` reports it; the rest still applies.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import math
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from teacher.errors import FineTrainingError
from teacher.redact import is_secret_name, secrets

__all__ = ["Isolation", "IsolationError", "Limits", "ToolTimeout", "child_environment", "isolation", "run_isolated"]

log = logging.getLogger(__name__)

JAIL = Path(__file__).with_name("jail.py")
JAIL_FAILED = 125  # jail.py's exit code when its setup fails
_PASSED = ("PATH", "LANG", "LANGUAGE", "TZ")
_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")  # and /run, hidden read-only: its services' Unix sockets


class ToolTimeout(RuntimeError, FineTrainingError):
    """A tool ran past its timeout (its whole process group was killed)."""


class IsolationError(OSError, FineTrainingError):
    """The jail could not be set up for one run (its message names the step)."""


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits of an isolated run (bytes, counts); the CPU limit follows the timeout."""

    address_space: int = 768 * 2**20  # python + pytest or ruff need under 300 MB; 1 GB more fails
    file_size: int = 64 * 2**20
    processes: int = 64  # threads count too; with namespaces the count is the jail's own


@dataclass(frozen=True)
class Isolation:
    """Whether runs get namespaces (no network, read-only filesystem outside the sandbox), and if not, why."""

    namespaces: bool
    problem: str = ""

    def describe(self) -> str:
        """One line for a log or a session record."""
        if self.namespaces:
            return "namespaces: no network, read-only outside the sandbox, own PIDs, non-root"
        return (f"NOT isolated ({self.problem}): code run by the tools can reach the network and write outside "
                "the sandbox; only the environment allow-list, the process group and the resource limits apply")


def child_environment(sandbox: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's whole environment: the allow-list, the sandbox as HOME and PYTHONPATH, then ``extra``.

    Raises ValueError for a credential-like name or a value holding a credential of this process.
    """
    parent = os.environ
    env = {k: v for k, v in parent.items() if k in _PASSED or k.startswith("LC_")}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "/usr/bin:/bin")])
    env.update(HOME=str(sandbox), PYTHONPATH=str(sandbox), PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1",
               RAYON_NUM_THREADS="2")  # a ruff thread per core would not fit the address-space limit
    env.update(extra or {})
    held = secrets(parent, min_length=16)  # shorter values would match by chance and refuse every run
    for name, value in env.items():
        if is_secret_name(name) or any(secret in value for secret in held):
            raise ValueError(f"refusing to pass {name} to code run by a tool: it names or holds a credential")
    return env


def _interpreter_paths() -> set[str]:
    """What the interpreter needs: its prefixes and executable's folder, and the ``sys.path`` entries inside them or
    named ``site-packages`` (a user's site folder); never the working directory or a script's folder, which
    ``python -m`` and ``python script.py`` put on ``sys.path`` (started from the home folder, that is all of it)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable),
                os.path.dirname(os.path.realpath(sys.executable))}
    prefixes |= {os.path.realpath(p) for p in prefixes}
    wanted = set(prefixes)
    for entry in (os.path.realpath(p) for p in sys.path if os.path.isabs(p)):
        inside = any(entry.startswith(prefix.rstrip("/") + "/") for prefix in prefixes if prefix != "/")
        if inside or os.path.basename(entry) in ("site-packages", "dist-packages"):
            wanted.add(entry)
    return wanted


def _hidden_and_kept() -> tuple[list[str], list[str], list[str]]:
    """Folders replaced by empty tmpfs in the jail (all, the writable ones), and the paths the interpreter needs."""
    temporary = [os.path.realpath(p) for p in (*_TEMPORARY, tempfile.gettempdir())]
    homes = [os.path.realpath(p) for p in (pwd.getpwuid(os.geteuid()).pw_dir, Path.home())]
    hidden = sorted({p for p in [*temporary, *homes, "/run"] if p != "/"}, key=len)  # a parent before its children
    writable = [p for p in hidden if p in temporary]
    wanted = _interpreter_paths()
    kept: list[str] = []
    for path in sorted(os.path.normpath(p) for p in wanted):  # a parent sorts before its children
        if os.path.exists(path) and not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return hidden, writable, kept


def _spec(sandbox: Path, timeout_s: float, limits: Limits, namespaces: bool) -> str:
    hidden, writable, kept = _hidden_and_kept()
    return json.dumps({
        "namespaces": namespaces, "parent": os.getpid(), "sandbox": str(sandbox), "hide": hidden,
        "writable_hide": writable, "keep": kept,
        "tmpfs_size": "64m", "limits": {"cpu_s": math.ceil(timeout_s) + 1, **asdict(limits)},
    })


_probe_lock = threading.Lock()
_PR_SET_DUMPABLE = 4


@functools.cache
def _not_dumpable() -> None:
    """Make this process non-dumpable (once): ``/proc/<pid>/environ`` and ``mem`` then need ``CAP_SYS_PTRACE``,
    which no child has; warn (logging) when the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("subagent tools: cannot make the recorder non-dumpable (%s): a child of the same user could read "
                    "its environment", os.strerror(ctypes.get_errno()))


def isolation() -> Isolation:
    """Probe once whether the jail's namespaces work here; warn once (logging) when they do not."""
    with _probe_lock:
        return _probe()


@functools.cache
def _probe() -> Isolation:
    with tempfile.TemporaryDirectory(prefix="subagent-probe-") as folder:
        command = [sys.executable, "-I", "-S", "-c", "pass"]
        try:
            done = _run(command, Path(folder), 30, None, Limits(), namespaces=True)
            said = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
            problem = "" if done.returncode == 0 else said[-1]
        except IsolationError as error:
            problem = str(error)
        except (OSError, ToolTimeout) as error:
            problem = f"{type(error).__name__}: {error}"
    found = Isolation(namespaces=not problem, problem=problem)
    if problem:
        log.warning("subagent tools: %s", found.describe())
    return found


def run_isolated(
    command: Sequence[str], sandbox: Path, timeout_s: float, *, environ: Mapping[str, str] | None = None,
    limits: Limits = Limits(),
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (its first item an absolute path) in ``sandbox``, isolated; raises :class:`ToolTimeout`."""
    return _run(command, sandbox, timeout_s, environ, limits, namespaces=isolation().namespaces)


def _run(command: Sequence[str], sandbox: Path, timeout_s: float, environ: Mapping[str, str] | None, limits: Limits,
         *, namespaces: bool) -> subprocess.CompletedProcess[str]:
    _not_dumpable()
    argv = [sys.executable, "-I", "-S", str(JAIL), _spec(sandbox, timeout_s, limits, namespaces), "--", *command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # bounded by the file-size limit
        child = subprocess.Popen(argv, cwd=sandbox, env=child_environment(sandbox, environ), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err, start_new_session=True)
        timed_out = not _exited(child.pid, time.monotonic() + timeout_s)
        if timed_out and namespaces:  # the jail kills its PID namespace's init and exits once all of it is gone
            child.send_signal(signal.SIGTERM)
            _exited(child.pid, time.monotonic() + 5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the leader is not reaped yet, so its group id is still ours
        if not namespaces:
            _wait_group_gone(child.pid, time.monotonic() + 5)
        code = child.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = (out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    if timed_out:
        raise ToolTimeout(f"{' '.join(Path(c).name for c in command[:3])} timed out after {timeout_s:g} s "
                          "(its processes were killed)")
    if code == JAIL_FAILED and stderr.startswith("jail: "):
        raise IsolationError(stderr.strip().splitlines()[0])
    return subprocess.CompletedProcess(list(command), code, stdout, stderr)


def _exited(pid: int, deadline: float) -> bool:
    """Wait (without reaping) until ``pid`` exits or the deadline passes; whether it exited."""
    delay = 0.002
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, 0.02)


def _wait_group_gone(group: int, deadline: float) -> None:
    """Wait until no process but the (unreaped) leader is left in the process group, or the deadline passes."""
    while time.monotonic() < deadline:
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group and int(stat.parent.name) != group and fields[0] != "Z":
                members.append(stat.parent.name)
        if not members:
            return
        time.sleep(0.01)
