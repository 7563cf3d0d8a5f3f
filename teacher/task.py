"""The ``FineTrainingTeacher`` protocol: what a task must say so that any model can do it and be learnt from.

A task names itself, gives the guidance a teacher gets, declares its tools, renders its input as the user text
(the same text the student sees), parses a model's call into its typed output, and turns a recorded turn into
training examples. :class:`SingleCallTask` implements the parts most tasks share.

What only some tasks do is an optional capability protocol, which a task has by defining its members and generic
code (conversion, backends, evaluation) checks with ``isinstance``: its split keys (else a hash of the rendered
input), the degenerate-example filter, which output fields are free text rather than decisions, negatives and the
counterparts they are made from, the heuristic teacher's answer, the conversation of a multi-turn task, the
fallback policy for an invalid answer, its own evaluation metrics, agreement figures (``teacher.compare``), and
answers of several calls at once.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

import orjson
from pydantic import BaseModel

from converters.functiongemma import DEVELOPER_PROMPT, ToolCall
from converters.schema import TrainingExample
from tasks.text import words
from teacher.errors import FineTrainingError
from teacher.tools import Tool, ToolArgumentsError

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")
Out_co = TypeVar("Out_co", covariant=True)

__all__ = [
    "AllowsParallelCalls",
    "Compared",
    "DropsTurns",
    "FineTrainingTeacher",
    "GivesCounterparts",
    "HasConversation",
    "HasExampleConversations",
    "HasFallback",
    "HasFreeText",
    "HasHeuristic",
    "HasMetrics",
    "HasNegatives",
    "HasSplitKeys",
    "JoinsSplitKeys",
    "SingleCallTask",
    "TaskOutputError",
    "Turn",
    "free_text_fields",
    "input_key",
    "parallel_calls",
    "split_keys",
    "student_conversation",
    "topic_key",
]


class TaskOutputError(ValueError, FineTrainingError):
    """A model's answer is not a valid output of the task; carries the raw call."""

    def __init__(self, task: str, message: str, call: ToolCall | None = None) -> None:
        super().__init__(f"{task}: {message}" + (f" (got {call.name}({call.arguments!r}))" if call else ""))
        self.task = task
        self.call = call


@dataclass(frozen=True)
class Turn(Generic[In]):
    """One answered question: the input the model saw, the calls it made and the reasoning it gave."""

    task: str
    input: In
    calls: tuple[ToolCall, ...]
    reasoning: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def topic_key(text: str) -> str:
    """The split group key of a topic-like text: its set of word stems, so that paraphrases meet."""
    return "topic:" + " ".join(sorted(words(text)))


@runtime_checkable
class FineTrainingTeacher(Protocol[In, Out_co]):
    """A task that a teacher does, a student learns, and every backend answers through ``Ask``: these eight
    members are all a task must have. What only some tasks do is an optional capability (:class:`HasSplitKeys`,
    :class:`HasNegatives`, :class:`HasHeuristic`, ...), which generic code checks with ``isinstance``."""

    name: str
    guidance: str
    input_model: type[In]
    #: False for the 2-turn minimal layout: no developer turn and no declarations (the schema is in the weights)
    declare_tools: bool

    def tools(self, input: In) -> Sequence[Tool[Any]]:
        """The tools offered for this input (schemas may depend on it, e.g. allowed names)."""
        ...

    def render(self, input: In) -> str:
        """The user text for this input: identical for teacher, training data and student."""
        ...

    def parse(self, call: ToolCall, input: In) -> Out_co:
        """The typed output of a call; raises :class:`TaskOutputError` when the answer is invalid."""
        ...

    def to_examples(self, turn: Turn[In]) -> list[TrainingExample]:
        """The training examples a recorded turn yields (none when it must not be learnt from)."""
        ...


# The optional capabilities: a task has one by defining its members; generic code asks ``isinstance(task, HasX)``.


@runtime_checkable
class HasExampleConversations(Protocol):
    """A task whose examples come as plain data too: the fast path of a dataset rebuild."""

    def example_conversations(self, turn: Turn[Any]) -> list[dict[str, Any]]:
        """The examples of ``to_examples`` as plain data (``{"messages": [...], "tools": [...]}``)."""
        ...


