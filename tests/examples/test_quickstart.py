"""The quickstart, as the README's first command runs it, at smoke size: every step, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the finetune extra is not installed: pip install -e '.[finetune]'")


def test_quickstart_records_trains_exports_and_runs_the_student(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.quickstart import main

    argv = ["--root", str(tmp_path), "--max-steps", "4", "--hidden-size", "64", "--layers", "2", "--eval-limit", "3"]
    assert main(argv) == 0
    models = tmp_path / "models" / "quickstart"
    assert (models / "quickstart-q8_0.gguf").read_bytes()[:4] == b"GGUF"
    summary = json.loads((models / "quickstart.json").read_text())
    overall = summary["held_out"]["all"]
    assert overall["requests"] >= 4  # at least the seed symbol of each held-out query reached the student
    assert 0.0 <= overall["schema_valid"] <= overall["valid_calls"] <= 1.0
    assert set(summary["eval_split"]) == {str(models / "merged"), "quickstart-f16.gguf", "quickstart-q8_0.gguf"}
    # the prior (each decision field's training majority) beside the student, on both the exploration and the split
    scored = summary["eval_split"][str(models / "merged")]["examples"]
    assert 0.0 <= overall["prior_agreement"] <= 1.0 and summary["prior"]["examples"] == scored
    assert summary["prior"]["trained_on"]["score_edge"] > 0
    out = capsys.readouterr().out
    assert "4. exploring 4 held-out queries with the student" in out and "agree with the teacher" in out
    assert "(prior " in out and f"eval split ({scored} examples), exact match: base " in out and ", prior " in out
    # a second run finds every step done and only explores again
    assert main(argv) == 0
    assert (models / "quickstart-q8_0.gguf").stat().st_size > 0


def test_the_held_out_check_sets_the_prior_beside_the_student() -> None:
    """AgreementCheck counts the prior's agreement with the teacher beside the student's, on decisions only."""
    import asyncio

    from converters.functiongemma import ToolCall
    from examples.quickstart import AgreementCheck, summary_lines
    from interpreters.heuristic import HeuristicModel
    from interpreters.scripted import FunctionModel
    from tasks.score_edge import ScoreEdgeTask
    from teacher.model import ModelRequest, request_for
    from teacher.prior import fit_prior
    from tests.interpreters.test_anthropic import EDGE

    request = request_for(ScoreEdgeTask(), EDGE)
    taught = asyncio.run(HeuristicModel().complete(request)).calls[0]

    def student(asked: ModelRequest) -> ToolCall:  # the teacher's decisions in its own words
        return ToolCall(taught.name, {**taught.arguments, "reasoning": "my own words"})

    wrong = ToolCall(taught.name, {**taught.arguments, "risk": taught.arguments["risk"] % 5 + 1})
    check = AgreementCheck(FunctionModel(student), HeuristicModel(), fit_prior([("score_edge", [wrong])]))
    for _ in range(2):
        asyncio.run(check.complete(request))
    row = check.rates()["score_edge"]
    assert row["agreement"] == 1.0 and row["prior_agreement"] == 0.0
    evaluation = {"examples": 2, "artifacts": {"/x/q8.gguf": {"exact_match": 0.52}}, "prior": {"exact_match": 0.5}}
    lines = summary_lines(check.rates(), evaluation)
    assert "100.0% agree with the teacher (prior 0.0%)" in lines[0]
    assert lines[-1] == "   eval split (2 examples), exact match: tuned q8.gguf 52.0% ≈prior, prior 50.0%"


def test_the_held_out_check_counts_a_selection_the_student_left_empty() -> None:
    """Where the teacher selects symbols, the check says how often the student selected any (issue 27, item 5)."""
    import asyncio

    from converters.functiongemma import ToolCall
    from examples.quickstart import AgreementCheck
    from interpreters.scripted import FunctionModel
    from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
    from teacher.model import ModelRequest, request_for

    inputs = [SelectSymbolsInput(topic=f"topic {n}", symbol="checkout", candidates=Candidates(inputs=("Cart", "Order")))
              for n in range(4)]
    selected = {"topic 0": ["Cart"], "topic 1": ["Order"], "topic 2": [], "topic 3": ["Cart", "Order"]}
    chosen = {"topic 0": ["Cart"], "topic 1": [], "topic 2": [], "topic 3": ["Order"]}

    def teacher(asked: ModelRequest) -> ToolCall:
        return ToolCall("select_symbols", {"selected": selected[asked.input.topic]})

    def student(asked: ModelRequest) -> ToolCall:
        return ToolCall("select_symbols", {"selected": chosen[asked.input.topic]})

    check = AgreementCheck(FunctionModel(student), FunctionModel(teacher))
    for one in inputs:
        asyncio.run(check.complete(request_for(SelectSymbolsTask(), one)))
    row = check.rates()["select_symbols"]
    assert row["teacher_lists"] == 3 and row["nonempty_when_teacher"] == 2 / 3  # topic 1 left empty
    assert row["agreement"] == 2 / 4  # topics 0 and 2; topic 3 selects a different set


def test_quiet_by_default_the_recorder_shows_every_tenth_session(caplog: pytest.LogCaptureFixture) -> None:
    """Without -v the quickstart shows teacher.record's per-session lines as a count (every tenth, and the last),
    its other lines in full; the filter is gone once the run ends."""
    import logging

    from examples.quickstart import EveryTenthSession, quiet_libraries

    logger = logging.getLogger("teacher.record")
    with caplog.at_level(logging.INFO, logger="teacher.record"), quiet_libraries():
        for done in range(1, 24):
            logger.info("[%d/%d sessions, %.1f s] %s: %d turns, skipped %s", done, 23, 0.1, "'q'", 3, "none")
        logger.warning("%s: set aside unreadable line(s) %s to %s.torn", "log.jsonl", "7", "log.jsonl")
    shown = [r.getMessage() for r in caplog.records]
    assert [line.split(",")[0] for line in shown[:-1]] == ["[10/23 sessions", "[20/23 sessions", "[23/23 sessions"]
    assert shown[-1].startswith("log.jsonl: set aside")
    assert not any(isinstance(f, EveryTenthSession) for f in logger.filters)
