"""The one protocol every model backend implements: answer a task's request with a tool call.

A backend subclasses :class:`ModelBackend` and writes ``complete``: given the task's rendered request, return
the calls plus the raw response. Parsing and validation stay with the task; transport stays with the backend.
"""

from __future__ import annotations

from abc import abstractmethod
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from pydantic import BaseModel

from converters.functiongemma import Profile, ToolCall, render_prompt
from teacher.handlers import Handler
from teacher.operations import Ask, Operation
from teacher.task import FineTrainingTeacher, HasConversation, TaskOutputError, parallel_calls, student_conversation
from teacher.tools import Tool

R = TypeVar("R")

#: The exploration node a model request is made for: set by the program, read by recorders.
current_node: ContextVar[str | None] = ContextVar("current_node", default=None)

__all__ = ["ModelBackend", "ModelReply", "ModelRequest", "current_node", "request_for", "student_prompt"]


@dataclass(frozen=True)
class ModelRequest:
    """What a backend is asked: the task (its name, and the task object itself), its input, the user text, the task's
    guidance and its tools.

    A multi-turn task adds its own ``system`` prompt (seen by teacher and student alike) and the ``history``:
    the OpenAI-style messages after the user text (assistant tool calls, tool results) of the turns so far.
    """

    #: the task's name, which recordings store
    task_name: str
    input: BaseModel
    user: str
    guidance: str
    tools: tuple[Tool[Any], ...]
    declare_tools: bool = True
    system: str = ""
    history: tuple[dict[str, Any], ...] = ()
    #: whether an answer may hold several calls (:class:`~teacher.task.AllowsParallelCalls`); a grammar allows one
    #: otherwise
    parallel_calls: bool = False
    #: the task itself, whose hooks a backend may call (the heuristic's answer); None only for a request rebuilt
    #: from a dataset line whose task is not known
    task: FineTrainingTeacher[Any, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ModelReply:
    """What a backend answered: the calls, any reasoning text, and the raw response as returned."""

    calls: tuple[ToolCall, ...]
    reasoning: str = ""
    raw: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


def request_for(task: FineTrainingTeacher[Any, Any], input: BaseModel) -> ModelRequest:
    """Build the request for one task input; every backend gets exactly this."""
    # a multi-turn task's system prompt and messages so far
    system, history = (task.conversation(input) if isinstance(task, HasConversation) else None) or ("", ())
    return ModelRequest(
        task_name=task.name,
        input=input,
        user=task.render(input),
        guidance=task.guidance,
        tools=tuple(task.tools(input)),
        declare_tools=task.declare_tools,
        system=system,
        history=tuple(history),
        parallel_calls=parallel_calls(task),
        task=task,
    )


def student_prompt(request: ModelRequest, profile: Profile = "hf") -> str:
    """The exact FunctionGemma text a student reads for this request (the same as its training prompts)."""
    messages, tools = student_conversation(
        request.user, request.tools, request.declare_tools, system=request.system, history=request.history
    )
    return render_prompt(messages, tools, profile=profile)


class ModelBackend(Handler):
    """A handler that answers ``Ask`` by completing the task's request and letting the task parse the call."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = (Ask,)

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelReply:
        """Send one request to the model and return its calls and raw response."""

    async def handle(self, operation: Operation[R]) -> R:
        ask = cast(Ask[Any, R], operation)
        return self.output_of(ask, await self.complete(request_for(ask.task, ask.input)))

    def output_of(self, ask: Ask[Any, R], reply: ModelReply) -> R:
        """The task's output for a reply: its first call, parsed and validated by the task."""
        if not reply.calls:
            raise TaskOutputError(ask.task.name, "the model made no tool call")
        return ask.task.parse(reply.calls[0], ask.input)

