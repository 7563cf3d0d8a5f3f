"""One way to score a student: put the teacher's questions to any backend and compare the calls.

``finetune eval`` (a dataset's eval split) and ``teacher.compare`` (an exploration's recordings) both ask a
:class:`~teacher.model.ModelBackend` through :func:`ask`, and both call an answer exact by :func:`decisions_agree`:
the same calls with the same decision fields (a task's ``free_text_fields`` never count; :func:`token_f1` gives
them a similarity figure of their own).
:func:`request_from_messages` turns a dataset conversation back into the request a backend answers, so that a
dataset line is replayed under any backend: a model folder, a GGUF, an Ollama student, the heuristic.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from converters.functiongemma import DEVELOPER_PROMPT, ToolCall
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.operations import OperationFailed
from teacher.task import FineTrainingTeacher, student_conversation
from teacher.tools import Tool, ToolArgumentsError

__all__ = [
    "Answer",
    "DeclaredTool",
    "answer_of",
    "ask",
    "calls_agree",
    "decision_arguments",
    "decisions_agree",
    "differing_fields",
    "free_text_similarity",
    "normalise",
    "request_from_messages",
    "token_f1",
]

_TOKEN = re.compile(r"\w+")


def normalise(value: Any) -> Any:
    """A comparable form of call arguments: mappings by key, lists of plain values as sorted sets."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [normalise(v) for v in value]
        if all(isinstance(v, str | int | float | bool) or v is None for v in items):
            return sorted(set(items), key=lambda v: (type(v).__name__, str(v)))
        return items
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def calls_agree(expected: Sequence[ToolCall], predicted: Sequence[ToolCall]) -> bool:
    """The one definition of an exact answer: the same calls, in order, with the same arguments (lists of plain
    values compared as sets, since the schemas use them as sets; 2 and 2.0 are the same number)."""
    return len(expected) == len(predicted) and all(
        e.name == p.name and normalise(e.arguments) == normalise(p.arguments)
        for e, p in zip(expected, predicted, strict=True)
    )


def decision_arguments(arguments: Mapping[str, Any], free_text: Collection[str] = frozenset()) -> dict[str, Any]:
    """A call's arguments without its free-text fields: what a decision is judged on."""
    return {key: value for key, value in arguments.items() if key not in free_text}


def decisions_agree(
    expected: Sequence[ToolCall], predicted: Sequence[ToolCall], free_text: Collection[str] = frozenset()
) -> bool:
    """The one definition of an exact answer: the same calls, in order, with every decision field the same (as
    :func:`calls_agree` compares them); the ``free_text`` fields (the task's ``free_text_fields``) never count."""
    def decided(call: ToolCall) -> Any:
        return normalise(decision_arguments(call.arguments, free_text))

    return len(expected) == len(predicted) and all(
        e.name == p.name and decided(e) == decided(p) for e, p in zip(expected, predicted, strict=True)
    )


