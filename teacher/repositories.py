"""Several repositories in one ``teacher.record`` run: the list (``--repo`` repeated, ``--repos FILE``), each one's
folder under ``OUT/repos/``, and the total summary over them.

A ``--repos`` file holds one path per line; blank lines and lines starting with ``#`` are skipped, ``~`` is
expanded, and a relative path is read from the file's own folder. A repository's folder is its directory's name,
made unique by a suffix (``app``, ``app-2``) in the order given, so the same list records to the same folders when
a run is resumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RepositoryListError", "folder_names", "read_repository_list", "total_summary"]


class RepositoryListError(ValueError):
    """A ``--repos`` file that cannot be used: the message names the file and line."""


def read_repository_list(path: Path) -> list[Path]:
    """The repositories a ``--repos`` file lists, in order; OSError when it cannot be read, and
    :class:`RepositoryListError` naming ``FILE:LINE`` for a line that is not a directory or repeats one."""
    text = path.read_text(encoding="utf-8")
    found: dict[Path, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        repo = Path(entry).expanduser()
        if not repo.is_absolute():
            repo = path.parent / repo
        if not repo.is_dir():
            raise RepositoryListError(f"{path}:{number}: {entry!r} is not a directory")
        resolved = repo.resolve()
        if resolved in found:
            raise RepositoryListError(f"{path}:{number}: {entry!r} repeats line {found[resolved]}")
        found[resolved] = number
    if not found:
        raise RepositoryListError(f"{path}: no repositories (one path per line, # starts a comment)")
    return list(found)


def folder_names(repos: Sequence[Path]) -> list[str]:
    """Each repository's folder name under ``OUT/repos``: its directory's name, ``-2``, ``-3`` ... on a collision."""
    names: list[str] = []
    for repo in repos:
        base = repo.resolve().name or "repo"
        name, suffix = base, 2
        while name in names:
            name, suffix = f"{base}-{suffix}", suffix + 1
        names.append(name)
    return names


def total_summary(summaries: dict[str, dict[str, Any]], paths: dict[str, str]) -> dict[str, Any]:
    """The per-repository summaries (by folder name) summed into one, with each repository's path and summary."""
    total: dict[str, Any] = {"repositories": len(summaries)}
    for key in ("sessions", "sessions_finished", "turns", "turns_failed", "failed_sessions"):
        total[key] = sum(int(s.get(key) or 0) for s in summaries.values())
    for key in ("failures_by_reason", "tokens"):
        counts: Counter[str] = Counter()
        for summary in summaries.values():
            counts.update(summary.get(key) or {})
        total[key] = dict(sorted(counts.items()))
    cost = sum(float(s.get("cost_usd") or 0.0) for s in summaries.values())
    examples = total["turns"] - total["turns_failed"]
    total["cost_usd"] = round(cost, 6)
    total["cost_per_1000_examples_usd"] = round(cost / examples * 1000, 4) if examples else 0.0
    total["wall_time_s"] = round(sum(float(s.get("wall_time_s") or 0.0) for s in summaries.values()), 3)
    total["stopped_by_budget"] = any(s.get("stopped_by_budget") for s in summaries.values())
    failures: dict[str, dict[str, Any]] = {}
    for summary in summaries.values():
        for reason, entry in (summary.get("failures_this_run") or {}).items():
            merged = failures.setdefault(reason, {"turns": 0, "message": entry.get("message", "")})
            merged["turns"] += int(entry.get("turns") or 0)
    total["failures_this_run"] = dict(sorted(failures.items()))
    total["per_repository"] = {name: {"path": paths[name], **summary} for name, summary in summaries.items()}
    return total
