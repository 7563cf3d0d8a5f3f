"""The chat-messages shape of a training example (the seeds' ``TrainingExample``), validated by pydantic."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionCall(_Strict):
    """The function part of a tool call; ``arguments`` is a JSON string, as OpenAI-style APIs send it."""

    name: str
    arguments: str


class MessageToolCall(_Strict):
    """One tool call inside an assistant message."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Strict):
    """One chat message: system, user, assistant (text and/or tool calls) or tool (a result)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Message:
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id it answers")
        return self


class TrainingExample(_Strict):
    """One conversation to learn from, with the tools (OpenAI-style) it was held with."""

    messages: list[Message] = Field(min_length=2)
    tools: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_as_written(cls, value: Any) -> Any:
        return nested_value(value)  # a dataset line carries them as a JSON string


#: the keys of a dataset line whose value is nested JSON of a per-task shape (tool schemas, a task's typed input)
NESTED_KEYS = ("tools", "input")


def portable_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dataset line as written: ``tools`` and ``input`` as JSON strings, so that Arrow (``datasets``) reads
    every task and both splits as one schema (TRL's SFTTrainer parses a ``tools`` string itself)."""
    return {k: json.dumps(v, ensure_ascii=False, separators=(",", ":")) if k in NESTED_KEYS and not isinstance(v, str)
            else v for k, v in row.items()}


def nested_value(value: Any) -> Any:
    """A ``tools`` or ``input`` value as read back: a JSON string is parsed, anything else is returned as is."""
    return json.loads(value) if isinstance(value, str) else value