def differing_fields(
    expected: Sequence[ToolCall], predicted: Sequence[ToolCall], free_text: Collection[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """Which decision fields and which free-text fields of the predicted calls differ from the expected ones:
    ``(tool)`` when a call names another tool, ``(calls)`` when the number of calls differs; a field of a call
    after the first is prefixed with its position (``1:risk``)."""
    decisions: list[str] = [] if len(expected) == len(predicted) else ["(calls)"]
    texts: list[str] = []
    for index, (e, p) in enumerate(zip(expected, predicted, strict=False)):
        prefix = f"{index}:" if index else ""
        if e.name != p.name:
            decisions.append(f"{prefix}(tool)")
            continue
        for key in sorted(set(e.arguments) | set(p.arguments)):
            missing = object()
            if normalise(e.arguments.get(key, missing)) != normalise(p.arguments.get(key, missing)):
                (texts if key in free_text else decisions).append(prefix + key)
    return decisions, texts


def _tokens(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return _TOKEN.findall(text.lower())


def token_f1(expected: Any, predicted: Any) -> float:
    """The token F1 of a predicted text against the expected one (lower-cased words, counted with repeats, as the
    SQuAD answer metric does); a value that is not text is compared through its JSON. Two empty texts agree."""
    want, got = Counter(_tokens(expected)), Counter(_tokens(predicted))
    if not want and not got:
        return 1.0
    common = sum((want & got).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def free_text_similarity(
    expected: Sequence[ToolCall], predicted: Sequence[ToolCall] | None, free_text: Collection[str]
) -> dict[str, float]:
    """Per free-text field of the first expected call: the token F1 of the prediction's first call (0 when it
    gave no such call or no such field). A field whose expected value is a number (cli_intent's confidence) is not
    text: it is left out of exact and gets no similarity figure."""
    if not expected or not free_text:
        return {}
    want = expected[0]
    got = predicted[0].arguments if predicted and predicted[0].name == want.name else {}
    return {key: token_f1(value, got[key]) if key in got else 0.0
            for key, value in sorted(want.arguments.items())
            if key in free_text and not isinstance(value, int | float)}


@dataclass(frozen=True)
class Answer:
    """A backend's answer to one question: its calls, or None with ``failure`` saying why (``unparsable``: the
    output is not FunctionGemma the codec reads; ``no_answer``: the backend failed on this question)."""

    calls: tuple[ToolCall, ...] | None
    latency_s: float | None = None
    reply: ModelReply | None = None
    failure: str | None = None


async def ask(backend: ModelBackend, request: ModelRequest) -> Answer:
    """Put one request to a backend. A fatal failure (the student is not there at all) raises; any other
    :class:`~teacher.operations.OperationFailed` is this question's ``no_answer``."""
    started = time.perf_counter()
    try:
        reply = await backend.complete(request)
    except OperationFailed as error:
        if error.fatal:
            raise
        return Answer(None, None, None, "no_answer")
    return answer_of(reply, time.perf_counter() - started)


def answer_of(reply: ModelReply, elapsed: float) -> Answer:
    """A reply as an :class:`Answer`: its latency is the backend's own measure (``meta["latency_s"]``) where it
    gives one, else ``elapsed``; a reply whose text did not parse (``meta["format_error"]``) is ``unparsable``."""
    latency = reply.meta.get("latency_s")
    latency_s = float(latency) if isinstance(latency, int | float) else elapsed
    if "format_error" in reply.meta:
        return Answer(None, latency_s, reply, "unparsable")
    return Answer(reply.calls, latency_s, reply)


class DeclaredTool(Tool[Any]):
    """A tool known by its declaration alone (as a dataset line carries it): offered exactly as declared."""

    def __init__(self, declaration: Mapping[str, Any]) -> None:
        function = declaration.get("function")
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ValueError("a declared tool must be {'type': 'function', 'function': {'name': ..., ...}}")
        self.name = function["name"]
        self.description = str(function.get("description") or "")
        self.choices = {}
        self._declaration = copy.deepcopy(dict(declaration))

    def parameters(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._declaration["function"].get("parameters") or {}))

    def openai(self) -> dict[str, Any]:
        return copy.deepcopy(self._declaration)

    def validate(self, arguments: Mapping[str, Any] | str) -> Any:
        raise ToolArgumentsError(self.name, arguments, ["a declared tool has no model to validate against"])

    def __repr__(self) -> str:
        return f"DeclaredTool({self.name!r})"


class _NoInput(BaseModel):
    """The input of a request whose task input was not recorded."""


def request_from_messages(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]],
    *,
    task: str = "",
    input: BaseModel | None = None,
    guidance: str = "",
    known: FineTrainingTeacher[Any, Any] | None = None,
) -> ModelRequest | None:
    """The request whose student conversation (``teacher.task.student_conversation``) is exactly ``messages``
    (everything before the answer) with ``tools``; None when no request gives these messages. ``task`` is the
    task's name and ``known`` the task itself, when it is known."""
    rest = [dict(m) for m in messages]
    system = ""
    if rest and rest[0].get("role") in ("system", "developer"):
        content = rest.pop(0).get("content")
        if not isinstance(content, str):
            return None
        system = content
    if not rest or rest[0].get("role") != "user" or not isinstance(rest[0].get("content"), str):
        return None
    declare = bool(tools) or system == DEVELOPER_PROMPT or system.endswith(f"\n\n{DEVELOPER_PROMPT}")
    if declare:
        system = "" if system == DEVELOPER_PROMPT else system.removesuffix(f"\n\n{DEVELOPER_PROMPT}")
    try:
        declared = tuple(DeclaredTool(tool) for tool in tools)
    except ValueError:
        return None
    request = ModelRequest(
        task_name=task,
        input=input if input is not None else _NoInput(),
        user=rest[0]["content"],
        guidance=guidance,
        tools=declared,
        declare_tools=declare,
        system=system,
        history=tuple(rest[1:]),
        task=known,
    )
    again, again_tools = student_conversation(
        request.user, request.tools, declare, system=request.system, history=request.history
    )
    return request if again == [dict(m) for m in messages] and again_tools == [dict(t) for t in tools] else None
