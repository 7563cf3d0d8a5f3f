"""The select_symbols task's types: a symbol with its candidates, the selection it answers with, and its tool.

They live apart from :mod:`tasks.select_symbols.task` so that the heuristic, the dataset filters and the negatives
can use them while the task calls those: each imports this module, and none imports the task back.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from teacher.tools import Tool

__all__ = ["GROUPS", "HUB_THRESHOLD", "SELECT_SYMBOLS", "Candidates", "SelectSymbols", "SelectSymbolsInput"]

HUB_THRESHOLD = 20
GROUPS = ("fields", "methods", "bases", "inputs", "output", "calls", "references")


class Candidates(BaseModel):
    """The candidates around a symbol, by group; names are unique within a group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    output: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reference_count: int | None = Field(None, ge=0, description="All references found, when more than listed")

    @field_validator(*GROUPS)
    @classmethod
    def _unique(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for name in names:
            if not name.strip():
                raise ValueError("a candidate name may not be empty")
            if name in seen:
                raise ValueError(f"duplicate candidate {name!r}")
            seen.add(name)
        return names

    @model_validator(mode="after")
    def _count(self) -> Candidates:
        if self.reference_count is not None and self.reference_count < len(self.references):
            raise ValueError("reference_count is less than the number of references listed")
        return self

    @property
    def total_references(self) -> int:
        """How many references the symbol has, listed or not."""
        return max(self.reference_count or 0, len(self.references))

    @property
    def is_hub(self) -> bool:
        """More references than can be listed: shown as a count only."""
        return self.total_references > HUB_THRESHOLD

    def offered(self) -> Iterator[tuple[str, str]]:
        """(group, name) of every candidate that may be selected, in display order."""
        for group in GROUPS:
            if group == "references" and self.is_hub:
                continue
            for name in getattr(self, group):
                yield group, name

    def names(self) -> list[str]:
        """The selectable names, each once, in display order."""
        return list(dict.fromkeys(name for _, name in self.offered()))


class SelectSymbolsInput(BaseModel):
    """One symbol in context and the topic to select for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    module: str = ""
    package: str = ""
    signature: str = ""
    candidates: Candidates = Candidates()


class SelectSymbols(BaseModel):
    """The tool's arguments and the task's output (``repaired`` says when the fallback policy made it)."""

    model_config = ConfigDict(extra="forbid")

    selected: list[str] = Field(
        default_factory=list,
        description="The candidates that matter for the topic, by exact name; empty when none do.",
    )
    repaired: SkipJsonSchema[str | None] = Field(None, exclude=True)

    @field_validator("selected")
    @classmethod
    def _no_repeats(cls, selected: list[str]) -> list[str]:
        if len(set(selected)) != len(selected):
            raise ValueError("a candidate is selected twice")
        return selected


SELECT_SYMBOLS = Tool(
    "select_symbols",
    "Select the candidate symbols that matter for the topic; select nothing when none do.",
    SelectSymbols,
)
