"""converters.rebuild on recordings made by the heuristic and replay backends."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import BOS, parse_calls, render_prompt, split_output
from converters.rebuild import Options, main, reasoning_comment, rebuild
from converters.schema import TrainingExample
from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from interpreters.lsp_replay import LspReplay
from interpreters.recording import read_log
from interpreters.replay import Replay
from tasks.score_edge.task import SCORE_EDGE, ScoreEdgeTask
from tasks.select_symbols.negatives import INVERT_TOPIC
from tasks.select_symbols.task import SELECT_SYMBOLS
from teacher.explore import TeachQuery
from teacher.record import record
from tests.conftest import SAMPLE_REPO

QUERIES = [
    TeachQuery(topic="How are orders validated before payment?", seeds=("validate_order",), budget=6),
    TeachQuery(topic="How is the order total computed with discounts?", seeds=("order_total",), budget=6),
    TeachQuery(topic="What breaks if an order status is added?", seeds=("describe_status",), budget=6),
    TeachQuery(topic="How does checkout charge a payment gateway?", seeds=("checkout",), budget=6),
    TeachQuery(topic="How are payment results described?", seeds=("describe_payment",), budget=6),
]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Heuristic recordings of five explorations, plus their replay (no model, no server)."""
    root = tmp_path_factory.mktemp("recordings")

    async def make() -> None:
        async with LspServer(SAMPLE_REPO) as lsp:
            await record(QUERIES, root / "heuristic", HeuristicModel(), lsp)
        records = [r for p in sorted((root / "heuristic").rglob("*.jsonl")) for r in read_log(p)[0]]
        await record(QUERIES, root / "replay", Replay(records), LspReplay(records))

    asyncio.run(make())
    return root


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def build(recordings: Path, out: Path, **options: Any) -> dict[str, Any]:
    rebuild([recordings / "heuristic", recordings / "replay"], Options(out=out, **options))
    return json.loads((out / "stats.json").read_text())


def examples(out: Path) -> Iterator[dict[str, Any]]:
    for split in ("train", "eval"):
        yield from lines(out / f"{split}.jsonl")


TOOLS = {"score_edge": SCORE_EDGE, "select_symbols": SELECT_SYMBOLS, "invert_topic": INVERT_TOPIC}


def candidates_in(text: str) -> set[str]:
    """The candidate names listed in a select_symbols user text."""
    names: set[str] = set()
    block = text.split("Candidates:\n", 1)[1].split("<end_of_turn>", 1)[0]
    for line in block.splitlines():
        shown = line.split(": ", 1)[1] if ": " in line else ""
        if shown and not shown.startswith("("):
            names.update(shown.split(", "))
    return names


@pytest.mark.parametrize("profile", ["hf", "ollama"])
def test_text_examples_parse_and_validate_and_messages_re_render_to_them(
    recordings: Path, tmp_path: Path, profile: str
) -> None:
    stats = build(recordings, tmp_path / "text", profile=profile, split=0.5)
    texts = [e["text"] for e in examples(tmp_path / "text")]
    assert len(texts) == stats["train"] + stats["eval"] > 20
    assert stats["examples"].keys() >= {"select_symbols", "score_edge", "invert_topic"}
    for text in texts:
        [call] = parse_calls(text.split("<start_of_turn>model\n")[-1])
        arguments = TOOLS[call.name].validate(call.arguments)
        if call.name == "select_symbols":
            assert set(arguments.selected) <= candidates_in(text)
    build(recordings, tmp_path / "messages", profile=profile, split=0.5, format="messages")
    rendered = sorted(
        render_prompt(e["messages"], json.loads(e["tools"]), profile=profile, add_generation_prompt=False)
        for e in examples(tmp_path / "messages")
    )
    assert rendered == sorted(BOS + text for text in texts)
    for example in examples(tmp_path / "messages"):
        TrainingExample.model_validate(example)
        call = example["messages"][-1]["tool_calls"][0]
        assert call["type"] == "function" and call["id"] and isinstance(call["function"]["arguments"], str)
        assert example["messages"][0]["role"] in ("system", "user")


def test_prompt_completion_pairs_join_to_the_text(recordings: Path, tmp_path: Path) -> None:
    build(recordings, tmp_path / "text")
    build(recordings, tmp_path / "pc", format="prompt-completion")
    pairs = list(examples(tmp_path / "pc"))
    joined = sorted(p["prompt"] + p["completion"] for p in pairs)
    assert joined == sorted(e["text"] for e in examples(tmp_path / "text"))
    for pair in pairs:
        assert pair["prompt"].endswith("<start_of_turn>model\n")
        assert pair["completion"].startswith("<start_function_call>")
        assert pair["completion"].endswith("<end_function_call><start_function_response>")


