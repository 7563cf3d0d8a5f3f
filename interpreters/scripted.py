"""Test doubles for models: a backend that is just a function, and one that replays a fixed script."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable

from converters.functiongemma import ToolCall
from teacher.model import ModelBackend, ModelReply, ModelRequest

Answer = ToolCall | ModelReply
AnswerFunction = Callable[[ModelRequest], Answer | Awaitable[Answer]]


def _reply(answer: Answer) -> ModelReply:
    return answer if isinstance(answer, ModelReply) else ModelReply(calls=(answer,))


class FunctionModel(ModelBackend):
    """A model backend that is a plain (sync or async) function of the request."""

    def __init__(self, function: AnswerFunction) -> None:
        self.function = function
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelReply:
        self.requests.append(request)
        answer = self.function(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return _reply(answer)


class ScriptedModel(ModelBackend):
    """Answers requests with a fixed sequence of calls, in order; running out is an error."""

    def __init__(self, answers: Iterable[Answer]) -> None:
        self.answers = list(answers)
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelReply:
        self.requests.append(request)
        if len(self.requests) > len(self.answers):
            count = len(self.answers)
            number = len(self.requests)
            raise RuntimeError(f"ScriptedModel has {count} answers; request {number} was {request.task_name}")
        return _reply(self.answers[len(self.requests) - 1])

