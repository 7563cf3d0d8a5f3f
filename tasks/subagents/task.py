"""A subagent as a :class:`FineTrainingTeacher`: each turn of its conversation is one ``Ask``.

The input of a turn is the node plus the conversation so far (``history``: OpenAI-style assistant tool calls
and tool results) and whether it is the last turn, on which only ``submit_result`` is offered. A turn's output
is the validated call (:class:`SubagentAction`); an unknown tool or invalid arguments raise
:class:`RejectedCall`, which the runner hands back to the model as a tool error. A recorded session's last turn
(the ``submit_result`` call) becomes one training example: the whole conversation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from converters.functiongemma import ToolCall
from converters.schema import TrainingExample
from tasks.subagents.definition import SUBMIT, NodeContext, SubagentDefinition
from teacher.task import FineTrainingTeacher, TaskOutputError, Turn, arguments_json, student_conversation
from teacher.tools import Tool, ToolArgumentsError

__all__ = [
    "FREE_TEXT_FIELDS",
    "GUIDANCE",
    "RejectedCall",
    "SubagentAction",
    "SubagentTask",
    "SubagentTurn",
    "assistant_call",
    "tool_result",
]

#: the arguments that are not decisions: ``submit_result``'s one-sentence summary and the work's own text (a test
#: file's content, a docstring, fixture values), which the tools check by running them and no student writes word
#: for word. The decisions are which tool is called and the rest: counts, changed files, paths, styles, formats.
FREE_TEXT_FIELDS = frozenset({"summary", "content", "docstring", "fixtures"})

GUIDANCE = (
    "Work on the node above with the tools, one tool call per turn; each tool really runs on a copy of the "
    "file and its result comes back to you. When the work is done (or cannot be done), call submit_result "
    "once, reporting counts and changed files exactly as the tools reported them. Explain briefly before "
    "each call."
)


class SubagentTurn(BaseModel):
    """The input of one turn: the node, the conversation so far, and whether this is the last turn."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    context: NodeContext
    history: tuple[dict[str, Any], ...] = Field(default=())
    final: bool = False


@dataclass(frozen=True)
class SubagentAction:
    """A validated call: a tool to run, or (``name == "submit_result"``) the run's result."""

    name: str
    arguments: dict[str, Any]

    @property
    def terminal(self) -> bool:
        """Whether this call ends the run."""
        return self.name == SUBMIT


class RejectedCall(TaskOutputError):
    """A call naming a tool that is not offered, or with arguments that do not validate; ``problem`` says which."""

    def __init__(self, task: str, problem: str, call: ToolCall | None) -> None:
        super().__init__(task, problem, call)
        self.problem = problem


def assistant_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The assistant message of one tool call, as training data and every backend carry it."""
    return {
        "role": "assistant",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments_json(arguments)}}
        ],
    }


def tool_result(call_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """The tool message answering a call: its result as compact JSON text."""
    return {"role": "tool", "tool_call_id": call_id,
            "content": json.dumps(result, ensure_ascii=False, separators=(",", ":"))}


class SubagentTask(FineTrainingTeacher[SubagentTurn, SubagentAction]):
    """One turn of a subagent's conversation, for any model backend (teacher, student, scripted)."""

    declare_tools = True
    input_model = SubagentTurn
    guidance = GUIDANCE
    free_text_fields = FREE_TEXT_FIELDS

    def __init__(self, definition: SubagentDefinition) -> None:
        self.definition = definition
        self.name = f"subagent_{definition.name}"

    def tools(self, input: SubagentTurn) -> Sequence[Tool[Any]]:
        """Every tool, or on the last turn only ``submit_result``."""
        if input.final:
            return [self.definition.submit.tool]
        return [t.tool for t in self.definition.tools]

    def render(self, input: SubagentTurn) -> str:
        return self.definition.render_context(input.context)

    def conversation(self, input: SubagentTurn) -> tuple[str, tuple[dict[str, Any], ...]]:
        """The subagent's system prompt and the messages of the turns so far."""
        return self.definition.system_prompt, input.history

    def split_keys(self, input: SubagentTurn, calls: Sequence[ToolCall] = ()) -> list[str]:
        """The code node the subagent works on: every turn about one node stays on one side of the split."""
        return [f"symbol:{input.context.file_path}:{input.context.node_name}"]

    def parse(self, call: ToolCall, input: SubagentTurn) -> SubagentAction:
        offered = {tool.name: tool for tool in self.tools(input)}
        tool = offered.get(call.name)
        if tool is None:
            raise RejectedCall(self.name, f"unknown tool {call.name!r}; offered: {', '.join(offered)}", call)
        try:
            arguments = tool.validate(call.arguments)
        except ToolArgumentsError as error:
            raise RejectedCall(self.name, f"invalid arguments for {call.name}: {'; '.join(error.problems)}",
                               call) from None
        return SubagentAction(call.name, dict(arguments))

    def example(
        self, context: NodeContext, history: Sequence[dict[str, Any]], submit: dict[str, Any]
    ) -> dict[str, Any]:
        """A whole conversation as one training example (plain data): prompt, turns, the ``submit_result`` call."""
        messages, tools = student_conversation(
            self.definition.render_context(context), [t.tool for t in self.definition.tools], True,
            system=self.definition.system_prompt, history=history,
        )
        calls = sum(1 for m in history if m.get("tool_calls"))
        return {"messages": [*messages, assistant_call(f"call_{calls}", SUBMIT, submit)], "tools": tools}

    def example_conversations(self, turn: Turn[SubagentTurn]) -> list[dict[str, Any]]:
        """The example of a recorded turn that submits a valid result after a clean conversation, else none."""
        if len(turn.calls) != 1 or turn.calls[0].name != SUBMIT:
            return []
        action = self.parse(turn.calls[0], turn.input)
        if not clean_history(turn.input.history):
            return []
        return [self.example(turn.input.context, turn.input.history, action.arguments)]

    def to_examples(self, turn: Turn[SubagentTurn]) -> list[TrainingExample]:
        return [TrainingExample.model_validate(c) for c in self.example_conversations(turn)]


def clean_history(history: Sequence[dict[str, Any]]) -> bool:
    """Whether a conversation holds only accepted calls and their results (nothing a student should not learn)."""
    for message in history:
        if message.get("role") == "user":
            return False
        if message.get("role") == "tool" and '"rejected":true' in str(message.get("content", "")):
            return False
    return True