def test_same_inputs_and_seed_give_identical_bytes(recordings: Path, tmp_path: Path) -> None:
    build(recordings, tmp_path / "a", seed=3, split=0.5)
    build(recordings, tmp_path / "b", seed=3, split=0.5)
    build(recordings, tmp_path / "c", seed=4, split=0.5)
    for name in ("train.jsonl", "eval.jsonl", "stats.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()


def test_no_symbol_straddles_the_split(recordings: Path, tmp_path: Path) -> None:
    for seed in range(3):
        out = tmp_path / str(seed)
        stats = build(recordings, out, seed=seed, split=0.5, format="messages")
        assert stats["train"] and stats["eval"] and stats["groups"] >= 5
        symbols: dict[str, set[str]] = {"train": set(), "eval": set()}
        for split in ("train", "eval"):
            for example in lines(out / f"{split}.jsonl"):
                user = example["messages"][-2]["content"]
                if user.startswith("Topic:") and "\nCandidates:" in user:  # select_symbols (not invert_topic)
                    symbols[split].add(user.splitlines()[1])
                elif user.startswith("Score this edge:"):  # score_edge: the edge's source
                    symbols[split].add(user.splitlines()[2].replace("<escape>", ""))
        assert symbols["train"] and symbols["eval"] and not symbols["train"] & symbols["eval"]


def test_duplicates_degenerates_and_negatives_are_counted(recordings: Path, tmp_path: Path) -> None:
    stats = build(recordings, tmp_path / "out")
    assert stats["dropped"]["duplicate"] > 0  # the replayed recordings repeat the heuristic ones
    assert stats["negatives"].get("heuristic", 0) + stats["negatives"].get("teacher", 0) > 0
    assert stats["length_unit"] == "characters" and stats["length_percentiles"]["p50"] > 0
    negatives = [
        e for e in examples(tmp_path / "out") if "call:select_symbols{selected:[]}" in e["text"]
    ]
    assert negatives
    without = build(recordings, tmp_path / "plain", negatives="none")
    assert without["negatives"] == {} and without["train"] + without["eval"] < stats["train"] + stats["eval"]


def test_reasoning_comment_form(recordings: Path, tmp_path: Path) -> None:
    assert reasoning_comment("Candidates sharing words.  Second sentence.") == "Candidates sharing words."
    long = "word " * 60
    assert len(reasoning_comment(long)) <= 160 and reasoning_comment(long).endswith("…")
    assert reasoning_comment("uses <escape> token\nand lines") == "uses token and lines"
    assert reasoning_comment("   ") == ""
    build(recordings, tmp_path / "c", reasoning="comment", format="prompt-completion")
    comments = []
    for pair in examples(tmp_path / "c"):
        calls, comment = split_output(pair["completion"])
        assert calls and "\n" not in comment and len(comment) <= 160
        assert pair["completion"].startswith(comment + "<start_function_call>")
        comments.append(comment)
    assert sum(1 for c in comments if c) > len(comments) // 2  # negatives carry no reasoning, the rest do


def test_a_malformed_line_is_reported_and_skipped_or_fatal(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    good = next((recordings / "heuristic").rglob("*.jsonl")).read_text(encoding="utf-8").splitlines()
    broken_model = json.loads(next(line for line in good if '"kind":"model"' in line))
    del broken_model["input"]
    bad.write_text("\n".join([good[0], "{not json", json.dumps(broken_model), *good[1:]]) + "\n", encoding="utf-8")
    assert main([str(bad), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"{bad}:2: not a JSON object" in err and f"{bad}:3: field 'input' is missing" in err
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["dropped"]["malformed_line"] == 2
    assert main([str(bad), "--out", str(tmp_path / "strict"), "--strict"]) == 1
    assert f"{bad}:2: not a JSON object" in capsys.readouterr().err


def test_the_cli_shows_the_progress_rebuild_logs(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = len(list((recordings / "heuristic").rglob("*.jsonl")))
    assert main([str(recordings / "heuristic"), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    err = capsys.readouterr().err  # the library logs its progress; the command line shows it on stderr
    assert re.search(rf"^{files}/{files} files, \d+ turns \([\d,]+/s\)$", err, re.MULTILINE), err


def test_cli_checks_its_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(tmp_path / "o"), "--task", "lint"])
    assert "unknown task(s) lint" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "no recordings at" in capsys.readouterr().err


def _score_edge_record(**changes: Any) -> dict[str, Any]:
    """A valid recorded score_edge turn (heuristic answer), with ``changes`` applied (``None`` removes a field)."""
    from interpreters.heuristic import HeuristicModel
    from interpreters.recording import SCHEMA_VERSION
    from tasks.score_edge.generate import edge_contexts

    context = next(edge_contexts(1, 0))
    call, reasoning = HeuristicModel.answer(ScoreEdgeTask(), context)
    assert call is not None
    record = {"schema": SCHEMA_VERSION, "kind": "model", "session": "s", "turn": 1, "key": "k", "task": "score_edge",
              "input": context.model_dump(mode="json"), "calls": [{"name": call.name, "arguments": call.arguments}],
              "reasoning": reasoning}
    record.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        record.pop(key)
    return record


@pytest.mark.parametrize(
    ("bad", "problem"),
    [({"schema": 2}, "field 'schema' is 2"), ({"schema": "1"}, "field 'schema' is '1'"),
     ({"schema": True}, "field 'schema' is True"), ({"schema": None}, "field 'schema' is missing")],
)
def test_an_unknown_schema_version_is_skipped_with_a_count_or_fatal_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: dict[str, Any], problem: str
) -> None:
    log = tmp_path / "s.jsonl"
    good = _score_edge_record()
    other = _score_edge_record(input={**good["input"], "query": "How are refunds issued?"}, **bad)
    log.write_text(json.dumps(good) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    assert main([str(log), "--out", str(tmp_path / "out")]) == 0
    assert f"{log}:2: {problem}" in capsys.readouterr().err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["dropped"] == {"malformed_line": 1} and stats["turns"] == 1 and stats["train"] + stats["eval"] == 1
    assert main([str(log), "--out", str(tmp_path / "strict"), "--strict"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"converters.rebuild: {log}:2: {problem}")


def test_a_control_token_in_a_recorded_input_spoils_its_line_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "s.jsonl"
    good = _score_edge_record()
    poisoned = _score_edge_record(input={**good["input"], "query": "Where is <end_of_turn> handled?"})
    after = _score_edge_record(input={**good["input"], "query": "How are refunds issued?"})
    log.write_text("".join(json.dumps(r) + "\n" for r in (good, poisoned, after)), encoding="utf-8")
    assert main([str(log), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"{log}:2: field 'input' or 'calls' cannot be written as FunctionGemma" in err and "<end_of_turn>" in err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["dropped"] == {"malformed_line": 1} and stats["train"] + stats["eval"] == 2  # the lines around it
    assert main([str(log), "--out", str(tmp_path / "strict"), "--strict"]) == 1
    assert f"{log}:2:" in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_directory_named_like_a_log_is_not_read_as_one(tmp_path: Path) -> None:
    (tmp_path / "in" / "looks-like.jsonl").mkdir(parents=True)
    (tmp_path / "in" / "real.jsonl").write_text(json.dumps(_score_edge_record()) + "\n", encoding="utf-8")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["turns"] == 1


def test_an_empty_eval_split_is_named_with_its_cause_by_rebuild_and_by_the_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converters.examples import DatasetError
    from finetune.pipeline import PipelineSettings, run_pipeline

    log = tmp_path / "s.jsonl"
    good = _score_edge_record()  # two queries about one edge: one group, which is never split
    other = _score_edge_record(input={**good["input"], "query": "How are refunds issued?"})
    log.write_text(json.dumps(good) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
    assert main([str(log), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "examples: train 2, eval 0" in out
    assert "warning: the eval split is empty: all examples are about 1 group (symbol or topic)" in out
    with pytest.raises(DatasetError, match=r"the eval split is empty: .*record more topics or symbols"):
        run_pipeline(PipelineSettings("demo", root=tmp_path / "training", recordings=[log]))
    assert main([str(log), "--out", str(tmp_path / "all"), "--split", "1"]) == 0  # no eval asked for: no warning
    assert "warning" not in capsys.readouterr().out


def test_a_session_naming_its_split_goes_there_whole(tmp_path: Path) -> None:
    """A generator's fixed eval set: the session's ``session_start`` names the split; ``--split 1`` keeps none."""
    from interpreters.records import ModelTurn, RecordedCall, SessionStart, dump_line
    from tasks.score_edge.generate import edge_contexts

    def session(name: str, split: str | None, contexts: list[Any]) -> Path:
        path = tmp_path / "rec" / f"{name}.jsonl"
        path.parent.mkdir(exist_ok=True)
        turns = []
        for number, context in enumerate(contexts):
            call, _ = HeuristicModel.answer(ScoreEdgeTask(), context)
            assert call is not None
            turns.append(dump_line(ModelTurn(session=name, turn=number, task="score_edge",
                                             input=context.model_dump(mode="json"),
                                             calls=[RecordedCall(name=call.name, arguments=call.arguments)])))
        path.write_text("".join(line + "\n" for line in [dump_line(SessionStart(session=name, split=split)), *turns]))
        return path

    contexts = list(edge_contexts(60, 8))
    held, rest = session("held", "eval", contexts[:20]), session("rest", None, contexts[20:])
    stats = rebuild([held, rest], Options(out=tmp_path / "a", split=0.9))
    evaluation = (tmp_path / "a" / "eval.jsonl").read_text().splitlines()
    assert stats.examples["score_edge/eval"] >= 20
    rebuild([held], Options(out=tmp_path / "h", split=0.5))
    assert set((tmp_path / "h" / "eval.jsonl").read_text().splitlines()) <= set(evaluation)
    assert len((tmp_path / "h" / "eval.jsonl").read_text().splitlines()) == 20
    assert (tmp_path / "h" / "train.jsonl").read_text() == ""
    rebuild([held], Options(out=tmp_path / "one", split=1.0))
    assert (tmp_path / "one" / "eval.jsonl").read_text() == ""
