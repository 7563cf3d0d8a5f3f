"""Context at run time: small providers that each learn one part of where the user is (git branch, repository,
current PR, uncommitted changes).

A provider is a name (the :data:`~tasks.cli_intent.schema.ContextPart` it gives) and a function of the working
directory and a timeout returning the :class:`CliContext` fields it found. Providers run programs directly
(an argv, never a shell), each with its timeout; a missing program, a failure, a timeout or output that
cannot be read is simply absent context. ``gather_context(schema.context, cwd)`` runs the asked providers
concurrently; ``PROVIDERS`` can be replaced or extended per call.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.cli_intent.tools import CliContext

__all__ = ["PROVIDERS", "ContextProvider", "gather_context", "run_tool"]

Fields = dict[str, Any]


def run_tool(argv: Sequence[str], cwd: str | Path, timeout: float) -> str | None:
    """The stripped stdout of a program run without a shell, or None when it is missing, fails or times out."""
    try:
        done = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass(frozen=True)
class ContextProvider:
    """One part of the context: its name and the function finding it (``cwd``, ``timeout`` -> fields)."""

    name: str
    find: Callable[[Path, float], Fields]


def _branch(cwd: Path, timeout: float) -> Fields:
    branch = run_tool(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd, timeout)  # detached: none
    return {"current_branch": branch} if branch else {}


_REMOTE = re.compile(r"(?:[:/])([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def _repository(cwd: Path, timeout: float) -> Fields:
    url = run_tool(["git", "remote", "get-url", "origin"], cwd, timeout)
    match = _REMOTE.search(url or "")
    return {"repo_owner": match.group(1), "repo_name": match.group(2)} if match else {}


def _changes(cwd: Path, timeout: float) -> Fields:
    status = run_tool(["git", "status", "--porcelain"], cwd, timeout)
    return {} if status is None else {"has_uncommitted_changes": bool(status)}


def _current_pr(cwd: Path, timeout: float) -> Fields:
    number = run_tool(["gh", "pr", "view", "--json", "number", "--jq", ".number"], cwd, timeout)
    return {"current_pr": int(number)} if number and number.isdigit() and int(number) > 0 else {}


PROVIDERS: Mapping[str, ContextProvider] = {
    p.name: p
    for p in (
        ContextProvider("current_branch", _branch),
        ContextProvider("repository", _repository),
        ContextProvider("current_pr", _current_pr),
        ContextProvider("uncommitted_changes", _changes),
    )
}


def gather_context(
    parts: Iterable[str], cwd: str | Path = ".", *, timeout: float = 2.0,
    providers: Mapping[str, ContextProvider] = PROVIDERS,
) -> CliContext | None:
    """The context from the providers of ``parts``, run concurrently; None when nothing was found."""
    chosen = [providers[name] for name in dict.fromkeys(parts) if name in providers]
    if not chosen:
        return None
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        found = list(pool.map(lambda p: p.find(Path(cwd), timeout), chosen))
    fields: Fields = {}
    for part in found:
        fields.update(part)
    context = CliContext.model_validate(fields)
    return None if context.is_empty() else context
