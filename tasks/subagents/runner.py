"""The multi-turn runner: ask the model turn by turn through ``perform(Ask(...))``, run its tools, stop at submit.

Whichever backend is installed answers (teacher, student, scripted, replay), and recorders see every turn.
At most ``max_turns`` turns; the last offers only ``submit_result``. A rejected call (unknown tool, invalid
arguments) is answered with ``{"error": ..., "rejected": true}`` and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.subagents.definition import NodeContext
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.task import RejectedCall, SubagentTask, SubagentTurn, assistant_call, tool_result
from tasks.subagents.toolbox import Subagent
from teacher.handlers import perform
from teacher.model import current_node
from teacher.operations import Ask
from teacher.task import TaskOutputError

__all__ = ["NO_CALL", "SubagentRun", "run_subagent"]

NO_CALL = "No tool was called. Call one of the offered tools."


@dataclass
class SubagentRun:
    """How a run ended: the submitted result (its domain fields as given), the conversation, turns and why."""

    result: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    stopped: str = ""  # "submitted" | "max_turns"
    rejected: int = 0


async def run_subagent(subagent: Subagent, context: NodeContext, sandbox: Sandbox) -> SubagentRun:
    """Run one subagent on one node whose file lies in ``sandbox``; the file really changes there."""
    task = SubagentTask(subagent.definition)
    run = SubagentRun(result=None)
    max_turns = subagent.definition.max_turns
    token = current_node.set(f"{context.file_path}:{context.node_name}")
    try:
        for turn in range(max_turns):
            run.turns = turn + 1
            call_id = f"call_{turn}"
            step = SubagentTurn(context=context, history=tuple(run.history), final=turn == max_turns - 1)
            try:
                action = await perform(Ask(task, step))
            except RejectedCall as error:
                run.rejected += 1
                assert error.call is not None
                run.history += [assistant_call(call_id, error.call.name, dict(error.call.arguments)),
                                tool_result(call_id, {"error": error.problem, "rejected": True})]
                continue
            except TaskOutputError:  # no call at all
                run.rejected += 1
                run.history += [{"role": "assistant", "content": "(no tool call)"},
                                {"role": "user", "content": NO_CALL}]
                continue
            run.history.append(assistant_call(call_id, action.name, action.arguments))
            if action.terminal:
                run.result, run.stopped = action.arguments, "submitted"
                return run
            run.history.append(tool_result(call_id, await subagent.acall(action.name, action.arguments, sandbox,
                                                                         context)))
        run.stopped = "max_turns"
        return run
    finally:
        current_node.reset(token)
