"""The CLI-intent tools, defined once as pydantic models: ``run_command`` and ``clarify``, and the context.

The argument models are schema-free; :func:`cli_tools` restricts them to one CLI schema (command,
subcommand, flag and suggestion enums), so every backend and the student see the same choices.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tasks.cli_intent.schema import CliSchema
from teacher.tools import Tool

__all__ = [
    "CLARIFY",
    "CLI_INTENT_TOOL_NAMES",
    "FREE_TEXT_FIELDS",
    "RUN_COMMAND",
    "Clarify",
    "CliContext",
    "RunCommand",
    "cli_tools",
    "is_cli_intent_call",
]


class CliContext(BaseModel):
    """What is known about where the user is (each part optional): git branch, repository, PR, changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    current_branch: str | None = Field(default=None, description="The checked-out git branch.")
    repo_owner: str | None = Field(default=None, description="Owner of the current repository.")
    repo_name: str | None = Field(default=None, description="Name of the current repository.")
    current_pr: int | None = Field(default=None, ge=1, description="The pull request of the current branch.")
    has_uncommitted_changes: bool | None = Field(default=None, description="Whether the work tree has changes.")

    @property
    def repository(self) -> str | None:
        """``owner/name`` when both are known."""
        return f"{self.repo_owner}/{self.repo_name}" if self.repo_owner and self.repo_name else None

    def is_empty(self) -> bool:
        """No part of the context is known."""
        return not self.model_dump(exclude_none=True)


class RunCommand(BaseModel):
    """The arguments of ``run_command``: one fully specified command line."""

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, description="The top-level command.")
    subcommand: str = Field(min_length=1, description="The subcommand of that command.")
    args: dict[str, str | int] = Field(
        default_factory=dict, description="Argument values by name (only those the request gives or implies)."
    )
    flags: list[str] = Field(default_factory=list, description="Boolean flags to set, by long name.")
    confidence: float = Field(ge=0, le=1, description="How sure the interpretation is, 0 to 1.")


class Clarify(BaseModel):
    """The arguments of ``clarify``: a question back to the user, with the commands that may be meant."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, description="The question or explanation shown to the user.")
    suggestions: list[str] = Field(
        default_factory=list, description="Commands that may be meant, each as 'command subcommand'."
    )
    confidence: float = Field(ge=0, le=1, description="How sure the best interpretation is, 0 to 1.")


RUN_COMMAND = Tool("run_command", "Run one command of the CLI for the user's request.", RunCommand)
CLARIFY = Tool(
    "clarify", "Ask the user to clarify an ambiguous, incomplete or off-topic request.", Clarify
)
CLI_INTENT_TOOL_NAMES = frozenset({RUN_COMMAND.name, CLARIFY.name})
#: the arguments that are not decisions: how sure the model is (a float a runtime thresholds, never matched
#: exactly), the clarifying question's wording and the commands it suggests. The decisions are the tool
#: (run_command against clarify), the command, the subcommand, its arguments and its flags.
FREE_TEXT_FIELDS = frozenset({"confidence", "message", "suggestions"})


def cli_tools(schema: CliSchema) -> tuple[Tool[RunCommand], Tool[Clarify]]:
    """``run_command`` and ``clarify`` restricted to the commands, subcommands and flags of ``schema``."""
    run = Tool(
        RUN_COMMAND.name,
        f"Run one {schema.cli_name} command for the user's request.",
        RunCommand,
        choices={
            "command": [c.name for c in schema.commands],
            "subcommand": schema.subcommand_names(),
            "flags": schema.flag_names(),
        },
    )
    clarify = Tool(
        CLARIFY.name,
        f"Ask the user to clarify a request that is ambiguous, incomplete or not about {schema.cli_name}.",
        Clarify,
        choices={"suggestions": schema.pair_names()},
    )
    return run, clarify


def is_cli_intent_call(name: str | Any) -> bool:
    """Whether a tool call (by its name) belongs to the CLI-intent task."""
    return getattr(name, "name", name) in CLI_INTENT_TOOL_NAMES
