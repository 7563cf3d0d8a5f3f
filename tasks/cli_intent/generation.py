"""Teacher generation of cli_intent examples: the teacher writes a batch of requests *and* answers them.

``GenerateBatchTask(schema)`` (named ``cli_intent_generate:<cli_name>``) asks for one batch of one category
(``with_context``, ``without_context`` or ``negative``) through ``Ask`` like any task, so the Haiku teacher,
the offline template teacher or a test double answers it. The answer is one ``submit_examples`` call; each
item is checked on its own later (one bad item never loses the batch). The batch is not learnt from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from converters.functiongemma import ToolCall
from converters.schema import TrainingExample
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.task import CliIntentInput
from tasks.cli_intent.tools import CliContext
from tasks.cli_intent.validate import CATEGORIES, Answer, Problem, validate_example
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn
from teacher.tools import Tool

__all__ = [
    "NEGATIVE_KINDS",
    "BatchInput",
    "GenerateBatchTask",
    "GeneratedExample",
    "SubmitExamples",
    "example_from_item",
]

Category = Literal["with_context", "without_context", "negative"]
NEGATIVE_KINDS = ("ambiguous", "incomplete", "off_topic", "multiple", "typo")
GENERATE_PREFIX = "cli_intent_generate:"


class BatchInput(BaseModel):
    """One batch to generate: its category, how many, which subcommands or negative kinds to focus on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cli_name: str
    category: Category
    count: int = Field(ge=1)
    focus: tuple[str, ...] = ()
    batch: int = Field(default=0, ge=0)
    seed: int = 0


class ExampleDraft(BaseModel):
    """One generated example as the teacher submits it."""

    request: str = Field(description="What the user types, in natural language.")
    context: CliContext | None = Field(default=None, description="The environment, or null when unknown.")
    kind: str = Field(default="", description="For a negative: ambiguous, incomplete, off_topic, multiple or typo.")
    tool: Literal["run_command", "clarify"] = Field(description="The tool that answers the request.")
    arguments: dict[str, Any] = Field(description="The arguments of that tool call.")


class SubmitExamples(BaseModel):
    """The arguments of ``submit_examples``."""

    examples: list[ExampleDraft] = Field(description="The generated examples, as many as asked.")


SUBMIT_EXAMPLES = Tool("submit_examples", "Submit a batch of generated training examples.", SubmitExamples)

_CATEGORY_TEXT = {
    "with_context": (
        "Every example has a context object (git branch, repository owner and name, current PR number, uncommitted "
        "changes; fill the parts that are realistic). About half of the requests use it (\"this PR\", \"my "
        "branch\", \"this repo\"), and the answer takes the value from the context. Every answer is run_command."
    ),
    "without_context": (
        "No example has a context (context: null). Every request is clear and complete on its own, and every answer "
        "is run_command."
    ),
    "negative": (
        "Every answer is clarify, with suggestions of the commands that may be meant and confidence below 0.7. "
        "Set kind to one of: ambiguous (a command without a subcommand), incomplete (a required value is missing, "
        "such as \"merge the PR\" with no number and no context), off_topic (not about this CLI; no suggestions), "
        "multiple (fits several commands, such as \"close 12\"), typo (garbled words that make the intent unclear). "
        "Context may be null or present without the missing value."
    ),
}


