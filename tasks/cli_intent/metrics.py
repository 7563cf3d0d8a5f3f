"""Evaluation metrics of the cli_intent task, computed from expected and predicted calls (no model, no torch).

``cli_intent_metrics(expected, predicted)`` compares each example's first call. A prediction is invalid when
the output did not parse (``None``), made no call, or its call is not a well-formed ``run_command`` or
``clarify``. Confidence decides what a runtime does with an answer: execute at 0.9 and above, confirm from
0.7 to 0.9, clarify below 0.7 (a ``clarify`` call always counts as clarify).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from converters.functiongemma import ToolCall
from tasks.cli_intent.tools import CLARIFY, FREE_TEXT_FIELDS, RUN_COMMAND, Clarify, RunCommand
from teacher.evaluation import decisions_agree
from teacher.tools import ToolArgumentsError

__all__ = ["BANDS", "CONFIRM_FROM", "EXECUTE_FROM", "belongs_to_cli_intent", "cli_intent_metrics", "decision"]

EXECUTE_FROM = 0.9
CONFIRM_FROM = 0.7
Band = Literal["execute", "confirm", "clarify"]
BANDS: tuple[Band, ...] = ("execute", "confirm", "clarify")


def belongs_to_cli_intent(calls: Sequence[ToolCall] | Sequence[str]) -> bool:
    """Whether a conversation's calls (or tool names) are the cli_intent task's (run_command / clarify)."""
    names = [c if isinstance(c, str) else c.name for c in calls]
    return bool(names) and all(n in (RUN_COMMAND.name, CLARIFY.name) for n in names)


def _answer(calls: Sequence[ToolCall] | None) -> RunCommand | Clarify | None:
    """The typed first call, or None when there is none or it is not a well-formed cli_intent call."""
    if not calls:
        return None
    call = calls[0]
    try:
        if call.name == RUN_COMMAND.name:
            return RUN_COMMAND.validate(call.arguments)
        if call.name == CLARIFY.name:
            return CLARIFY.validate(call.arguments)
    except ToolArgumentsError:
        return None
    return None


def decision(answer: RunCommand | Clarify) -> Band:
    """What a runtime does with an answer: execute (>= 0.9), confirm (0.7 to 0.9) or clarify (< 0.7)."""
    if isinstance(answer, Clarify) or answer.confidence < CONFIRM_FROM:
        return "clarify"
    return "execute" if answer.confidence >= EXECUTE_FROM else "confirm"


def _call(answer: RunCommand | Clarify) -> ToolCall:
    return ToolCall(RUN_COMMAND.name if isinstance(answer, RunCommand) else CLARIFY.name, answer.model_dump())


def _same(expected: RunCommand | Clarify, predicted: RunCommand | Clarify) -> bool:
    """Exact match: :func:`teacher.evaluation.decisions_agree` on the typed answers (the same tool, command,
    subcommand, arguments and flags; confidence, a clarification's message and its suggestions are not decisions)."""
    return decisions_agree([_call(expected)], [_call(predicted)], FREE_TEXT_FIELDS)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def cli_intent_metrics(
    expected: Sequence[Sequence[ToolCall]], predicted: Sequence[Sequence[ToolCall] | None]
) -> dict[str, Any]:
    """Exact match, per-field accuracy, invalid outputs, clarification precision/recall and threshold bands.

    Field accuracies (command, subcommand, args, flags) are over the examples that expect ``run_command``
    (invalid outputs count as wrong);
    each needs the fields before it right too (subcommand needs the command). Rates with an empty
    denominator are 0.0; the counts are included so that a reader can tell, and ``n`` gives each rate's
    denominator (how many examples stand behind it).
    """
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected answers but {len(predicted)} predictions")
    n = len(expected)
    counts: dict[str, int] = dict.fromkeys(
        ("exact", "invalid", "commands", "command", "subcommand", "args", "flags",
         "clarify_expected", "clarify_predicted", "clarify_both"), 0)
    band_total: dict[str, int] = dict.fromkeys(BANDS, 0)
    band_right: dict[str, int] = dict.fromkeys(BANDS, 0)
    executed_wrong = 0
    for index, (want_calls, got_calls) in enumerate(zip(expected, predicted, strict=True)):
        want = _answer(want_calls)
        if want is None:
            raise ValueError(f"expected answer {index} is not a valid run_command or clarify call: {want_calls!r}")
        got = _answer(got_calls)
        counts["clarify_expected"] += isinstance(want, Clarify)
        counts["commands"] += isinstance(want, RunCommand)
        if got is None:
            counts["invalid"] += 1
            continue
        right = _same(want, got)
        counts["exact"] += right
        counts["clarify_predicted"] += isinstance(got, Clarify)
        counts["clarify_both"] += isinstance(got, Clarify) and isinstance(want, Clarify)
        band = decision(got)
        band_total[band] += 1
        band_right[band] += right
        executed_wrong += band == "execute" and not right
        if isinstance(want, RunCommand) and isinstance(got, RunCommand) and got.command == want.command:
            counts["command"] += 1
            if got.subcommand == want.subcommand:
                counts["subcommand"] += 1
                counts["args"] += got.args == want.args
                counts["flags"] += sorted(got.flags) == sorted(want.flags)
    valid = n - counts["invalid"]
    metrics: dict[str, Any] = {
        "examples": float(n),
        "exact_match": _ratio(counts["exact"], n),
        "command_accuracy": _ratio(counts["command"], counts["commands"]),
        "subcommand_accuracy": _ratio(counts["subcommand"], counts["commands"]),
        "args_accuracy": _ratio(counts["args"], counts["commands"]),
        "flags_accuracy": _ratio(counts["flags"], counts["commands"]),
        "invalid_output_rate": _ratio(counts["invalid"], n),
        "clarification_precision": _ratio(counts["clarify_both"], counts["clarify_predicted"]),
        "clarification_recall": _ratio(counts["clarify_both"], counts["clarify_expected"]),
        "clarifications_expected": float(counts["clarify_expected"]),
        "clarifications_predicted": float(counts["clarify_predicted"]),
        "wrong_execution_rate": _ratio(executed_wrong, valid),
    }
    for band in BANDS:
        metrics[f"{band}_rate"] = _ratio(band_total[band], valid)
        metrics[f"{band}_accuracy"] = _ratio(band_right[band], band_total[band])
        metrics[f"{band}_count"] = float(band_total[band])
    commands = counts["commands"]
    metrics["n"] = {
        "exact_match": n, "invalid_output_rate": n, "command_accuracy": commands, "subcommand_accuracy": commands,
        "args_accuracy": commands, "flags_accuracy": commands, "clarification_precision": counts["clarify_predicted"],
        "clarification_recall": counts["clarify_expected"], "wrong_execution_rate": valid,
        **{f"{band}_rate": valid for band in BANDS}, **{f"{band}_accuracy": band_total[band] for band in BANDS},
    }
    return metrics


def summary_line(metrics: dict[str, Any]) -> str:
    """One line for a report: exact match, invalid outputs and the execute band's accuracy."""
    return (f"exact {metrics['exact_match']:.1%}, invalid {metrics['invalid_output_rate']:.1%}, "
            f"execute {metrics['execute_rate']:.1%} at {metrics['execute_accuracy']:.1%} accuracy")
