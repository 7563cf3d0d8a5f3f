"""The synthetic score_edge generator: every line parses and validates; same seed, same bytes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from converters.functiongemma import BOS, parse_calls, render_prompt
from tasks.score_edge import generate
from tasks.score_edge.task import SCORE_EDGE
from tests.conftest import REPO


def lines(
    count: int, seed: int = 0, format: generate.Format = "text", profile: str = "hf", workers: int = 1
) -> list[str]:
    out = io.BytesIO()
    assert generate.write(count, seed, format, profile, out, None, workers) == count  # type: ignore[arg-type]
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
