"""The cli_intent task: turn a natural-language request (and optional context) into one command of a CLI.

One task instance per CLI schema (``CliIntentTask(schema)``, named ``cli_intent:<cli_name>``): the tools'
enums (commands, subcommands, flags, suggestions) come from the schema, and answers are checked against it.
The student answers with exactly one call, ``run_command`` or ``clarify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall
from converters.schema import TrainingExample
from tasks.cli_intent.metrics import cli_intent_metrics
from tasks.cli_intent.retrieve import SubcommandRetriever, subset_schema
from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.tools import FREE_TEXT_FIELDS, Clarify, CliContext, cli_tools
from tasks.cli_intent.validate import Answer, near_duplicate_keys, validate_answer
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn, arguments_json, student_conversation
from teacher.tools import Tool

__all__ = ["TASK_PREFIX", "CliIntentInput", "CliIntentTask", "render_context"]

TASK_PREFIX = "cli_intent:"


class CliIntentInput(BaseModel):
    """One request: what the user typed, and what is known about where they are (or None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: str = Field(min_length=1)
    context: CliContext | None = None


def render_context(context: CliContext) -> list[str]:
    """The known parts of the context, one ``label: value`` line each."""
    lines = []
    if context.current_branch:
        lines.append(f"git branch: {context.current_branch}")
    if context.repository or context.repo_name:
        lines.append(f"repository: {context.repository or context.repo_name}")
    if context.current_pr is not None:
        lines.append(f"current PR: #{context.current_pr}")
    if context.has_uncommitted_changes is not None:
        lines.append(f"uncommitted changes: {'yes' if context.has_uncommitted_changes else 'no'}")
    return lines


class CliIntentTask(FineTrainingTeacher[CliIntentInput, Answer]):
    """Map a request to ``run_command`` (a command of the schema) or ``clarify`` (a question back)."""

    input_model = CliIntentInput
    declare_tools = True
    joins_split_keys = True
    free_text_fields = FREE_TEXT_FIELDS

    def __init__(self, schema: CliSchema, retrieve: int = 0) -> None:
        """``retrieve``: declare only the ``retrieve`` subcommands a lexical retriever finds likeliest for each
        request (:mod:`tasks.cli_intent.retrieve`); 0 declares the whole schema."""
        if retrieve < 0:
            raise ValueError(f"retrieve must be 0 (every subcommand) or more, got {retrieve}")
        self.schema = schema
        self.name = TASK_PREFIX + schema.cli_name
        self.retrieve = retrieve
        self._tools = cli_tools(schema)
        self._retriever: SubcommandRetriever | None = SubcommandRetriever(schema) if retrieve else None
        self._subset_tools: dict[tuple[str, ...], tuple[Tool[Any], ...]] = {}
        self.guidance = (
            f"You turn a user's request into one command of the {schema.cli_name} CLI ({schema.description}). "
            "Call run_command when the request names one command and gives every required argument, directly "
            "or through the context (this PR, my branch, this repo); give only the arguments and flags the "
            "request asks for or implies, and a confidence: 0.9 or more when it is clear, 0.7 to 0.9 when it "
            "needs the user's confirmation (a destructive command, a guessed value). Call clarify, with a "
            "confidence below 0.7, when the request is ambiguous, misses a required value, fits several "
            "commands, is garbled, or is not about this CLI; suggest the commands that may be meant."
        )

    def tools(self, input: CliIntentInput) -> Sequence[Tool[Any]]:
        """``run_command`` and ``clarify``, restricted to this schema (to the retrieved subset of it when the task
        retrieves)."""
        pairs = self.retrieved(input)
        if pairs is None:
            return self._tools
        if pairs not in self._subset_tools:
            if len(self._subset_tools) > 1024:
                self._subset_tools.clear()
            self._subset_tools[pairs] = cli_tools(subset_schema(self.schema, pairs))
        return self._subset_tools[pairs]

    def retrieved(self, input: CliIntentInput) -> tuple[str, ...] | None:
        """The ``command subcommand`` pairs declared for this request; None when the whole schema is."""
        if self._retriever is None:
            return None
        return self._retriever.retrieve(input.request, self.retrieve)

    def render(self, input: CliIntentInput) -> str:
        """``Request: ...`` and, when known, a ``Context:`` block with one line per known part."""
        text = f"Request: {input.request.strip()}"
        lines = render_context(input.context) if input.context is not None else []
        if lines:
            text += "\nContext:\n" + "\n".join(f"- {line}" for line in lines)
        return text

    def parse(self, call: ToolCall, input: CliIntentInput) -> Answer:
        """The typed answer; a :class:`TaskOutputError` lists every rule the call breaks."""
        answer, problems = validate_answer(call.name, call.arguments, self.schema)
        if answer is None:
            raise TaskOutputError(self.name, "; ".join(str(p) for p in problems), call)
        return answer

    def split_keys(self, input: CliIntentInput, calls: Sequence[ToolCall] = ()) -> list[str]:
        """Near-duplicate requests with the same answer, and paraphrases giving the same arguments and flags,
        share a key (:func:`tasks.cli_intent.validate.near_duplicate_keys`); none without an answer."""
        if not calls:
            return []
        return near_duplicate_keys(input.request, calls[0].name, calls[0].arguments)

    def to_examples(self, turn: Turn[CliIntentInput]) -> list[TrainingExample]:
        """One example per answered turn with exactly one valid call."""
        return [TrainingExample.model_validate(c) for c in self.example_conversations(turn)]

    def example_conversations(self, turn: Turn[CliIntentInput]) -> list[dict[str, Any]]:
        """The examples as plain data (``{"messages": [...], "tools": [...]}``); the answer is checked first."""
        if len(turn.calls) != 1:
            return []
        call = turn.calls[0]
        answer = self.parse(call, turn.input)
        if not self.declares(answer, turn.input):
            return []  # the retriever missed the answer's pairs: the student could not give it under its grammar
        arguments = answer.model_dump(mode="json")
        answer_message = {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_0", "type": "function",
                 "function": {"name": call.name, "arguments": arguments_json(arguments)}}
            ],
        }
        prompt, tools = student_conversation(self.render(turn.input), self.tools(turn.input), self.declare_tools)
        return [{"messages": [*prompt, answer_message], "tools": tools}]

    def declares(self, answer: Answer, input: CliIntentInput) -> bool:
        """Whether the tools declared for ``input`` allow ``answer`` (always, without retrieval): its pair, or
        every pair it suggests, is among those retrieved."""
        pairs = self.retrieved(input)
        if pairs is None:
            return True
        if isinstance(answer, Clarify):
            return set(answer.suggestions) <= set(pairs)
        return f"{answer.command} {answer.subcommand}" in pairs

    def metrics(
        self, expected: Sequence[Sequence[ToolCall]], predicted: Sequence[Sequence[ToolCall] | None]
    ) -> dict[str, Any]:
        """Decision bands, exact matches and confusions of the first calls
        (:func:`tasks.cli_intent.metrics.cli_intent_metrics`)."""
        return cli_intent_metrics(expected, predicted)
