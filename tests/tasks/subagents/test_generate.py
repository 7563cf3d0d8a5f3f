"""The generators: valid JSONL conversations ending in submit_result, calls valid against the YAML schemas,
tool results that re-running the tools reproduces, counts and split as asked, edge cases only in eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from converters.functiongemma import BOS, render_prompt
from converters.schema import TrainingExample
from tasks.subagents.docstring.examples import DocstringExamples
from tasks.subagents.generate import Domain, generate, load_index, main
from tasks.subagents.lint.examples import LintExamples
from tasks.subagents.sample_data.examples import SampleDataExamples
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.test.examples import TestExamples
from teacher.json_schema import value_problems
from tests.conftest import log_dicts

DOMAINS: dict[str, type[Domain]] = {
    "lint": LintExamples, "test": TestExamples, "docstring": DocstringExamples, "sample_data": SampleDataExamples,
}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_count_10_writes_valid_conversations(domain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maker = DOMAINS[domain]()
    assert main(maker, ["--count", "10", "--split", "0.9", "--seed", "3", "--out", str(tmp_path)]) == 0
    train, evaluation = _rows(tmp_path / "train.jsonl"), _rows(tmp_path / "eval.jsonl")
    assert (len(train), len(evaluation)) == (9, 1)
    schemas = {t["name"]: t["parameters"]
               for t in yaml.safe_load((maker.folder / "definition.yaml").read_text())["tools"]}
    for row in train + evaluation:
        TrainingExample.model_validate(row)
        messages = row["messages"]
        assert messages[-1]["role"] == "assistant"
        assert messages[-1]["tool_calls"][0]["function"]["name"] == "submit_result"
        for message in messages:
            for call in message.get("tool_calls") or []:
                arguments = json.loads(call["function"]["arguments"])
                assert value_problems(arguments, schemas[call["function"]["name"]]) == [], call
    texts = _rows(tmp_path / "text" / "train.jsonl") + _rows(tmp_path / "text" / "eval.jsonl")
    assert [BOS + t["text"] for t in texts] == [  # no literal <bos>: the tokenizer adds it
        render_prompt(r["messages"], json.loads(r["tools"]), add_generation_prompt=False) for r in train + evaluation]
    assert "train 9, eval 1" in capsys.readouterr().out


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_tool_results_are_what_the_tools_return(domain: str) -> None:
    maker = DOMAINS[domain]()
    train, evaluation = generate(maker, 4, 0.5, seed=11)
    cases = {(c.context.file_path, c.context.node_name): c for c in maker.cases()}
    for row in train + evaluation:
        user = row["messages"][1]["content"]
        case = next(c for (path, name), c in cases.items() if f" {name} in {path}." in user)
        with Sandbox.from_files(case.files) as sandbox:
            for message, answer in zip(row["messages"][2::2], row["messages"][3::2], strict=False):
                call = message["tool_calls"][0]["function"]
                result = maker.subagent.call(call["name"], json.loads(call["arguments"]), sandbox, case.context)
                assert json.loads(answer["content"]) == result


def test_split_follows_the_fraction_and_edge_cases_stay_in_eval(tmp_path: Path) -> None:
    maker = SampleDataExamples()
    train, evaluation = generate(maker, 40, 0.75, seed=5)
    assert (len(train), len(evaluation)) == (30, 10)
    edge = [e["node"] for e in load_index(maker.folder) if e.get("eval")]
    def about(row: dict[str, Any], name: str) -> bool:
        return f" {name} in " in row["messages"][1]["content"]
    assert not any(about(r, name) for r in train for name in edge)
    assert all(any(about(r, name) for name in edge) for r in evaluation)


def test_single_call_and_multi_call_conversations(tmp_path: Path) -> None:
    train, _ = generate(LintExamples(), 40, 1.0, seed=2)
    calls = {sum(1 for m in r["messages"] if m.get("tool_calls")) - 1 for r in train}
    assert 1 in calls and calls & {2, 3, 4, 5} and max(calls) <= 5


def test_record_runs_each_conversation_as_a_session_that_rebuild_turns_back_into_it(tmp_path: Path) -> None:
    from converters.rebuild import Options, rebuild

    maker = LintExamples()
    assert main(maker, ["--count", "6", "--split", "0.5", "--seed", "4", "--out", str(tmp_path / "out"),
                        "--record", str(tmp_path / "rec")]) == 0
    logs = sorted((tmp_path / "rec" / "sessions").glob("*.jsonl"))
    assert len(logs) == 6
    for log in logs:
        records, _ = log_dicts(log)
        assert records[0]["kind"] == "session_start" and records[0]["source"]["split"] in ("train", "eval")
        assert records[-1]["kind"] == "session_end" and records[-1]["stopped"] == "submitted"
    generated = _rows(tmp_path / "out" / "train.jsonl") + _rows(tmp_path / "out" / "eval.jsonl")
    stats = rebuild([tmp_path / "rec"], Options(out=tmp_path / "data", format="messages", split=1.0))
    rebuilt = _rows(tmp_path / "data" / "train.jsonl")
    assert stats.turns > 6 and len(rebuilt) == len({json.dumps(r, sort_keys=True) for r in generated})
    key = lambda row: json.dumps([row["messages"], json.loads(row["tools"])], sort_keys=True)  # noqa: E731
    assert {key(r) for r in rebuilt} == {key(r) for r in generated}
    # run again: every session is finished, nothing is asked or written again
    before = [log.read_bytes() for log in logs]
    assert main(maker, ["--count", "6", "--split", "0.5", "--seed", "4", "--out", str(tmp_path / "out"),
                        "--record", str(tmp_path / "rec")]) == 0
    assert [log.read_bytes() for log in logs] == before
