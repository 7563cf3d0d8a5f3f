"""The lint generator's domain: its fixtures (ruff run on each to know its facts) and template variables."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.subagents.definition import NodeContext
from tasks.subagents.generation import PLACES, Case, Domain, load_index
from tasks.subagents.lint import SUBAGENT
from tasks.subagents.lint.tools import ruff_issues
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.toolbox import ToolEnv

__all__ = ["LintExamples"]


class LintExamples(Domain):
    """Lint fixtures: files with known ruff findings, each placed under several folders."""

    subagent = SUBAGENT
    folder = Path(__file__).parent
    default_count = 200

    def cases(self) -> list[Case]:
        found = []
        for entry in load_index(self.folder):
            text = self.fixture(entry["file"])
            module = Path(entry["file"]).stem
            facts = self._facts(entry["file"], text)
            for place in PLACES:
                path = place + entry["file"]
                context = NodeContext(node_text=text, node_name=module, node_type="module", file_path=path)
                found.append(Case(f"{path}", {path: text}, context, facts, {"file_path": path, "fixed": 0},
                                  bool(entry.get("eval", False))))
        return found

    def _facts(self, name: str, text: str) -> frozenset[str]:
        with Sandbox.from_files({name: text}) as sandbox:
            context = NodeContext(node_text=text, node_name=name, node_type="module", file_path=name)
            issues = ruff_issues(ToolEnv(sandbox, context, 30))
        facts = {"issues"} if issues else {"clean"}
        facts |= {"fixable"} if any(d.get("fix") for d in issues) else set()
        facts |= {"unfixable"} if any(not d.get("fix") for d in issues) else set()
        return frozenset(facts)

    def observe(self, state: dict[str, Any], tool: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if tool == "run_linter":
            issues = result["issues"]
            state["remaining"] = len(issues)
            state["fixable"] = sorted((i for i in issues if i["fixable"]), key=lambda i: (-i["line"], i["code"]))
            if result.get("fixed"):
                state["fixed"] += result["fixed"]
                state["changed"].append(state["file_path"])
        elif tool == "apply_fix":
            state["fixed"] += 1
            state["remaining"] = result["issues_left"]
            state["changed"].append(state["file_path"])

    def verify(self, state: Mapping[str, Any], submit: Mapping[str, Any], sandbox: Sandbox) -> bool:
        """The submitted counts and files are what ruff and the sandbox say now."""
        path = state["file_path"]
        context = NodeContext(node_text="", node_name="module", node_type="module", file_path=path)
        left = len(ruff_issues(ToolEnv(sandbox, context, 30)))
        return submit["issues_remaining"] == left and super().verify(state, submit, sandbox)