class GenerateBatchTask(FineTrainingTeacher[BatchInput, list[dict[str, Any]]]):
    """Ask a teacher for ``count`` examples of one category, as one ``submit_examples`` call."""

    input_model = BatchInput
    declare_tools = True

    def __init__(self, schema: CliSchema) -> None:
        self.schema = schema
        self.name = GENERATE_PREFIX + schema.cli_name
        self.guidance = (
            "You are generating training data for a small model that turns natural language into commands of a "
            "command-line tool. The model answers each request with exactly one tool call: run_command(command, "
            "subcommand, args, flags, confidence) or clarify(message, suggestions, confidence). Follow the schema "
            "exactly: only its commands, subcommands, argument names, enum values and flag long names; integer "
            "arguments are JSON numbers; give every required argument or clarify instead; give only the optional "
            "arguments and flags the request asks for. Confidence: 0.9 or more for a clear command, 0.7 to 0.9 "
            "when the user should confirm (destructive, guessed), below 0.7 for clarify. Suggestions are strings "
            "'command subcommand'. Vary formality (casual to precise), synonyms (show/display/list, make/create), "
            "word order, length, and with or without optional arguments. Never repeat a request. Call "
            "submit_examples once with the whole batch."
        )

    def tools(self, input: BatchInput) -> Sequence[Tool[Any]]:
        """The one tool, ``submit_examples``."""
        return [SUBMIT_EXAMPLES]

    def render(self, input: BatchInput) -> str:
        """The generation prompt: the schema as YAML, the category, how many, and the focus."""
        focus = ""
        if input.focus:
            what = "negative kinds" if input.category == "negative" else "subcommands"
            focus = f"\nFocus on these {what}, spread evenly: {', '.join(input.focus)}."
        return (
            f"CLI schema:\n{self.schema.to_yaml()}\n"
            f"Generate {input.count} diverse examples of the category {input.category}. "
            f"{_CATEGORY_TEXT[input.category]}{focus}"
        )

    def parse(self, call: ToolCall, input: BatchInput) -> list[dict[str, Any]]:
        """The submitted items, unchecked (each is validated on its own); refuses a call with no item list."""
        if call.name != SUBMIT_EXAMPLES.name:
            raise TaskOutputError(self.name, "expected a call to submit_examples", call)
        items = call.arguments.get("examples")
        if not isinstance(items, list):
            raise TaskOutputError(self.name, "submit_examples needs an 'examples' list", call)
        return [item if isinstance(item, dict) else {"invalid": item} for item in items]

    def to_examples(self, turn: Turn[BatchInput]) -> list[TrainingExample]:
        """None: the generation request itself is not learnt from."""
        return []


class GeneratedExample(BaseModel):
    """One accepted example, as kept in ``train_progress.jsonl``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: str
    context: CliContext | None = None
    category: Category
    kind: str = ""
    tool: Literal["run_command", "clarify"]
    arguments: dict[str, Any]

    def input(self) -> CliIntentInput:
        """The task input the student sees."""
        return CliIntentInput(request=self.request, context=self.context)

    def call(self) -> ToolCall:
        """The answer as a tool call."""
        return ToolCall(self.tool, dict(self.arguments))


def example_from_item(
    item: dict[str, Any], category: str, schema: CliSchema
) -> tuple[GeneratedExample | None, list[Problem]]:
    """Check one submitted item with every validation rule; the accepted example, or None with the problems."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    context: CliContext | None = None
    raw_context = item.get("context")
    if isinstance(raw_context, str) and raw_context.strip().lower() in ("", "null", "none"):
        raw_context = None
    if raw_context is not None:
        try:
            context = CliContext.model_validate(raw_context)
        except ValidationError as error:
            return None, [Problem("context", f"invalid context: {error.errors()[0]['msg']}")]
    if context is not None and context.is_empty():
        context = None
    tool = item.get("tool")
    answer, problems = validate_example(
        item.get("request"), context, category, tool if isinstance(tool, str) else "", item.get("arguments"), schema
    )
    if answer is None:
        return None, problems
    return _accepted(str(item["request"]).strip(), context, category, str(item.get("kind") or ""), answer), []


def _accepted(request: str, context: CliContext | None, category: str, kind: str, answer: Answer) -> GeneratedExample:
    tool = "clarify" if category == "negative" else "run_command"
    if category == "negative":
        kind = kind if kind in NEGATIVE_KINDS else "other"
    else:
        kind = "context_used" if kind == "context_used" and context is not None else ""
    return GeneratedExample.model_validate(
        {"request": request, "context": context, "category": category, "kind": kind, "tool": tool,
         "arguments": answer.model_dump(mode="json")}
    )
