"""A subagent's tools bound to their implementations, run on a sandbox with a timeout, never raising.

An implementation is a plain function ``fn(env, **arguments) -> dict``; ``env`` gives it the sandbox, the
node and its timeout. Whatever goes wrong (a path that leaves the sandbox, a timeout, an exception) comes
back as ``{"error": ...}`` for the model to read.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tasks.subagents.definition import NodeContext, SubagentDefinition
from tasks.subagents.isolation import IsolationError, ToolTimeout, run_isolated
from tasks.subagents.sandbox import Sandbox, SandboxEscape

__all__ = ["IsolationError", "Subagent", "ToolEnv", "ToolFunction", "ToolTimeout", "run_python"]


@dataclass(frozen=True)
class ToolEnv:
    """What a tool implementation works with: the sandbox, the node and the tool's timeout."""

    sandbox: Sandbox
    context: NodeContext
    timeout_s: float


ToolFunction = Callable[..., dict[str, Any]]


def run_python(env: ToolEnv, *args: str, environ: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (this interpreter) in the sandbox, isolated (:mod:`tasks.subagents.isolation`), under the
    tool's timeout; raises :class:`ToolTimeout`, and :class:`~tasks.subagents.sandbox.SandboxUnusable` when the run
    left the sandbox past what is read back (too deep, too big, a name that is not UTF-8)."""
    done = run_isolated([sys.executable, *args], env.sandbox.root, env.timeout_s, environ=environ)
    env.sandbox.check()
    return done


@dataclass(frozen=True)
class Subagent:
    """A definition with an implementation for each of its tools except the terminal ``submit_result``."""

    definition: SubagentDefinition
    implementations: Mapping[str, ToolFunction]

    def __post_init__(self) -> None:
        wanted = {t.name for t in self.definition.tools if not t.terminal}
        missing, extra = sorted(wanted - set(self.implementations)), sorted(set(self.implementations) - wanted)
        if missing or extra:
            raise ValueError(
                f"{self.definition.path}: tools without implementation: {missing or 'none'}; "
                f"implementations without tool: {extra or 'none'}"
            )

    @property
    def name(self) -> str:
        """The subagent's name (its domain)."""
        return self.definition.name

    def call(self, name: str, arguments: Mapping[str, Any], sandbox: Sandbox, context: NodeContext) -> dict[str, Any]:
        """Run one (already validated) tool call; problems come back as ``{"error": ...}``."""
        implementation = self.implementations.get(name)
        if implementation is None:
            return {"error": f"unknown tool {name!r}"}
        env = ToolEnv(sandbox, context, self.definition.tool(name).timeout_s)
        try:
            return implementation(env, **arguments)
        except SandboxEscape as error:
            return {"error": f"refused: {error}"}
        except ToolTimeout as error:
            return {"error": str(error)}
        except (OSError, ValueError, SyntaxError, UnicodeError) as error:
            return {"error": f"{type(error).__name__}: {error}"}
        except (RecursionError, MemoryError) as error:  # parsing a model-written file nested too deeply
            return {"error": f"{type(error).__name__}: {str(error) or 'nested too deeply'}"}

    async def acall(
        self, name: str, arguments: Mapping[str, Any], sandbox: Sandbox, context: NodeContext
    ) -> dict[str, Any]:
        """:meth:`call` in a worker thread, given up (as an error) once the tool's timeout has passed."""
        limit = self.definition.tool(name).timeout_s if name in self.implementations else 1.0
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.call, name, arguments, sandbox, context), limit + 2)
        except TimeoutError:
            return {"error": f"{name} timed out after {limit:g} s"}
