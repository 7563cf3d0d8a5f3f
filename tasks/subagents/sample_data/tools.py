"""The sample_data subagent's tools: the node's signature, and writing fixtures that match it."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tasks.subagents.source import signature
from tasks.subagents.test.tools import analyze_signature, module_of
from tasks.subagents.toolbox import ToolEnv, ToolFunction

__all__ = ["IMPLEMENTATIONS", "fixture_path", "fixture_problems", "load_fixtures"]


def fixture_path(node_name: str, format: str) -> str:
    """Where a node's fixtures go in the sandbox."""
    return f"tests/fixtures/{node_name.replace('.', '_')}.{format}"


def fixture_problems(fixtures: list[Any], parameters: list[dict[str, Any]]) -> list[str]:
    """Why some fixtures do not fit the parameters (unknown or missing keyword arguments)."""
    named = {p["name"] for p in parameters if p["kind"] in ("positional", "keyword_only")}
    open_ended = any(p["kind"] == "var_keyword" for p in parameters)
    required = [p["name"] for p in parameters if p["kind"] in ("positional", "keyword_only") and not p["default"]]
    problems = []
    for index, fixture in enumerate(fixtures):
        if not isinstance(fixture, dict):
            problems.append(f"fixtures[{index}]: must be an object of keyword arguments")
            continue
        unknown = sorted(set(fixture) - named) if not open_ended else []
        missing = [name for name in required if name not in fixture]
        if unknown:
            problems.append(f"fixtures[{index}]: unknown parameter(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"fixtures[{index}]: missing parameter(s) {', '.join(missing)}")
    return problems


def load_fixtures(text: str, format: str) -> Any:
    """A fixture file's content, loaded."""
    return json.loads(text) if format == "json" else yaml.safe_load(text)


def write_fixture_file(env: ToolEnv, fixtures: list[Any], format: str) -> dict[str, Any]:
    """Write the fixtures (checked against the signature) and load the file back."""
    found = signature(env.sandbox.read(env.context.file_path), env.context.node_name,
                      module_of(env.context.file_path))
    problems = fixture_problems(fixtures, found["parameters"])
    if problems:
        return {"error": "; ".join(problems)}
    path = fixture_path(env.context.node_name, format)
    if format == "json":
        text = json.dumps(fixtures, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(fixtures, sort_keys=False, allow_unicode=True)
    env.sandbox.write(path, text)
    if load_fixtures(env.sandbox.read(path), format) != fixtures:
        return {"error": f"{path} does not load back as written"}
    return {"written": path, "count": len(fixtures), "format": format}


IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "analyze_signature": analyze_signature,
    "write_fixture_file": write_fixture_file,
}
