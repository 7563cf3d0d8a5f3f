"""The heuristic teacher: answers offline, with no API key, every task that has a heuristic (``heuristic_answer``).

It is a backend like any other (a :class:`ModelBackend`), so its answers are recorded and converted exactly
like the teacher's. The rules live with their tasks and are deliberately simple and deterministic: they bootstrap
data, the student learns to generalise.
"""

from __future__ import annotations

from typing import Any

from converters.functiongemma import ToolCall
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.task import FineTrainingTeacher, HasHeuristic

__all__ = ["HeuristicModel"]


class HeuristicModel(ModelBackend):
    """A backend that answers each task with its own rules (the task's ``heuristic_answer``)."""

    @classmethod
    def from_spec(cls, value: str = "", **options: Any) -> HeuristicModel:
        """The backend of the spec ``heuristic`` (its row of :data:`interpreters.backends.BACKENDS`): no value."""
        return cls(**options)

    async def complete(self, request: ModelRequest) -> ModelReply:
        if request.task is None:
            raise ValueError(f"the heuristic backend cannot answer task {request.task_name!r}: the request carries "
                             "no task")
        call, reasoning = self.answer(request.task, request.input)
        raw_call = None if call is None else {"name": call.name, "arguments": call.arguments}
        raw = {"backend": "heuristic", "call": raw_call}
        return ModelReply(calls=(call,) if call else (), reasoning=reasoning, raw=raw)

    @staticmethod
    def answer(task: FineTrainingTeacher[Any, Any], input: Any) -> tuple[ToolCall | None, str]:
        """The call (or None) and the reasoning the task's own heuristic gives for one of its inputs."""
        answer: tuple[ToolCall | None, str] | None = None
        if isinstance(task, HasHeuristic) and isinstance(input, task.input_model):
            answer = task.heuristic_answer(input)
        if answer is None:
            raise ValueError(f"the heuristic backend cannot answer task {task.name!r} with input "
                             f"{type(input).__name__}")
        return answer
