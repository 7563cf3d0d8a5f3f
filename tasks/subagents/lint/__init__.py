"""The lint subagent: ruff issues found and fixed in one file."""

from pathlib import Path

from tasks.subagents.definition import load_definition
from tasks.subagents.lint.tools import IMPLEMENTATIONS
from tasks.subagents.task import SubagentTask
from tasks.subagents.toolbox import Subagent

__all__ = ["SUBAGENT", "TASK"]

SUBAGENT = Subagent(load_definition(Path(__file__).with_name("definition.yaml")), IMPLEMENTATIONS)
TASK = SubagentTask(SUBAGENT.definition)