@runtime_checkable
class HasConversation(Protocol):
    """A multi-turn task: its system prompt and the messages so far, which backends send with the user text."""

    def conversation(self, input: Any) -> tuple[str, Sequence[dict[str, Any]]] | None:
        """The system prompt and the messages so far (earlier calls and tool results), or None."""
        ...


@runtime_checkable
class HasSplitKeys(Protocol):
    """A task that says what must stay on one side of the train/eval split (default: :func:`input_key`)."""

    def split_keys(self, input: Any, calls: Sequence[ToolCall] = ()) -> list[str]:
        """Examples sharing a key (or joined through a counterpart) go to the same side; ``calls`` when known."""
        ...


@runtime_checkable
class JoinsSplitKeys(HasSplitKeys, Protocol):
    """A task whose several split keys of one example join their groups (near-duplicates linked through shared
    keys): ``converters.rebuild`` then reads its turns in a first pass."""

    joins_split_keys: bool


@runtime_checkable
class DropsTurns(Protocol):
    """A task that refuses degenerate recorded turns and counts the answers that leak the topic."""

    def drop_reason(self, turn: Turn[Any]) -> str | None:
        """Why a recorded turn must not be learnt from (counted under that reason), or None."""
        ...

    def leaks(self, turn: Turn[Any]) -> int:
        """How many answers of a kept turn leak the topic (a statistic of the rebuild)."""
        ...


@runtime_checkable
class GivesCounterparts(Protocol):
    """A task whose answer pairs a text with another (a topic with its opposite): the pair joins the two texts'
    split groups and reaches every task's :meth:`HasNegatives.negatives`."""

    def counterpart(self, turn: Turn[Any]) -> tuple[str, str] | None:
        """The pair a turn gives, or None."""
        ...


@runtime_checkable
class HasNegatives(Protocol):
    """A task that makes negative examples from a kept turn."""

    def negatives(
        self, turn: Turn[Any], counterparts: Mapping[str, str], sources: Collection[str]
    ) -> list[tuple[Turn[Any], str]]:
        """Negatives, each with where it came from (``"teacher"``: a recorded counterpart; ``"heuristic"``: made
        without a model), using only the wanted ``sources``."""
        ...


@runtime_checkable
class HasHeuristic(Protocol):
    """A task the offline heuristic teacher answers."""

    def heuristic_answer(self, input: Any) -> tuple[ToolCall | None, str]:
        """The heuristic's call (None when it declines this input) and reasoning."""
        ...


@runtime_checkable
class HasFallback(Protocol):
    """A task with a policy for an answer it refuses."""

    def fallback(self, call: ToolCall | None, input: Any) -> tuple[Any, str] | None:
        """An output made from the invalid ``call`` and a word saying how, or None when the answer stays an error."""
        ...


