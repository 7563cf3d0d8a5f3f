"""The docstring generator's domain: nodes with what their docstring must say, written in the node's style."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.subagents.definition import NodeContext
from tasks.subagents.docstring import SUBAGENT
from tasks.subagents.docstring.styles import DocParts, detect_style, render_docstring, style_problems
from tasks.subagents.generation import PLACES, Case, Domain, load_index
from tasks.subagents.source import find_node, node_source, signature

__all__ = ["DocstringExamples"]


class DocstringExamples(Domain):
    """Docstring fixtures: undocumented, incomplete and complete docstrings in each style, at several folders."""

    subagent = SUBAGENT
    folder = Path(__file__).parent
    default_count = 150
    read_only = frozenset({"read_current_docstring", "read_type_hints"})

    def cases(self) -> list[Case]:
        found = []
        for entry in load_index(self.folder):
            text, name = self.fixture(entry["file"]), entry["node"]
            node = find_node(text, name)
            current = ast.get_docstring(node) or ""
            style = detect_style(current) if detect_style(current) != "plain" else "google"
            found_signature = signature(text, name, "")
            doc = entry["doc"]
            types = {p["name"]: p["annotation"] for p in found_signature["parameters"]}
            params = [(p, types.get(p, ""), d) for p, d in (doc.get("params") or {}).items()]
            returns = (found_signature["returns"], doc["returns"]) if doc.get("returns") else None
            raises = list((doc.get("raises") or {}).items())
            docstring = render_docstring(DocParts(doc["summary"], params, returns, raises), style)
            incomplete = render_docstring(DocParts(doc["summary"], params[:-1], returns, raises), style)
            facts = {"params"} if params else set()
            facts.add("complete" if current and not style_problems(current, style, found_signature) else "open")
            kind = "method" if "." in name else ("class" if isinstance(node, ast.ClassDef) else "function")
            for place in PLACES:
                path = place + entry["file"]
                context = NodeContext(node_text=node_source(text, name), node_name=name, node_type=kind,
                                      file_path=path)
                variables = {"name": name, "style": style, "docstring": docstring,
                             "incomplete_docstring": incomplete, "file_path": path}
                found.append(Case(f"{path}:{name}", {path: text}, context, frozenset(facts), variables,
                                  bool(entry.get("eval", False))))
        return found

    def observe(self, state: dict[str, Any], tool: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if tool == "write_docstring" and result.get("written"):
            state["action"] = result["action"]
            state["changed"].append(state["file_path"])
