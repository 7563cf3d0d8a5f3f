"""cli_intent metrics on hand-made expected and predicted calls."""

from __future__ import annotations

from typing import Any

import pytest

from converters.functiongemma import ToolCall
from tasks.cli_intent.metrics import belongs_to_cli_intent, cli_intent_metrics, decision
from tasks.cli_intent.tools import Clarify, RunCommand


def run(sub: str = "view", confidence: float = 0.95, command: str = "pr", **fields: Any) -> list[ToolCall]:
    return [ToolCall("run_command", {"command": command, "subcommand": sub, "confidence": confidence, **fields})]


def ask(*suggestions: str, confidence: float = 0.4) -> list[ToolCall]:
    return [ToolCall("clarify", {"message": "which?", "suggestions": list(suggestions), "confidence": confidence})]


def test_metrics_on_hand_made_predictions() -> None:
    expected = [
        run(args={"number": 1}),                              # 0 exact (confidence differs)
        run(args={"number": 2}, flags=["web"]),               # 1 flags wrong
        run("list", args={"state": "closed"}),                # 2 args wrong
        run("merge", args={"number": 3}),                     # 3 subcommand wrong
        run("view", command="issue", args={"number": 4}),     # 4 command wrong
        run(args={"number": 5}),                              # 5 output did not parse
        ask("pr close", "issue close"),                       # 6 clarification, exact (order ignored)
        ask("pr merge"),                                      # 7 clarification, exact (suggestions are no decision)
        run(args={"number": 8}),                              # 8 clarified instead of running
        ask(),                                                # 9 ran instead of clarifying
    ]
    predicted: list[list[ToolCall] | None] = [
        run(args={"number": 1}, confidence=0.99),
        run(args={"number": 2}, flags=["comments"], confidence=0.92),
        run("list", args={"state": "open"}, confidence=0.8),
        run("close", args={"number": 3}, confidence=0.75),
        run("view", args={"number": 4}, confidence=0.95),
        None,
        ask("issue close", "pr close", confidence=0.3),
        ask("pr view"),
        ask("pr view"),
        run("status", confidence=0.5),
    ]
    m = cli_intent_metrics(expected, predicted)
    assert m["examples"] == 10
    assert m["exact_match"] == pytest.approx(3 / 10)  # 0, 6, 7
    assert m["invalid_output_rate"] == pytest.approx(1 / 10)
    # 7 examples expect run_command: 0,1,2,3,4,5,8
    assert m["command_accuracy"] == pytest.approx(4 / 7)       # 0,1,2,3
    assert m["subcommand_accuracy"] == pytest.approx(3 / 7)    # 0,1,2
    assert m["args_accuracy"] == pytest.approx(2 / 7)          # 0,1
    assert m["flags_accuracy"] == pytest.approx(2 / 7)         # 0,2
    assert m["clarifications_expected"] == 3 and m["clarifications_predicted"] == 3  # predicted: 6,7,8
    assert m["clarification_precision"] == pytest.approx(2 / 3)  # 6,7 were meant to clarify
    assert m["clarification_recall"] == pytest.approx(2 / 3)     # 9 was missed
    # bands over the 9 valid predictions: execute 0,1,4; confirm 2,3; clarify 6,7,8,9 (9 is a run below 0.7)
    assert (m["execute_count"], m["confirm_count"], m["clarify_count"]) == (3, 2, 4)
    assert m["execute_rate"] == pytest.approx(3 / 9) and m["confirm_rate"] == pytest.approx(2 / 9)
    assert m["execute_accuracy"] == pytest.approx(1 / 3) and m["confirm_accuracy"] == 0.0
    assert m["clarify_accuracy"] == pytest.approx(2 / 4)  # 6, 7
    assert m["wrong_execution_rate"] == pytest.approx(2 / 9)


def test_perfect_and_empty_and_malformed_predictions() -> None:
    expected = [run(args={"number": 1}), ask("pr view")]
    perfect = cli_intent_metrics(expected, [run(args={"number": 1}), ask("pr view")])
    assert perfect["exact_match"] == 1.0 and perfect["clarification_precision"] == 1.0
    assert perfect["invalid_output_rate"] == 0.0
    broken = cli_intent_metrics(expected, [[], [ToolCall("run_command", {"command": "pr"})]])
    assert broken["invalid_output_rate"] == 1.0 and broken["exact_match"] == 0.0
    assert broken["clarification_precision"] == 0.0 and broken["execute_rate"] == 0.0
    assert cli_intent_metrics([], [])["examples"] == 0.0
    with pytest.raises(ValueError, match="2 expected answers but 1"):
        cli_intent_metrics(expected, [None])
    with pytest.raises(ValueError, match="expected answer 0"):
        cli_intent_metrics([[ToolCall("score_edge", {})]], [None])


def test_integer_and_string_values_differ() -> None:
    m = cli_intent_metrics([run(args={"number": 7})], [run(args={"number": "7"})])
    assert m["exact_match"] == 0.0 and m["subcommand_accuracy"] == 1.0 and m["args_accuracy"] == 0.0


def test_decision_thresholds() -> None:
    def command(confidence: float) -> RunCommand:
        return RunCommand(command="pr", subcommand="view", confidence=confidence)

    assert [decision(command(c)) for c in (0.95, 0.9, 0.89, 0.7, 0.69)] == [
        "execute", "execute", "confirm", "confirm", "clarify"]
    assert decision(Clarify(message="?", confidence=0.99)) == "clarify"


def test_belongs_to_cli_intent() -> None:
    assert belongs_to_cli_intent(run()) and belongs_to_cli_intent(["clarify"])
    assert not belongs_to_cli_intent([ToolCall("score_edge", {})]) and not belongs_to_cli_intent([])
