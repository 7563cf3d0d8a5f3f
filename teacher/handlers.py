"""Handlers answer operations; ``interpret`` installs them for a scope, ``perform`` asks the nearest one.

The installed handlers live in a :class:`contextvars.ContextVar`, so concurrent programs (asyncio tasks) each
see only the handlers installed around them. While a handler runs, ``perform`` sees only the handlers outside
it: a handler that performs the operation it is answering forwards it to the enclosing handler.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, ClassVar, TypeVar, cast

from teacher.errors import FineTrainingError
from teacher.operations import Operation

R = TypeVar("R")

__all__ = ["FunctionHandler", "Handler", "UnhandledOperation", "installed", "interpret", "perform"]


class UnhandledOperation(LookupError, FineTrainingError):
    """No installed handler answers this operation."""

    def __init__(self, operation: Operation[Any]) -> None:
        names = ", ".join(type(h).__name__ for h in reversed(_handlers.get())) or "none"
        super().__init__(
            f"no installed handler answers {type(operation).__name__}: {operation!r} (installed: {names})"
        )
        self.operation = operation


class Handler(ABC):
    """Answers the operation types listed in ``operations`` (or decided by ``handles``)."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = ()

    def handles(self, operation: Operation[Any]) -> bool:
        """Whether this handler answers ``operation``."""
        return isinstance(operation, self.operations)

    @abstractmethod
    async def handle(self, operation: Operation[R]) -> R:
        """Answer one operation."""


Answer = Callable[[Any], Any]


class FunctionHandler(Handler):
    """A handler made of plain functions (sync or async), one per operation type: the simplest test double."""

    def __init__(self, answers: Mapping[type[Operation[Any]], Answer]) -> None:
        self.answers = dict(answers)

    def handles(self, operation: Operation[Any]) -> bool:
        return any(isinstance(operation, kind) for kind in self.answers)

    async def handle(self, operation: Operation[R]) -> R:
        answer = next(fn for kind, fn in self.answers.items() if isinstance(operation, kind))
        result = answer(operation)
        if inspect.isawaitable(result):
            result = await result
        return cast(R, result)


_handlers: ContextVar[tuple[Handler, ...]] = ContextVar("teacher_handlers", default=())


def installed() -> tuple[Handler, ...]:
    """The handlers visible here, innermost first."""
    return tuple(reversed(_handlers.get()))


async def perform(operation: Operation[R]) -> R:
    """Answer ``operation`` with the innermost installed handler that handles it."""
    stack = _handlers.get()
    for index in range(len(stack) - 1, -1, -1):
        handler = stack[index]
        if handler.handles(operation):
            token = _handlers.set(stack[:index])
            try:
                return await handler.handle(operation)
            finally:
                _handlers.reset(token)
    raise UnhandledOperation(operation)


class interpret:
    """Install handlers for a scope: ``async with interpret(lsp, model): ...``; the first listed is innermost."""

    def __init__(self, *handlers: Handler) -> None:
        for handler in handlers:
            if not isinstance(handler, Handler):
                raise TypeError(f"interpret() takes Handler instances, got {type(handler).__name__}")
        self.handlers = handlers
        self._tokens: list[Token[tuple[Handler, ...]]] = []

    def __enter__(self) -> interpret:
        self._tokens.append(_handlers.set(_handlers.get() + tuple(reversed(self.handlers))))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        _handlers.reset(self._tokens.pop())

    async def __aenter__(self) -> interpret:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, trace)
