"""Teacher generation of cli_intent examples: the teacher writes a batch of requests *and* answers them.

``GenerateBatchTask(schema)`` (named ``cli_intent_generate:<cli_name>``) asks for one batch of one category
(``with_context``, ``without_context`` or ``negative``) through ``Ask`` like any task, so the Haiku teacher,
the offline template teacher or a test double answers it. The answer is one ``submit_examples`` call; each
item is checked on its own later (one bad item never loses the batch). The batch is not learnt from.

A generation run is a recorded session (``training/data/NAME/train_progress.jsonl``, one ``model`` line per
batch): :func:`recorded_batches` derives the accepted examples and the drops from the recorded turns, checking
each item again with the same rules and dropping exact duplicates (normalised request and context), so a
resumed run continues where the recording ends. :func:`example_turns` writes the accepted examples as turns of
the student task, which the command (:func:`tasks.cli_intent.generate.write_dataset`) rebuilds into ``train.jsonl``
and ``eval.jsonl`` with ``converters.rebuild`` (its writer, and its split grouped by the task's ``split_keys``:
near-duplicates never straddle it, :func:`split_groups`), with ``stats.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from converters.functiongemma import ToolCall
from converters.schema import TrainingExample
from converters.writer import SplitGroups
from interpreters.records import Line, ModelTurn
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.task import CliIntentInput, CliIntentTask
from tasks.cli_intent.tools import CliContext
from tasks.cli_intent.validate import (
    CATEGORIES,
    Answer,
    Problem,
    near_duplicate_keys,
    normalize_request,
    validate_example,
)
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn
from teacher.tools import Tool

__all__ = [
    "MIX",
    "NEGATIVE_KINDS",
    "PROGRESS_FILE",
    "BatchInput",
    "BatchRecord",
    "GenerateBatchTask",
    "GeneratedExample",
    "SubmitExamples",
    "check_batch",
    "dedup_key",
    "example_from_item",
    "example_turns",
    "next_batch",
    "recorded_batches",
    "split_groups",
    "targets",
]

Category = Literal["with_context", "without_context", "negative"]
NEGATIVE_KINDS = ("ambiguous", "incomplete", "off_topic", "multiple", "typo")
GENERATE_PREFIX = "cli_intent_generate:"
#: The session log of a generation run, under ``training/data/NAME/``.
PROGRESS_FILE = "train_progress.jsonl"
#: The category mix: 60% positives with context, 20% without, 20% negatives.
MIX: dict[str, float] = {"with_context": 0.6, "without_context": 0.2, "negative": 0.2}


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
        """The generation prompt: the schema as YAML, the category, how many, the focus, and the batch number
        (so that each batch is its own recorded turn: a resumed run never answers a new batch from an old one)."""
        focus = ""
        if input.focus:
            what = "negative kinds" if input.category == "negative" else "subcommands"
            focus = f"\nFocus on these {what}, spread evenly: {', '.join(input.focus)}."
        return (
            f"CLI schema:\n{self.schema.to_yaml()}\n"
            f"Generate {input.count} diverse examples of the category {input.category}. "
            f"{_CATEGORY_TEXT[input.category]}{focus}\n"
            f"This is batch {input.batch} (seed {input.seed}): write requests unlike those of other batches."
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
    """One accepted example (derived from a recorded batch by :func:`recorded_batches`)."""

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


@dataclass(frozen=True)
class BatchRecord:
    """One finished batch: what was asked, what was accepted, what was dropped and why."""

    batch: int
    category: str
    asked: int
    examples: tuple[GeneratedExample, ...]
    dropped: dict[str, int] = field(default_factory=dict)


def dedup_key(example: GeneratedExample) -> str:
    """Two examples are duplicates when their normalized request and their context are the same."""
    context = example.context.model_dump_json(exclude_none=True) if example.context else ""
    return normalize_request(example.request) + "\x00" + context


def check_batch(
    schema: CliSchema, batch: BatchInput, items: Sequence[dict[str, Any]] | None, seen: set[str]
) -> BatchRecord:
    """Check a batch's submitted items (None: the answer was refused): the accepted ones (at most the count
    asked, none seen before; ``seen`` grows) and the drops by rule."""
    dropped: Counter[str] = Counter()
    accepted: list[GeneratedExample] = []
    if items is None:
        dropped["batch_invalid"] += 1
    for item in items or []:
        example, problems = example_from_item(item, batch.category, schema)
        if example is not None and dedup_key(example) in seen:
            dropped["duplicate"] += 1
        elif example is None:
            dropped[problems[0].rule] += 1
        elif len(accepted) < batch.count:
            seen.add(dedup_key(example))
            accepted.append(example)
        else:
            dropped["surplus"] += 1
    return BatchRecord(batch.batch, batch.category, batch.count, tuple(accepted), dict(dropped))


def recorded_batches(records: Iterable[Line], schema: CliSchema) -> list[BatchRecord]:
    """The finished batches of a recorded generation session, in order, each checked again as when it was
    asked (a refused answer is a ``batch_invalid`` drop; failed turns are left out: they are asked again)."""
    task = GenerateBatchTask(schema)
    seen: set[str] = set()
    batches = []
    for record in records:
        if not isinstance(record, ModelTurn) or record.error or record.task != task.name:
            continue
        batch = BatchInput.model_validate(record.input)
        calls = record.calls or []
        items: list[dict[str, Any]] | None = None
        if calls:
            try:
                items = task.parse(ToolCall(calls[0].name, calls[0].arguments), batch)
            except TaskOutputError:
                items = None
        batches.append(check_batch(schema, batch, items, seen))
    return batches


def targets(count: int) -> dict[str, int]:
    """How many examples of each category make ``count`` with the mix (rounding goes to the negatives)."""
    with_context = round(count * MIX["with_context"])
    without = round(count * MIX["without_context"])
    return {"with_context": with_context, "without_context": without, "negative": count - with_context - without}


def next_batch(
    schema: CliSchema, have: Counter[str], wanted: dict[str, int], batch_size: int, batch: int, seed: int
) -> BatchInput | None:
    """The next batch to ask for: the category furthest behind its target, with a rotating focus; None when done."""
    missing = {c: wanted[c] - have.get(c, 0) for c in CATEGORIES if wanted[c] > have.get(c, 0)}
    if not missing:
        return None
    category = max(missing, key=lambda c: (missing[c] / wanted[c], -CATEGORIES.index(c)))
    count = min(batch_size, missing[category])
    if category == "negative":
        focus = tuple(NEGATIVE_KINDS[(batch + i) % len(NEGATIVE_KINDS)] for i in range(min(count, len(NEGATIVE_KINDS))))
    else:
        pairs = schema.pair_names()
        start = (batch * batch_size) % len(pairs)
        focus = tuple(pairs[(start + i) % len(pairs)] for i in range(min(count, len(pairs))))
    return BatchInput(cli_name=schema.cli_name, category=category, count=count, focus=focus, batch=batch, seed=seed)


def split_groups(examples: Sequence[GeneratedExample]) -> list[int]:
    """A group per example, joined through the task's split keys (:meth:`CliIntentTask.split_keys`): near-duplicate
    requests with the same answer, and commands with the same arguments and flags, share a group."""
    keys = [near_duplicate_keys(e.request, e.tool, e.arguments) for e in examples]
    groups = SplitGroups()
    for example_keys in keys:
        groups.join(example_keys)
    numbering: dict[str, int] = {}
    return [numbering.setdefault(groups.root(k), len(numbering)) for k in keys]


def example_turns(schema: CliSchema, examples: Sequence[GeneratedExample]) -> list[str]:
    """The accepted examples as typed ``model`` lines of the student task ``cli_intent:<cli_name>`` (each the
    request and the teacher's answer from a recorded batch), the session log ``converters.rebuild`` reads."""
    from interpreters.records import ModelTurn, RecordedCall, SessionStart, dump_line

    task_name = CliIntentTask(schema).name
    session = GENERATE_PREFIX + schema.cli_name
    lines = [dump_line(SessionStart(session=session))]
    for number, example in enumerate(examples):
        call = example.call()
        lines.append(dump_line(ModelTurn(
            session=session, turn=number, task=task_name, backend="generated",
            input=example.input().model_dump(mode="json", exclude_none=True),
            calls=[RecordedCall(name=call.name, arguments=call.arguments)])))
    return lines
