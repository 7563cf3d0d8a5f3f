"""Subagent definitions load from YAML, and a bad one is refused with a message naming the file and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.subagents.definition import SUBMIT, DefinitionError, load_definition
from tasks.subagents.domains import SUBAGENTS

HERE = Path(__file__).resolve().parents[3] / "tasks" / "subagents"


@pytest.mark.parametrize("domain", ["lint", "test", "docstring", "sample_data"])
def test_each_domain_has_exactly_one_terminal_submit_result(domain: str) -> None:
    definition = SUBAGENTS[domain].definition
    assert definition.name == domain
    assert [t.name for t in definition.tools if t.terminal] == [SUBMIT]
    assert all(t.tool.parameters()["additionalProperties"] is False for t in definition.tools)


Change = Callable[[dict[str, Any]], None]


def _broken(tmp_path: Path, change: Change) -> Path:
    raw = yaml.safe_load((HERE / "lint" / "definition.yaml").read_text())
    change(raw)
    path = tmp_path / "definition.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _drop_submit(raw: dict[str, Any]) -> None:
    raw["tools"] = [t for t in raw["tools"] if t["name"] != SUBMIT]


def _second_submit(raw: dict[str, Any]) -> None:
    raw["tools"].append(dict(raw["tools"][-1]))


def _unknown_key(raw: dict[str, Any]) -> None:
    raw["tools"][1]["retries"] = 3


def _bad_type(raw: dict[str, Any]) -> None:
    raw["tools"][1]["parameters"]["properties"]["line_number"]["type"] = "int"


def _open_schema(raw: dict[str, Any]) -> None:
    del raw["tools"][0]["parameters"]["additionalProperties"]


def _unknown_top(raw: dict[str, Any]) -> None:
    raw["temperature"] = 0.2


def _template(raw: dict[str, Any]) -> None:
    raw["context_template"] = "Fix {node_name} in {path}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop_submit, "tools: no submit_result tool"),
        (_second_submit, "tools[4] (submit_result): a second submit_result"),
        (_unknown_key, "tools[1] (apply_fix).retries: unknown key"),
        (_bad_type, "tools[1] (apply_fix).parameters.properties.line_number.type: must be one of"),
        (_open_schema, "tools[0] (run_linter).parameters.additionalProperties: must be false"),
        (_unknown_top, "temperature: unknown key"),
        (_template, "context_template: unknown field {path}"),
    ],
)
def test_a_bad_definition_is_refused_naming_file_and_key(tmp_path: Path, change: Change, message: str) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(DefinitionError) as error:
        load_definition(path)
    assert str(error.value).startswith(f"{path}: {message}")
