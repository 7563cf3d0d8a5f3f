"""The one-file example task, end to end through the generic commands and no code elsewhere: ``teacher.record
--task examples.naming_style:NamingStyleTask --inputs FILE`` records it with the heuristic backend (its own
``heuristic_answer``), ``converters.rebuild --task ...`` turns the recordings into data split by its own key, and
``finetune eval --task ...`` scores a student on it through its ``metrics``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import ToolCall
from converters.rebuild import main as rebuild_main
from examples.naming_style import NamingInput, NamingStyleTask, guess_style
from finetune.__main__ import main as finetune_main
from finetune.evaluate import _task_metrics
from tasks.registry import TASKS
from teacher.record import main as record_main
from tests.fake_ollama import FakeOllama

TASK = NamingStyleTask()
SPEC = "examples.naming_style:NamingStyleTask"
INPUTS = Path(__file__).parent / "fixtures" / "naming_inputs.jsonl"
#: The fixture's identifiers by word set: each word set is one group, whatever the letter case.
NAMES = {
    "parse url": ["parse_url", "parseUrl", "ParseUrl", "PARSE_URL", "_parse_url"],
    "order total": ["order_total", "orderTotal", "OrderTotal", "ORDER_TOTAL"],
    "send mail": ["send_mail", "sendMail", "SendMail", "SEND_MAIL"],
    "load config": ["load_config", "loadConfig", "LoadConfig"],
    "user name": ["user_name", "userName", "UserName", "USER_NAME"],
    "retry count": ["retry_count", "retryCount", "RetryCount"],
}


@pytest.fixture
def unregistered() -> Iterator[None]:
    """The task is not registered before the test (the commands load it by module:Class) nor after it."""
    assert TASK.name not in TASKS
    try:
        yield
    finally:
        TASKS.pop(TASK.name, None)


def record_and_rebuild(tmp_path: Path) -> Path:
    """The fixture's inputs recorded by the heuristic and rebuilt with inputs, through the two commands' mains."""
    assert record_main(["--task", SPEC, "--inputs", str(INPUTS), "--teacher", "heuristic",
                        "--out", str(tmp_path / "rec")]) == 0
    out = tmp_path / "data"
    assert rebuild_main([str(tmp_path / "rec"), "--task", SPEC, "--out", str(out), "--format", "messages",
                         "--split", "0.5", "--seed", "3", "--with-inputs", "--workers", "1"]) == 0
    return out


def test_split_keys_join_the_spellings_of_one_name() -> None:
    keys = {TASK.split_keys(NamingInput(identifier=name))[0] for name in NAMES["parse url"]}
    assert len(keys) == 1
    assert TASK.split_keys(NamingInput(identifier="parse_url")) != TASK.split_keys(NamingInput(identifier="send_mail"))


def test_recorded_and_rebuilt_by_the_generic_commands_the_split_groups_by_its_key(
    tmp_path: Path, unregistered: None
) -> None:
    out = record_and_rebuild(tmp_path)
    sessions = sorted((tmp_path / "rec" / "sessions").glob("*.jsonl"))
    assert len(sessions) == sum(len(s) for s in NAMES.values())  # one session per input
    summary = json.loads((out / "stats.json").read_text())
    assert summary["groups"] == len(NAMES)  # one group per word set, not per spelling
    side: dict[str, str] = {}
    for split in ("train", "eval"):
        for line in (out / f"{split}.jsonl").read_text().splitlines():
            identifier = json.loads(json.loads(line)["input"])["identifier"]
            words = next(w for w, spellings in NAMES.items() if identifier in spellings)
            assert side.setdefault(words, split) == split, f"{words!r} straddles the split"
    assert set(side.values()) == {"train", "eval"}  # the seed puts groups on both sides: the test can fail
    assert summary["examples"]["naming_style"]["train"] + summary["examples"]["naming_style"]["eval"] == sum(
        len(s) for s in NAMES.values()
    )


def _student(body: dict[str, Any]) -> dict[str, Any]:
    """A stand-in student: the rule-based style, but it calls every PascalCase name camelCase."""
    identifier = re.search(r"Identifier: (\S+)", body["messages"][-1]["content"])
    assert identifier is not None
    style = guess_style(identifier.group(1))
    style = "camelCase" if style == "PascalCase" else style
    return {"tool_calls": [{"function": {"name": "report_style", "arguments": {"style": style, "confidence": 0.8}}}]}


def test_evaluated_by_finetune_eval_through_its_metrics(
    tmp_path: Path, unregistered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = record_and_rebuild(tmp_path)
    TASKS.pop(TASK.name)  # finetune eval loads it again from --task
    with FakeOllama(_student, models={"student"}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        assert finetune_main(["eval", "--data", str(data), "--model", "ollama:student", "--task", SPEC,
                              "--out", str(tmp_path / "eval"), "--train", str(data / "train.jsonl")]) == 0
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    text = json.dumps(report)
    assert "style_accuracy" in text and "confusion" in text  # the task's own figures, through its metrics
    pascal = sum(1 for line in (data / "eval.jsonl").read_text().splitlines()
                 if guess_style(json.loads(json.loads(line)["input"])["identifier"]) == "PascalCase")
    examples = len((data / "eval.jsonl").read_text().splitlines())
    assert pascal > 0 and f'"style_accuracy": {round((examples - pascal) / examples, 4)}' in text


def test_a_bad_inputs_line_names_file_line_and_field(
    tmp_path: Path, unregistered: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"identifier": "ok_name"}\n\n{"identifier": "", "language": "go"}\n', encoding="utf-8")
    assert record_main(["--task", SPEC, "--inputs", str(bad), "--teacher", "heuristic",
                        "--out", str(tmp_path / "rec")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: identifier:" in err and "at least 1 character" in err
    bad.write_text('{"identifier": "x", "colour": 1}\n["x"]\n', encoding="utf-8")
    record_main(["--task", SPEC, "--inputs", str(bad), "--teacher", "heuristic", "--out", str(tmp_path / "rec")])
    err = capsys.readouterr().err
    assert f"{bad}:2: an input of naming_style is a JSON object, not list" in err or f"{bad}:1:" in err
    assert not (tmp_path / "rec" / "sessions").exists()  # nothing is recorded before every line is read


def test_its_metrics_score_its_examples_through_the_hook() -> None:
    def call(style: str) -> list[ToolCall]:
        return [ToolCall("report_style", {"style": style, "confidence": 0.9})]

    expected = [call("snake_case"), call("camelCase"), call("PascalCase"), call("UPPER_CASE")]
    predicted = [call("snake_case"), call("snake_case"), None, call("UPPER_CASE")]
    metrics = TASK.metrics(expected, predicted)
    assert metrics["examples"] == 4
    assert metrics["style_accuracy"] == 0.5
    assert metrics["confusion"]["camelCase"] == {"snake_case": 1}
    assert metrics["confusion"]["PascalCase"] == {"invalid": 1}
    # the hook the library calls is the task's own (a capability), and a task without it has none
    assert _task_metrics(TASK, expected, predicted) == metrics
    assert _task_metrics(TASKS["score_edge"], expected, predicted) == {}
