"""What ``python -m teacher.record`` shares with its two other session kinds (:mod:`teacher.record_inputs`,
:mod:`teacher.record_subagents`): the refusal a run ends with, the JSONL reader of its input files, and how
sessions end and are counted.

The imports go one way: :mod:`teacher.record` imports the session kinds, and all three import this module, which
imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teacher.errors import FineTrainingError

__all__ = ["FailureStreak", "Refused", "SessionOutcome", "jsonl_objects"]


class Refused(FineTrainingError):
    """A run refused before or while it runs: one line for the user, and the exit code (2 usage, 1 data)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = code

    @property
    def code(self) -> int:
        """The exit code (the same as :attr:`exit_code`)."""
        return self.exit_code


def jsonl_objects(path: Path, flag: str, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file given by ``flag``, each with its line number (blank lines skipped);
    :class:`Refused` names the file (and the line) when it cannot be read or a line is not ``what``, a JSON
    object."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise Refused(f"{flag} {path}: cannot read: {reason}", 2) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise Refused(f"{path}:{number}: not JSON: {error}") from None
        if not isinstance(entry, dict):
            raise Refused(f"{path}:{number}: {what} is a JSON object, not {type(entry).__name__}")
        yield number, entry


@dataclass
class SessionOutcome:
    """How one session of this run ended: finished, already finished, stopped by the budget, or not finished
    because turns failed for good (``failures``: reason and message of each)."""

    session: str
    state: str
    failures: list[tuple[str, str]] = field(default_factory=list)


class FailureStreak:
    """Counts sessions in a row left unfinished by turns that failed for good; ``stopped`` once ``limit`` is
    reached (None: never), so that a server failing every turn does not hold each remaining session for minutes."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.count = limit, 0

    @property
    def stopped(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def saw(self, outcome: SessionOutcome) -> SessionOutcome:
        """Count ``outcome`` (a failed one lengthens the streak, a finished one ends it); returns it."""
        if outcome.state == "failed":
            self.count += 1
        elif outcome.state != "budget":
            self.count = 0
        return outcome
