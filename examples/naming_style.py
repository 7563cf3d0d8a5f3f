"""A task of your own, in one file: classify an identifier's naming style.

Copy this file to add a task: an input model, an argument model for the tool (its field descriptions and
types are the schema every backend sees), and a ``SingleCallTask`` that renders the input and converts the
validated arguments. Nothing else in the library needs to change.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

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