@runtime_checkable
class Compared(Protocol):
    """A task on which ``teacher.compare`` scores a student against the teacher by default."""

    def agreement(self, teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
        """Per-turn agreement figures between a teacher's and a student's arguments."""
        ...


@runtime_checkable
class HasMetrics(Protocol):
    """A task with evaluation figures of its own, reported beside the generic ones."""

    def metrics(
        self, expected: Sequence[Sequence[ToolCall]], predicted: Sequence[Sequence[ToolCall] | None]
    ) -> dict[str, Any]:
        """The figures for its examples' expected and predicted calls (a prediction that did not parse is None)."""
        ...


@runtime_checkable
class HasFreeText(Protocol):
    """A task some of whose argument names (of any of its tools) are free text, not decisions: they never count
    toward ``exact`` (:func:`teacher.evaluation.decisions_agree`), get a token-F1 figure of their own, and are
    left out of the training data's field distributions and of the prior; every other argument is a decision."""

    free_text_fields: frozenset[str]


def free_text_fields(task: object) -> frozenset[str]:
    """The task's free-text argument names (:class:`HasFreeText`); none for a task without them."""
    return task.free_text_fields if isinstance(task, HasFreeText) else frozenset()


@runtime_checkable
class AllowsParallelCalls(Protocol):
    """A task whose answer may hold several calls at once (when ``parallel_calls`` is true); a grammar-constrained
    student is otherwise allowed exactly one."""

    parallel_calls: bool


def parallel_calls(task: object) -> bool:
    """Whether an answer of ``task`` may hold several calls (:class:`AllowsParallelCalls`); False for a task
    without the capability."""
    return bool(task.parallel_calls) if isinstance(task, AllowsParallelCalls) else False


def input_key(task: FineTrainingTeacher[Any, Any], input: Any) -> str:
    """The default split key: a hash of the rendered input, so that only identical questions meet."""
    return "input:" + hashlib.blake2b(task.render(input).encode("utf-8"), digest_size=8).hexdigest()


def split_keys(task: FineTrainingTeacher[Any, Any], input: Any, calls: Sequence[ToolCall] = ()) -> list[str]:
    """What keeps an example on one side of the split: the task's own keys (:class:`HasSplitKeys`), else
    :func:`input_key`."""
    return task.split_keys(input, calls) if isinstance(task, HasSplitKeys) else [input_key(task, input)]


class SingleCallTask(FineTrainingTeacher[In, Out], ABC):
    """A task answered by exactly one call of its one tool; subclasses give the tool, render and convert."""

    name: str
    guidance: str = ""
    input_model: type[In]
    #: False for the 2-turn minimal layout: examples carry no developer turn and no declarations (the schema
    #: is learnt into the weights), and the student must then be prompted the same way.
    declare_tools: bool = True

    @abstractmethod
    def tool(self, input: In) -> Tool[Any]:
        """The task's tool for this input."""

    @abstractmethod
    def render(self, input: In) -> str:
        """The user text for this input."""

    def output(self, arguments: Any, input: In) -> Out:
        """Turn the validated arguments into the task's output (raise TaskOutputError to refuse them).

        By default the validated arguments are the output; override to convert or to check them against the input.
        """
        return cast(Out, arguments)

    def tools(self, input: In) -> Sequence[Tool[Any]]:
        return [self.tool(input)]

    def parse(self, call: ToolCall, input: In) -> Out:
        tool = self.tool(input)
        if call.name != tool.name:
            raise TaskOutputError(self.name, f"expected a call to {tool.name}", call)
        try:
            arguments = tool.validate(call.arguments)
        except ToolArgumentsError as error:
            raise TaskOutputError(self.name, str(error), call) from None
        return self.output(arguments, input)

    def to_examples(self, turn: Turn[In]) -> list[TrainingExample]:
        return [TrainingExample.model_validate(c) for c in self.example_conversations(turn)]

    def example_conversations(self, turn: Turn[In]) -> list[dict[str, Any]]:
        """The examples of ``to_examples`` as plain data, the answer validated by the task but the shape not yet by
        pydantic."""
        if len(turn.calls) != 1:
            return []
        call = turn.calls[0]
        self.parse(call, turn.input)  # an invalid answer is never learnt from
        answer = {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_0", "type": "function",
                 "function": {"name": call.name, "arguments": arguments_json(call.arguments)}}
            ],
        }
        prompt, tools = student_conversation(self.render(turn.input), self.tools(turn.input), self.declare_tools)
        return [{"messages": [*prompt, answer], "tools": tools}]


def arguments_json(arguments: dict[str, Any]) -> str:
    """A call's arguments as the JSON string OpenAI-style messages carry (compact, UTF-8 kept)."""
    try:
        return orjson.dumps(arguments).decode()
    except TypeError:  # orjson refuses integers beyond 64 bits
        return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def student_conversation(
    user: str,
    tools: Sequence[Tool[Any]],
    declare_tools: bool,
    *,
    system: str = "",
    history: Sequence[dict[str, Any]] = (),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages before the answer and the declared tools, exactly as the student is trained and prompted.

    A task's own ``system`` prompt comes first, Google's trigger line right before the declarations;
    ``history`` (a multi-turn task's calls and tool results so far) follows the user text."""
    if not declare_tools:
        head = [{"role": "system", "content": system}] if system else []
        return [*head, {"role": "user", "content": user}, *history], []
    developer = f"{system}\n\n{DEVELOPER_PROMPT}" if system else DEVELOPER_PROMPT
    return (
        [{"role": "system", "content": developer}, {"role": "user", "content": user}, *history],
        [tool.openai() for tool in tools],
    )
