"""The lint subagent's tools: ruff run for real on the sandbox copy (JSON output), one fix at a time."""

from __future__ import annotations

import json
from typing import Any

from tasks.subagents.toolbox import ToolEnv, ToolFunction, run_python

__all__ = ["IMPLEMENTATIONS", "RUFF_ARGS", "apply_edits", "ruff_issues"]

#: pycodestyle (with its preview rules, E225 among them) and pyflakes, ruff's defaults otherwise.
RUFF_ARGS = ("check", "--isolated", "--no-cache", "--preview", "--select", "E,W,F", "--output-format", "json")


def ruff_issues(env: ToolEnv, *extra: str) -> list[dict[str, Any]]:
    """Ruff's diagnostics for the target file, as it reports them (raises on a ruff failure)."""
    done = run_python(env, "-m", "ruff", *RUFF_ARGS, *extra, env.sandbox.argument(env.context.file_path))
    if done.returncode not in (0, 1):
        raise ValueError(f"ruff failed: {(done.stderr or done.stdout).strip()[:300]}")
    diagnostics: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return diagnostics


def _issue(diagnostic: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": diagnostic["code"] or "E999",
        "line": diagnostic["location"]["row"],
        "message": diagnostic["message"],
        "fixable": diagnostic.get("fix") is not None,
    }


def run_linter(env: ToolEnv, check_only: bool) -> dict[str, Any]:
    """Ruff's issues; with ``check_only`` false its safe fixes are applied first and counted."""
    fixed = 0
    if not check_only:
        before = len(ruff_issues(env))
        ruff_issues(env, "--fix")
        fixed = before - len(ruff_issues(env))
    issues = [_issue(d) for d in ruff_issues(env)]
    result: dict[str, Any] = {"issues": issues, "fixable_count": sum(i["fixable"] for i in issues)}
    if not check_only:
        result["fixed"] = fixed
    return result


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """Apply ruff's edits (1-based rows and columns, end exclusive) to a text."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(location: dict[str, int]) -> int:
        row = location["row"] - 1
        return (starts[row] if row < len(starts) else starts[-1]) + location["column"] - 1

    for edit in sorted(edits, key=lambda e: offset(e["location"]), reverse=True):
        text = text[: offset(edit["location"])] + (edit.get("content") or "") + text[offset(edit["end_location"]) :]
    return text


def apply_fix(env: ToolEnv, issue_code: str, line_number: int) -> dict[str, Any]:
    """Apply ruff's own fix for the issue with this code on this line."""
    diagnostics = ruff_issues(env)
    match = [d for d in diagnostics if d["code"] == issue_code and d["location"]["row"] == line_number]
    if not match:
        found = sorted({f"{d['code']}@{d['location']['row']}" for d in diagnostics})
        return {"error": f"no {issue_code} issue on line {line_number}; reported: {', '.join(found) or 'none'}"}
    fix = match[0].get("fix")
    if fix is None:
        return {"error": f"ruff has no automatic fix for {issue_code} on line {line_number}: {match[0]['message']}"}
    text = env.sandbox.read(env.context.file_path)
    env.sandbox.write(env.context.file_path, apply_edits(text, fix["edits"]))
    remaining = len(ruff_issues(env))
    return {"success": True, "fix": fix["message"] or match[0]["message"], "issues_left": remaining}


def read_current_file(env: ToolEnv) -> dict[str, Any]:
    """The file's text now."""
    return {"path": env.context.file_path, "content": env.sandbox.read(env.context.file_path)}


IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "run_linter": run_linter,
    "apply_fix": apply_fix,
    "read_current_file": read_current_file,
}
