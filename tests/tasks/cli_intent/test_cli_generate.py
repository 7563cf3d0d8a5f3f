"""`python -m tasks.cli_intent.generate`: count, mix and split; kill and resume; the Haiku path against the fake."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tasks.cli_intent.generate import main, read_progress
from tasks.cli_intent.generation import PROGRESS_FILE, BatchInput, targets
from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.templates import generate_items
from tests.conftest import REPO
from tests.fake_anthropic import DefaultResponder, FakeAnthropic

GH, _ = resolve_schema("gh")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def user_texts(out: Path) -> list[str]:
    return [m["content"] for split in ("train", "eval") for row in lines(out / f"{split}.jsonl")
            for m in row["messages"] if m["role"] == "user"]


def test_count_mix_split_and_the_messages_contract(tmp_path: Path) -> None:
    assert main(["--schema", "gh", "--count", "120", "--out-root", str(tmp_path), "--name", "demo",
                 "--split", "0.8", "--batch-size", "7"]) == 0
    out = tmp_path / "demo"
    train, evaluation = lines(out / "train.jsonl"), lines(out / "eval.jsonl")
    assert len(train) + len(evaluation) == 120 and 0.6 < len(train) / 120 < 0.95
    stats = json.loads((out / "stats.json").read_text())
    assert stats["targets"] == {"with_context": 72, "without_context": 24, "negative": 24} == targets(120)
    assert {c: v["train"] + v["eval"] for c, v in stats["categories"].items()} == stats["targets"]
    assert stats["train"] == len(train) and stats["diversity"]["subcommands_covered"] >= 25
    assert set(stats["negative_kinds"]) == {"ambiguous", "incomplete", "off_topic", "multiple", "typo"}
    for row in train[:20]:
        assert set(row) == {"messages", "tools"} and [m["role"] for m in row["messages"]] == [
            "system", "user", "assistant"]
        assert row["messages"][1]["content"].startswith("Request: ")
        assert row["messages"][2]["tool_calls"][0]["function"]["name"] in ("run_command", "clarify")
    texts = user_texts(out)
    assert len(texts) == len(set(texts))
    assert 72 <= sum("Context:" in t for t in texts) <= 72 + 24  # with_context ones, and some negatives


def test_near_duplicates_stay_on_one_side(tmp_path: Path) -> None:
    from tasks.cli_intent.generate import write_dataset
    from tasks.cli_intent.generation import example_from_item, split_groups

    items = generate_items(GH, BatchInput(cli_name="gh", category="without_context", count=40, batch=0))
    examples = [e for e in (example_from_item(i, "without_context", GH)[0] for i in items) if e is not None]
    twin = examples[0].model_copy(update={"request": examples[0].request + "!!"})  # a near-duplicate
    paraphrase = examples[1].model_copy(update={"request": "completely different wording here"})  # same answer
    examples += [twin, paraphrase]
    groups = split_groups(examples)
    assert groups[0] == groups[-2]
    if examples[1].arguments["args"] or examples[1].arguments["flags"]:
        assert groups[1] == groups[-1]
    for seed in range(6):
        write_dataset(tmp_path, GH, examples, split=0.5, seed=seed, meta={})
        train = (tmp_path / "train.jsonl").read_text()
        assert (examples[0].request in train) == (twin.request in train)


def test_kill_mid_run_then_resume_loses_nothing(tmp_path: Path) -> None:
    args = ["--schema", "gh", "--count", "150", "--batch-size", "10", "--seed", "3"]
    out = tmp_path / "killed" / "gh"
    process = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli_intent.generate", *args, "--out-root", str(tmp_path / "killed"),
         "--delay", "0.3"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    progress = out / PROGRESS_FILE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if progress.exists() and progress.read_bytes().count(b"\n") >= 5:  # the session_start line and 4 batches
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    saved = read_progress(progress)
    assert 4 <= len(saved.batches) < 15, "the kill must land mid-run"
    assert not (out / "train.jsonl").exists()
    with open(progress, "ab") as handle:  # and a torn last line, as a kill mid-write leaves
        handle.write(b'{"batch": 99, "category": "neg')
    assert main([*args, "--out-root", str(tmp_path / "killed")]) == 0
    assert main([*args, "--out-root", str(tmp_path / "straight")]) == 0

    texts = user_texts(out)
    assert len(texts) == 150 and len(set(texts)) == 150
    stats = json.loads((out / "stats.json").read_text())
    assert {c: v["train"] + v["eval"] for c, v in stats["categories"].items()} == targets(150)
    from tasks.cli_intent.task import CliIntentTask

    task = CliIntentTask(GH)
    before = {task.render(e.input()) for e in saved.examples()}
    assert before <= set(texts)  # every batch saved before the kill is in the dataset
    batches = [b.batch for b in read_progress(progress).batches]
    assert batches == list(range(len(batches)))  # no batch lost or repeated, the torn one asked again
    for name in ("train.jsonl", "eval.jsonl"):  # the same as a run never interrupted
        assert (out / name).read_bytes() == (tmp_path / "straight" / "gh" / name).read_bytes()


def test_force_restarts_and_a_rerun_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--schema", "gh", "--count", "30", "--out-root", str(tmp_path)]
    assert main(args) == 0
    first = read_progress(tmp_path / "gh" / PROGRESS_FILE).batches
    assert main(args) == 0  # nothing left to do
    assert read_progress(tmp_path / "gh" / PROGRESS_FILE).batches == first
    assert "resuming from" in capsys.readouterr().err
    assert main([*args, "--count", "40"]) == 0  # a larger count continues
    assert len(user_texts(tmp_path / "gh")) == 40
    assert main([*args, "--force"]) == 0
    assert len(read_progress(tmp_path / "gh" / PROGRESS_FILE).batches) == len(first)


def test_help_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0 and "--count" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("cli_name: x\ncommands: []\n")
    assert main(["--schema", str(bad), "--out-root", str(tmp_path)]) == 1  # a data error: the file is wrong
    assert f"{bad}:2: commands" in capsys.readouterr().err
    assert main(["--schema", "gh", "--teacher", "haiku", "--out-root", str(tmp_path)]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


class FakeHaiku(DefaultResponder):
    """Answers submit_examples with a batch written from the prompt, plus one invalid and one repeated item."""

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        response = super().__call__(body)
        prompt = body["messages"][0]["content"]
        found = re.search(r"Generate (\d+) diverse examples of the category (\w+)", prompt)
        assert found, prompt
        count, category = int(found.group(1)), found.group(2)
        batch = len(self.seen)
        self.seen.append(category)
        items = generate_items(GH, BatchInput(cli_name="gh", category=category, count=count, batch=batch, seed=9))
        items.append({**items[0], "arguments": {**items[0]["arguments"], "command": "gist"}})
        items.append(dict(items[0]))
        for block in response["content"]:
            if block["type"] == "tool_use":
                block["input"] = {"examples": items}
        return response

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []


def test_haiku_generation_against_the_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    responder = FakeHaiku()
    with FakeAnthropic(responder=responder) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-generate")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        assert main(["--schema", "gh", "--teacher", "haiku", "--count", "25", "--batch-size", "5",
                     "--out-root", str(tmp_path)]) == 0
        bodies = [r["body"] for r in fake.message_requests()]
    assert len(bodies) == 5 and sorted(responder.seen) == sorted(["with_context"] * 3 + ["without_context", "negative"])
    body = bodies[0]
    assert [t["name"] for t in body["tools"]] == ["submit_examples"]
    assert "generating training data" in body["system"][0]["text"]
    assert "cli_name: gh" in body["messages"][0]["content"] and "Focus on these" in body["messages"][0]["content"]
    stats = json.loads((tmp_path / "gh" / "stats.json").read_text())
    assert stats["teacher"] == "haiku" and stats["train"] + stats["eval"] == 25
    # the unknown command is a 'command' drop, or a 'shape' one in the negative batch (clarify takes no command)
    assert stats["validation"]["dropped"] == {"command": 4, "shape": 1, "duplicate": 5}
    assert "sk-ant-test-generate" not in (tmp_path / "gh" / PROGRESS_FILE).read_text()


def test_a_local_model_can_teach_the_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--teacher ollama:NAME``: any backend of the table writes batches; ``heuristic`` stays the templates."""
    from interpreters.ollama import OllamaStudent
    from tasks.cli_intent.generate import teacher_backend
    from tasks.cli_intent.templates import TemplateTeacher
    from tests.fake_ollama import FakeOllama

    assert isinstance(teacher_backend("heuristic", GH), TemplateTeacher)
    seen: list[str] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        found = re.search(r"Generate (\d+) diverse examples of the category (\w+)", prompt)
        assert found, prompt
        seen.append(found.group(2))
        items = generate_items(GH, BatchInput(cli_name="gh", category=found.group(2), count=int(found.group(1)),
                                              batch=len(seen), seed=9))
        return {"content": "", "tool_calls": [{"function": {"name": "submit_examples",
                                                            "arguments": {"examples": items}}}]}

    with FakeOllama(answer, models={"big-local"}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        assert isinstance(teacher_backend("ollama:big-local", GH), OllamaStudent)
        assert main(["--schema", "gh", "--teacher", "ollama:big-local", "--count", "10", "--batch-size", "5",
                     "--out-root", str(tmp_path)]) == 0
    stats = json.loads((tmp_path / "gh" / "stats.json").read_text())
    assert stats["teacher"] == "ollama:big-local" and stats["train"] + stats["eval"] == 10 and seen
