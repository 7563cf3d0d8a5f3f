"""The project's tasks by name, for code that meets them as names (recordings, conversion, evaluation)."""

from __future__ import annotations

from typing import Any

from tasks.score_edge import ScoreEdgeTask
from tasks.select_symbols import SelectSymbolsTask
from tasks.select_symbols.negatives import InvertTopicTask
from tasks.subagents.domains import SUBAGENT_TASKS
from teacher.task import FineTrainingTeacher

__all__ = ["TASKS", "task_named"]

_SINGLE_CALL: tuple[FineTrainingTeacher[Any, Any], ...] = (SelectSymbolsTask(), ScoreEdgeTask(), InvertTopicTask())
TASKS: dict[str, FineTrainingTeacher[Any, Any]] = {
    **{task.name: task for task in _SINGLE_CALL},
    **SUBAGENT_TASKS,
}


def task_named(name: str) -> FineTrainingTeacher[Any, Any]:
    """The task with this name; a clear error lists the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None
