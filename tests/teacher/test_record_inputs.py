"""``python -m teacher.record --task X --inputs FILE``: any single-question task recorded on a JSONL file of its
typed inputs, one resumable session per input, through the same RecordedSession as every other recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teacher.record import main
from tests.conftest import log_dicts

INPUT = {"topic": "How is data written to the cache?", "symbol": "put"}


def _inputs(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "inputs.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_a_registered_task_is_recorded_one_session_per_input_and_resumed(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path, json.dumps(INPUT), json.dumps({**INPUT, "topic": "How are orders paid?"}))
    out = tmp_path / "rec"
    assert main(["--task", "invert_topic", "--inputs", inputs, "--teacher", "heuristic", "--out", str(out)]) == 0
    logs = sorted((out / "sessions").glob("*.jsonl"))
    assert len(logs) == 2
    for log in logs:
        records, _ = log_dicts(log)
        assert [r["kind"] for r in records] == ["session_start", "model", "session_end"]
        assert records[0]["source"]["task"] == "invert_topic" and records[1]["task"] == "invert_topic"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sessions_finished"] == 2 and summary["turns"] == 2
    assert main(["--task", "invert_topic", "--inputs", inputs, "--teacher", "heuristic", "--out", str(out)]) == 2
    assert main(["--task", "invert_topic", "--inputs", inputs, "--teacher", "heuristic", "--out", str(out),
                 "--resume"]) == 0
    assert sorted((out / "sessions").glob("*.jsonl")) == logs


@pytest.mark.parametrize(("args", "said"), [
    (["--inputs", "{inputs}"], "--inputs needs --task"),
    (["--task", "subagent_lint", "--inputs", "{inputs}"], "is a conversation of several turns"),
    (["--task", "invert_topic", "--inputs", "{inputs}", "--repo", "."], "--inputs records without a repository"),
    (["--task", "nowhere_module:Task", "--inputs", "{inputs}"], "cannot import module 'nowhere_module'"),
])
def test_a_bad_combination_is_a_usage_error(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _inputs(tmp_path, json.dumps(INPUT))
    with pytest.raises(SystemExit) as raised:
        main([*(a.format(inputs=inputs) for a in args), "--teacher", "heuristic", "--out", str(tmp_path / "o")])
    assert raised.value.code == 2
    assert said in capsys.readouterr().err


def test_a_bad_line_names_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = _inputs(tmp_path, json.dumps(INPUT), json.dumps({"symbol": "put"}), "not json")
    assert main(["--task", "invert_topic", "--inputs", inputs, "--teacher", "heuristic",
                 "--out", str(tmp_path / "o")]) == 1
    assert f"{inputs}:2: topic: Field required" in capsys.readouterr().err
    inputs = _inputs(tmp_path, json.dumps(INPUT), "not json")
    assert main(["--task", "invert_topic", "--inputs", inputs, "--teacher", "heuristic",
                 "--out", str(tmp_path / "o")]) == 1
    assert f"{inputs}:2: not JSON" in capsys.readouterr().err
    assert not (tmp_path / "o" / "sessions").exists()
