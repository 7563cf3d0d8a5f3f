"""The docstring subagent's tools: read the node's docstring and type hints, write a docstring in a style."""

from __future__ import annotations

import ast
from typing import Any

from tasks.subagents.docstring.styles import STYLES, detect_style, style_problems
from tasks.subagents.source import find_node, set_docstring, signature
from tasks.subagents.toolbox import ToolEnv, ToolFunction

__all__ = ["IMPLEMENTATIONS"]


def _signature(env: ToolEnv) -> dict[str, Any]:
    return signature(env.sandbox.read(env.context.file_path), env.context.node_name, "")


def read_current_docstring(env: ToolEnv) -> dict[str, Any]:
    """The node's docstring now, and the style it is written in."""
    node = find_node(env.sandbox.read(env.context.file_path), env.context.node_name)
    docstring = ast.get_docstring(node) or ""
    return {"has_docstring": bool(docstring), "docstring": docstring,
            "style": detect_style(docstring) if docstring else "none"}


def read_type_hints(env: ToolEnv) -> dict[str, Any]:
    """The node's parameters with their annotations and defaults, its return annotation, what it raises."""
    found = _signature(env)
    return {key: found[key] for key in ("kind", "parameters", "returns", "raises", "decorators")}


def write_docstring(env: ToolEnv, docstring: str, style: str) -> dict[str, Any]:
    """Check the docstring against the style and the signature, then put it in the file."""
    if style not in STYLES:
        return {"error": f"unknown style {style!r}; use one of {', '.join(STYLES)}"}
    path = env.context.file_path
    source = env.sandbox.read(path)
    problems = style_problems(docstring, style, _signature(env))
    if problems:
        return {"error": f"not a complete {style} docstring: " + "; ".join(problems)}
    node = find_node(source, env.context.node_name)
    had = ast.get_docstring(node) is not None
    updated = set_docstring(source, env.context.node_name, docstring)
    written = ast.get_docstring(find_node(updated, env.context.node_name)) or ""
    if written.strip() != ast.get_docstring(ast.parse(f'"""{docstring.strip()}"""')):
        return {"error": "the docstring would not read back unchanged (does it contain triple quotes?)"}
    env.sandbox.write(path, updated)
    return {"written": True, "style": style, "action": "updated" if had else "added",
            "lines": len(docstring.strip().splitlines())}


IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "read_current_docstring": read_current_docstring,
    "read_type_hints": read_type_hints,
    "write_docstring": write_docstring,
}
