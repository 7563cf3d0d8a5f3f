"""The sample_data generator's domain: nodes with realistic samples, written as JSON or YAML."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasks.subagents.definition import NodeContext
from tasks.subagents.generation import PLACES, Case, Domain, load_index
from tasks.subagents.sample_data import SUBAGENT
from tasks.subagents.sample_data.tools import load_fixtures
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.source import node_source

__all__ = ["SampleDataExamples"]


class SampleDataExamples(Domain):
    """Sample-data fixtures at several folders, each in both formats."""

    subagent = SUBAGENT
    folder = Path(__file__).parent
    default_count = 100
    read_only = frozenset({"analyze_signature"})

    def cases(self) -> list[Case]:
        found = []
        for entry in load_index(self.folder):
            text, name = self.fixture(entry["file"]), entry["node"]
            samples = entry["samples"]
            (right, wrong), = entry["misspelt"].items()
            misspelt = [{(wrong if k == right else k): v for k, v in s.items()} for s in samples]
            kind = "class" if name[:1].isupper() else "function"
            for place in PLACES:
                path = place + entry["file"]
                context = NodeContext(node_text=node_source(text, name), node_name=name, node_type=kind,
                                      file_path=path)
                for format in ("json", "yaml"):
                    variables = {"name": name, "fixtures": samples, "misspelt_fixtures": misspelt, "format": format}
                    found.append(Case(f"{path}:{name}:{format}", {path: text}, context, frozenset({"any"}),
                                      variables, bool(entry.get("eval", False))))
        return found

    def observe(self, state: dict[str, Any], tool: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if tool == "write_fixture_file" and "written" in result:
            state["count"] = result["count"]
            state["changed"].append(result["written"])

    def verify(self, state: Mapping[str, Any], submit: Mapping[str, Any], sandbox: Sandbox) -> bool:
        """The fixture file loads back with as many fixtures as submitted."""
        path = submit["changed_files"][0]
        loaded = load_fixtures(sandbox.read(path), state["format"])
        return len(loaded) == submit["fixtures_generated"] and super().verify(state, submit, sandbox)
