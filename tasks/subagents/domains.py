"""The four subagents by name."""

from __future__ import annotations

from tasks.subagents import docstring, lint, sample_data, test
from tasks.subagents.task import SubagentTask
from tasks.subagents.toolbox import Subagent

__all__ = ["SUBAGENTS", "SUBAGENT_TASKS"]

SUBAGENTS: dict[str, Subagent] = {m.SUBAGENT.name: m.SUBAGENT for m in (lint, test, docstring, sample_data)}
SUBAGENT_TASKS: dict[str, SubagentTask] = {m.TASK.name: m.TASK for m in (lint, test, docstring, sample_data)}
