"""A task of your own, in one file: classify an identifier's naming style.

Copy this file to add a task: an input model, an argument model for the tool (its field descriptions and
types are the schema every backend sees), and a ``SingleCallTask`` that renders the input and converts the
validated arguments. Optional capabilities say the rest: here the split key (every spelling of one name stays on
one side of the train/eval split), the task's own evaluation metrics, and a heuristic answer for the offline
backend. Nothing else in the library needs to change: the generic commands load it by ``module:Class``::

    python -m teacher.record --task examples.naming_style:NamingStyleTask --inputs names.jsonl \
        --teacher heuristic --out rec
    python -m converters.rebuild rec --task examples.naming_style:NamingStyleTask --with-inputs --out data
    python -m finetune eval --task examples.naming_style:NamingStyleTask --data data --model ollama:NAME --out ev
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from converters.functiongemma import ToolCall
from tasks.text import words
from teacher.task import SingleCallTask, TaskOutputError
from teacher.tools import Tool

Style = Literal["snake_case", "camelCase", "PascalCase", "UPPER_CASE", "other"]


class NamingInput(BaseModel):
    """The identifier to classify and the language it comes from."""

    identifier: str = Field(min_length=1)
    language: str = "python"


class ReportStyle(BaseModel):
    """The tool's arguments: what the model must answer."""

    style: Style = Field(description="The naming convention the identifier follows.")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure you are, from 0 to 1.")


REPORT_STYLE = Tool("report_style", "Report the naming style of an identifier.", ReportStyle)


class NamingStyleTask(SingleCallTask[NamingInput, ReportStyle]):
    """Classify an identifier as snake_case, camelCase, PascalCase, UPPER_CASE or other."""

    name = "naming_style"
    guidance = "Look only at the identifier's letters, digits and underscores; call report_style once."
    input_model = NamingInput

    def tool(self, input: NamingInput) -> Tool[ReportStyle]:
        return REPORT_STYLE

    def render(self, input: NamingInput) -> str:
        return f"Identifier: {input.identifier}\nLanguage: {input.language}"

    def output(self, arguments: ReportStyle, input: NamingInput) -> ReportStyle:
        if arguments.style == "snake_case" and any(c.isupper() for c in input.identifier):
            raise TaskOutputError(self.name, f"{input.identifier!r} has capitals, so it is not snake_case")
        return arguments

    def split_keys(self, input: NamingInput, calls: Sequence[ToolCall] = ()) -> list[str]:
        """The identifier's words: ``parse_url``, ``parseUrl`` and ``ParseURL`` stay on one side of the split."""
        return ["name:" + (" ".join(sorted(words(input.identifier))) or input.identifier)]

    def heuristic_answer(self, input: NamingInput) -> tuple[ToolCall, str]:
        """The rule-based style (:func:`guess_style`), for the offline heuristic backend."""
        style = guess_style(input.identifier)
        return ToolCall(REPORT_STYLE.name, {"style": style, "confidence": 0.9}), "By the identifier's letter case."

    def metrics(
        self, expected: Sequence[Sequence[ToolCall]], predicted: Sequence[Sequence[ToolCall] | None]
    ) -> dict[str, Any]:
        """Style accuracy over the examples, and the predicted styles per expected style."""
        confusion: dict[str, Counter[str]] = {}
        right = 0
        for want, got in zip(expected, predicted, strict=True):
            wanted = str(want[0].arguments.get("style")) if want else "none"
            given = str(got[0].arguments.get("style")) if got else "invalid"
            confusion.setdefault(wanted, Counter())[given] += 1
            right += wanted == given
        return {
            "examples": len(expected),
            "style_accuracy": right / len(expected) if expected else 0.0,
            "confusion": {style: dict(sorted(row.items())) for style, row in sorted(confusion.items())},
        }


def guess_style(identifier: str) -> Style:
    """A rule-based answer, used as the offline stand-in for a model."""
    if re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", identifier):
        return "UPPER_CASE"
    if re.fullmatch(r"_*[a-z][a-z0-9]*(_[a-z0-9]+)*", identifier):
        return "snake_case"
    if re.fullmatch(r"[a-z][a-z0-9]*([A-Z][a-z0-9]*)+", identifier):
        return "camelCase"
    if re.fullmatch(r"([A-Z][a-z0-9]+)+", identifier):
        return "PascalCase"
    return "other"
