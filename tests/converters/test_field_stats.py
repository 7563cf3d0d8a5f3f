"""stats.json says what the data teaches: each decision field's distribution per task and split, and a warning
naming the task and field when one value covers 95% or more of a task's lines."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from converters.field_stats import FieldCounts, decision_values, field_kinds
from converters.functiongemma import ToolCall
from converters.rebuild import Options, rebuild
from interpreters.recording import Recording, SessionLog
from interpreters.scripted import ScriptedModel
from tasks.registry import TASKS
from tasks.score_edge import ScoreEdgeTask
from tasks.score_edge.task import EdgeType, ScoreEdgeInput
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from teacher.model import request_for

RELEVANCE = [5, 4, 4, 3, 2] * 4
SELECTIONS: list[list[str]] = [[], [], ["Order"], ["Order", "Money"]]


def _edge(index: int) -> ScoreEdgeInput:
    return ScoreEdgeInput(query=f"how is total number {index} computed", source_file="shop/orders.py",
                          source_line=10 + index, source_hover="def total(order)", target_file="shop/money.py",
                          target_line=3, target_hover="class Money", edge_type=EdgeType.reference)


def _edge_answer(index: int) -> ToolCall:
    """20 answers: is_exhaustive always false, is_exported true on 19 (95%), relevance and risk spread."""
    return ToolCall("score_edge", {"relevance": RELEVANCE[index], "risk": 1 + index % 2,
                                   "reasoning": f"because {index}", "is_exhaustive": False,
                                   "is_type_family": index % 3 == 0, "is_exported": index != 7})


def _skewed_recording(folder: Path) -> Path:
    selections = [SelectSymbolsInput(topic=f"topic {t}", symbol=f"sym{t}", module="shop",
                                     candidates=Candidates(inputs=("Order", "Money", "Discount")))
                  for t in ("alpha", "beta", "gamma", "delta")]
    answers = [_edge_answer(i) for i in range(20)] + [ToolCall("select_symbols", {"selected": s}) for s in SELECTIONS]
    log = SessionLog(folder / "s.jsonl", session_id="s")
    teacher = Recording(ScriptedModel(answers), log)

    async def ask_all() -> None:
        for index in range(20):
            await teacher.complete(request_for(ScoreEdgeTask(), _edge(index)))
        for input in selections:
            await teacher.complete(request_for(SelectSymbolsTask(), input))

    asyncio.run(ask_all())
    log.close()
    return folder


def _merged(fields: dict[str, Any], task: str, name: str) -> Counter[str]:
    """A field's counts over both splits."""
    total: Counter[str] = Counter()
    for split in fields[task].values():
        total.update(split["fields"].get(name, {}))
    return total


def test_rebuild_writes_each_decision_fields_distribution_and_warns_on_a_skewed_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recordings = _skewed_recording(tmp_path / "rec")
    with caplog.at_level(logging.WARNING, logger="converters.rebuild"):
        rebuild([recordings], Options(out=tmp_path / "data", format="messages", negatives="none"))
    stats = json.loads((tmp_path / "data" / "stats.json").read_text(encoding="utf-8"))
    fields = stats["fields"]
    assert set(fields) == {"score_edge", "select_symbols"}
    for task, splits in fields.items():  # every split's lines are the examples written there
        for split, counted in splits.items():
            assert counted["lines"] == stats["examples"][task][split]
    edge = {name: _merged(fields, "score_edge", name)
            for name in ("relevance", "risk", "is_exhaustive", "is_type_family", "is_exported", "reasoning")}
    assert edge["relevance"] == {"5": 4, "4": 8, "3": 4, "2": 4}
    assert edge["risk"] == {"1": 10, "2": 10}
    assert edge["is_exhaustive"] == {"false": 20} and edge["is_exported"] == {"true": 19, "false": 1}
    assert edge["is_type_family"] == {"true": 7, "false": 13}
    assert not edge["reasoning"]  # free text is no decision
    lists = [split["fields"]["selected"] for split in fields["select_symbols"].values()]
    assert sum(s["empty"] for s in lists) == 2 and sum(s["non_empty"] for s in lists) == 2
    sizes: Counter[str] = Counter()
    for counted in lists:
        sizes.update(counted["sizes"])
    assert sizes == {"0": 2, "1": 1, "2": 1}
    skewed = {(s["task"], s["field"]): s for s in stats["skewed_fields"]}
    assert set(skewed) == {("score_edge", "is_exhaustive"), ("score_edge", "is_exported")}
    assert skewed["score_edge", "is_exported"]["share"] == 0.95 and skewed["score_edge", "is_exported"]["lines"] == 20
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("score_edge: field is_exported is true on 19 of 20 lines" in w for w in warnings)
    assert any("score_edge: field is_exhaustive is false on 20 of 20 lines" in w for w in warnings)
    assert not any("select_symbols" in w or "relevance" in w for w in warnings)


def test_the_counted_fields_come_from_the_tool_schema() -> None:
    score_edge = TASKS["score_edge"]
    kinds = field_kinds(score_edge.tools(_edge(0))[0].parameters(), score_edge.free_text_fields)
    assert kinds == {"is_exhaustive": "value", "is_exported": "value", "is_type_family": "value", "relevance": "value",
                     "risk": "value"}
    cli = TASKS["cli_intent:gh"]
    run = ToolCall("run_command", {"command": "pr", "subcommand": "view", "args": {"number": 1}, "flags": ["web"],
                                   "confidence": 0.9})
    values = decision_values(cli, cli.input_model(request="show PR 1"), run)
    # the tool called, the command enums and the flags list; args (an object) and confidence (free) are not counted
    assert values == (("(tool)", "value", "run_command"), ("command", "value", "pr"), ("flags", "size", 1),
                      ("subcommand", "value", "view"))
    counts = FieldCounts()
    counts.add("cli_intent:gh", "train", values)
    assert counts.as_dict()["cli_intent:gh"]["train"]["fields"]["flags"] == {"empty": 0, "non_empty": 1,
                                                                           "sizes": {"1": 1}}
