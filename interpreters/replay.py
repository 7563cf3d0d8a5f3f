"""Replay: answer model requests from recorded session logs, keyed by task and the rendered request."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from interpreters.recording import read_log, reply_from_record, turn_key
from interpreters.records import Line, LspAnswer, ModelTurn, typed_line
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.operations import OperationFailed

__all__ = ["Replay", "ReplayMiss", "session_logs"]


class ReplayMiss(OperationFailed):
    """No recording answers this request."""


def session_logs(path: str | Path) -> list[Path]:
    """The session logs in a directory (recursively), or the one file given."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no recordings at {root}")
    return sorted(log for log in root.rglob("*.jsonl") if log.is_file())  # a folder named *.jsonl is not a log


class Replay(ModelBackend):
    """Answers from recorded model lines; a miss raises :class:`ReplayMiss` or, with ``on_miss="skip"``,
    answers with no call (the task then reports it as an invalid answer). ``lsp_answers`` keeps the language-server
    lines of the same recordings, for an :class:`~interpreters.lsp_replay.LspReplay` beside it (a replay built by
    the backend table from ``replay:DIR`` then reads the recordings once for both)."""

    def __init__(
        self, records: Iterable[Line | dict[str, Any]], *, on_miss: Literal["error", "skip"] = "error"
    ) -> None:
        lines = [typed_line(r, f"record {number}") for number, r in enumerate(records, start=1)]
        self.answers: dict[str, ModelTurn] = {
            r.key: r for r in lines if isinstance(r, ModelTurn) and not r.error and r.key is not None
        }
        self.lsp_answers: list[LspAnswer] = [r for r in lines if isinstance(r, LspAnswer)]
        self.on_miss = on_miss
        self.misses = 0

    @classmethod
    def from_path(cls, path: str | Path, *, on_miss: Literal["error", "skip"] = "error") -> Replay:
        """Load every session log under ``path``."""
        records: list[Line] = []
        for log in session_logs(path):
            records.extend(read_log(log)[0])
        return cls(records, on_miss=on_miss)

    async def complete(self, request: ModelRequest) -> ModelReply:
        record = self.answers.get(turn_key(request))
        if record is None:
            self.misses += 1
            if self.on_miss == "skip":
                return ModelReply(calls=())
            raise ReplayMiss(f"no recorded answer for a {request.task_name} request ({request.user[:60]!r}...)")
        return reply_from_record(record)
