"""The project's tasks by name, for code that meets them as names (recordings, conversion, evaluation).

CLI-intent tasks depend on a CLI schema, so there is one task per schema, named ``cli_intent:<cli_name>``:
the shipped schemas' tasks are registered here, and :func:`register_task` adds one for any other schema
(``register_task(CliIntentTask(load_schema(path)))``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks.cli_intent.pipeline import schema_data
from tasks.cli_intent.shipped import cli_intent_tasks
from tasks.propose_queries import ProposeQueriesTask
from tasks.score_edge import ScoreEdgeTask
from tasks.select_symbols import SelectSymbolsTask
from tasks.select_symbols.negatives import InvertTopicTask
from tasks.subagents.domains import SUBAGENT_TASKS
from teacher.task import FineTrainingTeacher

__all__ = ["PIPELINE_DATA", "TASKS", "DataMaker", "register_task", "task_named"]

_BUILT_IN: list[FineTrainingTeacher[Any, Any]] = [
    SelectSymbolsTask(),
    ScoreEdgeTask(),
    InvertTopicTask(),
    ProposeQueriesTask(),
]
TASKS: dict[str, FineTrainingTeacher[Any, Any]] = {
    **{task.name: task for task in [*_BUILT_IN, *cli_intent_tasks()]},
    **SUBAGENT_TASKS,
}


#: A dataset the training pipeline generates rather than rebuilds from recordings: given the value of the
#: pipeline's option (a schema file or shipped name), the example count, the training's name and the data root,
#: it writes ``DATA_ROOT/NAME`` and returns None, or what went wrong.
DataMaker = Callable[[str, int, str, Path], str | None]
#: The pipeline's data makers by the option that selects them (``python -m finetune pipeline --schema gh``).
PIPELINE_DATA: dict[str, DataMaker] = {"schema": schema_data}


def register_task(task: FineTrainingTeacher[Any, Any]) -> None:
    """Make a task known by its name (a CLI-intent task for a schema of your own, for instance)."""
    TASKS[task.name] = task


def task_named(name: str) -> FineTrainingTeacher[Any, Any]:
    """The task with this name; a clear error lists the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None
