"""The synthetic score_edge generator: every line parses and validates; same seed, same bytes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from converters.functiongemma import BOS, parse_calls, render_prompt
from tasks.score_edge import generate
from tasks.score_edge.task import SCORE_EDGE
from tests.conftest import REPO, log_dicts


def lines(
    count: int, seed: int = 0, format: generate.Format = "text", profile: str = "hf", workers: int = 1
) -> list[str]:
    out = io.BytesIO()
    assert generate.write(count, seed, format, profile, out, workers) == count  # type: ignore[arg-type]
    return out.getvalue().decode().splitlines()


@pytest.mark.parametrize("profile", ["hf", "ollama"])
def test_every_generated_line_parses_back_and_validates(profile: str) -> None:
    texts = [json.loads(line)["text"] for line in lines(400, seed=3, profile=profile)]
    assert len(texts) == 400
    for text in texts:
        prompt, completion = text.split("<start_of_turn>model\n", 1)
        assert prompt.startswith("<start_of_turn>user\nScore this edge:\nQuery: <escape>")  # no literal <bos>
        [call] = parse_calls(completion)
        assert call.name == "score_edge"
        SCORE_EDGE.validate(call.arguments)
    assert len(set(texts)) > 300  # the pools give variety


def test_messages_lines_re_render_to_the_text_lines() -> None:
    texts = [json.loads(line)["text"] for line in lines(50, seed=9)]
    for text, line in zip(texts, lines(50, seed=9, format="messages"), strict=True):
        example = json.loads(line)
        tools = json.loads(example["tools"])
        assert render_prompt(example["messages"], tools, add_generation_prompt=False) == BOS + text


def test_same_seed_same_bytes_whatever_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK", 40)
    one = lines(200, seed=5)
    assert lines(200, seed=5, workers=2) == one
    assert lines(200, seed=6) != one
    assert lines(120, seed=5) == one[:120]


def test_cli_help_and_output() -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "tasks.score_edge.generate", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--seed" in helped.stdout and "same seed gives the same bytes" in helped.stdout
    ran = subprocess.run(
        [sys.executable, "-m", "tasks.score_edge.generate", "3", "--format", "messages"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert [len(json.loads(line)["messages"]) for line in ran.stdout.splitlines()] == [2, 2, 2]
    bad = subprocess.run(
        [sys.executable, "-m", "tasks.score_edge.generate", "-1"], cwd=REPO, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "argument N: expected an integer >= 0, got -1" in bad.stderr


def test_record_makes_a_session_that_rebuild_turns_into_the_same_examples(tmp_path: Path) -> None:
    import asyncio

    from converters.rebuild import main as rebuild

    log = asyncio.run(generate.record(300, 4, tmp_path / "rec"))
    records, _ = log_dicts(log)
    turns = [r for r in records if r["kind"] == "model"]
    assert [r["kind"] for r in records[:1] + records[-1:]] == ["session_start", "session_end"]
    assert turns and all(r["task"] == "score_edge" and not r["error"] for r in turns)
    assert asyncio.run(generate.record(300, 4, tmp_path / "rec")) == log  # finished: left as it is
    assert log_dicts(log)[0] == records
    assert rebuild([str(tmp_path / "rec"), "--out", str(tmp_path / "data"), "--split", "1", "--workers", "1"]) == 0
    rebuilt = (tmp_path / "data" / "train.jsonl").read_text().splitlines()
    written = lines(300, seed=4)
    assert len(rebuilt) == len(turns) == len(set(written)) and set(rebuilt) == set(written)


def test_cli_record_keeps_stdout_and_writes_the_session(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "tasks.score_edge.generate", "20", "--seed", "2", "--record", str(tmp_path / "r")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert ran.stdout.splitlines() == lines(20, seed=2)
    assert "converters.rebuild" in ran.stderr
    assert len(list((tmp_path / "r" / "sessions").glob("score_edge-synthetic-2-20.jsonl"))) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "tasks.score_edge.generate", "2", "--record", str(REPO / "README.md")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "--record" in bad.stderr and "not a directory" in bad.stderr
