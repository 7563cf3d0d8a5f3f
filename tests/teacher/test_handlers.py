"""Operations and handlers: scoping, forwarding, composition, errors and isolation between programs."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from teacher.handlers import FunctionHandler, Handler, UnhandledOperation, installed, interpret, perform
from teacher.operations import DocumentSymbols, Hover, Operation, References


def hover_says(text: str) -> FunctionHandler:
    return FunctionHandler({Hover: lambda op: f"{text}:{op.path}:{op.line}"})


async def test_perform_uses_the_installed_handler_and_scope_ends() -> None:
    async with interpret(hover_says("a")):
        assert await perform(Hover("m.py", 3, 0)) == "a:m.py:3"
    assert installed() == ()
    with pytest.raises(UnhandledOperation):
        await perform(Hover("m.py", 3, 0))


async def test_unhandled_operation_names_the_operation_and_the_handlers() -> None:
    async with interpret(hover_says("a")):
        expected = r"DocumentSymbols: DocumentSymbols\(path='x.py'\).*FunctionHandler"
        with pytest.raises(UnhandledOperation, match=expected):
            await perform(DocumentSymbols("x.py"))


async def test_inner_scope_wins_and_first_listed_is_innermost() -> None:
    async with interpret(hover_says("outer")):
        async with interpret(hover_says("first"), hover_says("second")):
            assert await perform(Hover("f", 1, 0)) == "first:f:1"
        assert await perform(Hover("f", 1, 0)) == "outer:f:1"


async def test_async_answers_and_sync_with_blocks_work() -> None:
    async def refs(op: References) -> tuple[()]:
        await asyncio.sleep(0)
        return ()

    with interpret(FunctionHandler({References: refs})):
        assert await perform(References("a.py", 1, 2)) == ()


class Counting(Handler):
    """Answers Hover by forwarding to whatever is installed outside it, counting the calls."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = (Hover,)

    def __init__(self) -> None:
        self.seen: list[Hover] = []

    async def handle(self, operation: Operation[Any]) -> Any:
        assert isinstance(operation, Hover)
        self.seen.append(operation)
        return f"counted({await perform(operation)})"


async def test_a_handler_forwards_to_the_enclosing_handler() -> None:
    counter = Counting()
    async with interpret(hover_says("lsp")), interpret(counter):
        assert await perform(Hover("p", 2, 0)) == "counted(lsp:p:2)"
    assert counter.seen == [Hover("p", 2, 0)]


class Wrapping(Handler):
    """Composition by delegation: wraps an inner handler and records what it answered."""

    operations: ClassVar[tuple[type[Operation[Any]], ...]] = (Hover,)

    def __init__(self, inner: Handler) -> None:
        self.inner = inner
        self.log: list[tuple[Hover, Any]] = []

    async def handle(self, operation: Operation[Any]) -> Any:
        result = await self.inner.handle(operation)
        self.log.append((operation, result))
        return result


async def test_a_handler_can_wrap_an_inner_handler() -> None:
    wrapper = Wrapping(hover_says("inner"))
    async with interpret(wrapper):
        assert await perform(Hover("q", 5, 1)) == "inner:q:5"
    assert wrapper.log == [(Hover("q", 5, 1), "inner:q:5")]


async def test_forwarding_with_nothing_outside_is_unhandled() -> None:
    async with interpret(Counting()):
        with pytest.raises(UnhandledOperation):
            await perform(Hover("p", 2, 0))


async def test_concurrent_programs_never_see_each_others_handlers() -> None:
    both_installed = asyncio.Barrier(3)

    async def program(label: str | None) -> list[str]:
        async def body() -> list[str]:
            await both_installed.wait()  # every program is inside its scope before any performs
            seen = []
            for line in range(5):
                try:
                    seen.append(await perform(Hover("f", line, 0)))
                except UnhandledOperation:
                    seen.append("unhandled")
                await asyncio.sleep(0)
            return seen

        if label is None:
            return await body()
        async with interpret(hover_says(label)):
            return await body()

    left, right, bare = await asyncio.gather(program("left"), program("right"), program(None))
    assert left == [f"left:f:{n}" for n in range(5)]
    assert right == [f"right:f:{n}" for n in range(5)]
    assert bare == ["unhandled"] * 5


def test_interpret_rejects_non_handlers() -> None:
    with pytest.raises(TypeError, match="Handler instances"):
        interpret(lambda op: op)  # type: ignore[arg-type]


def test_operations_are_frozen_values() -> None:
    op = Hover("a.py", 1, 2)
    assert op == Hover("a.py", 1, 2)
    assert hash(op) == hash(Hover("a.py", 1, 2))
    with pytest.raises(AttributeError):
        op.line = 3  # type: ignore[misc]
