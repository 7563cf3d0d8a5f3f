"""The project's tasks by name, for code that meets them as names (recordings, conversion, evaluation), and
:func:`resolve_task`, which turns a command line's ``--task`` (a name, or ``module:Class`` of a task anywhere)
into a task.

CLI-intent tasks depend on a CLI schema, so there is one task per schema, named ``cli_intent:<cli_name>``:
the shipped schemas' tasks are registered here, and :func:`register_task` adds one for any other schema
(``register_task(CliIntentTask(load_schema(path)))``).
"""

from __future__ import annotations

import importlib
from typing import Any

from converters.examples import Example
from tasks.cli_intent.shipped import cli_intent_tasks
from tasks.propose_queries import ProposeQueriesTask
from tasks.score_edge import ScoreEdgeTask
from tasks.select_symbols import SelectSymbolsTask
from tasks.select_symbols.negatives import InvertTopicTask
from tasks.subagents.domains import SUBAGENT_TASKS
from teacher.errors import FineTrainingError
from teacher.task import FineTrainingTeacher, free_text_fields

__all__ = ["TASKS", "TaskNotFound", "answer_tools", "free_text_of", "register_task", "resolve_task", "task_named"]

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




def register_task(task: FineTrainingTeacher[Any, Any]) -> None:
    """Make a task known by its name (a CLI-intent task for a schema of your own, for instance)."""
    TASKS[task.name] = task


def task_named(name: str) -> FineTrainingTeacher[Any, Any]:
    """The task with this name; a clear error lists the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None


class TaskNotFound(ValueError, FineTrainingError):
    """A ``--task`` that names no task: the message is one line saying why."""


def resolve_task(text: str) -> FineTrainingTeacher[Any, Any]:
    """The task ``text`` names: a registered name (``score_edge``, ``cli_intent:gh``), or ``module:Class`` (a task
    class, instantiated without arguments) or ``module:attribute`` (a task instance) importable from anywhere, which
    is then registered under its name for this run so that recordings and datasets naming it resolve too.
    Raises :class:`TaskNotFound` naming the module, the attribute or what the object is."""
    if text in TASKS:
        return TASKS[text]
    module_name, colon, attribute = text.partition(":")
    if not colon or not module_name or not attribute:
        raise TaskNotFound(f"unknown task {text!r}: give a registered name ({', '.join(sorted(TASKS))}) or "
                           "module:Class")
    if module_name == "cli_intent":  # cli_intent:NAME of a schema that is not registered
        raise TaskNotFound(f"unknown task {text!r}; known: {', '.join(sorted(TASKS))}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TaskNotFound(f"task {text!r}: cannot import module {module_name!r}: {error}") from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise TaskNotFound(f"task {text!r}: module {module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    if isinstance(found, type):
        if not all(hasattr(found, member) for member in ("render", "parse", "tools", "to_examples")):
            raise TaskNotFound(f"task {text!r}: {found.__qualname__} is not a task (a FineTrainingTeacher)")
        try:
            found = found()
        except TypeError as error:
            raise TaskNotFound(f"task {text!r}: cannot make a {found.__qualname__} without arguments: {error}"
                               ) from None
    if not isinstance(found, FineTrainingTeacher):
        raise TaskNotFound(f"task {text!r}: {type(found).__qualname__} is not a task (a FineTrainingTeacher)")
    known = TASKS.get(found.name)
    if known is not None and type(known) is not type(found):
        raise TaskNotFound(f"task {text!r} is named {found.name!r}, which another task ({type(known).__qualname__}) "
                           "already has")
    register_task(found)
    return found


def free_text_of(task: str | None) -> frozenset[str]:
    """The free-text fields of a registered task by name (its ``free_text_fields``); none for an unknown task."""
    known = TASKS.get(task) if task else None
    return free_text_fields(known)


def answer_tools(example: Example) -> list[dict[str, Any]]:
    """The tools an example's answer is made with: its line's declarations, or, for a task whose prompts declare none
    (``declare_tools = False``: the schema is in the weights), its registered task's tools for its input; none for an
    unknown task or a line without an input."""
    if example.tools:
        return list(example.tools)
    task = TASKS.get(example.task or "")
    if task is None or not isinstance(example.input, dict):
        return []
    return [tool.openai() for tool in task.tools(task.input_model.model_validate(example.input))]
