"""Each validation rule with examples that pass and fail; near duplicates and the diversity report."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.cli_intent.shipped import resolve_schema
from tasks.cli_intent.tools import Clarify, CliContext, RunCommand
from tasks.cli_intent.validate import (
    ValidationReport,
    check_arg_types,
    check_category,
    check_command,
    check_confidence,
    check_enum_values,
    check_flags,
    check_json,
    check_request,
    check_required_args,
    check_shape,
    check_suggestions,
    diversity_report,
    near_duplicate_groups,
    similarity,
    validate_answer,
    validate_example,
)

GH, _ = resolve_schema("gh")


def run(command: str = "pr", subcommand: str = "view", confidence: float = 0.95, **fields: Any) -> RunCommand:
    return RunCommand(command=command, subcommand=subcommand, confidence=confidence, **fields)


def clarify(*suggestions: str, confidence: float = 0.4) -> Clarify:
    return Clarify(message="Which one?", suggestions=list(suggestions), confidence=confidence)


def test_json_rule() -> None:
    assert check_json({"a": 1}) == ({"a": 1}, [])
    assert check_json('{"a": 1}') == ({"a": 1}, [])
    for bad in ('{"a": ', "[1, 2]", 7, None):
        parsed, problems = check_json(bad)
        assert parsed is None and [p.rule for p in problems] == ["json"]


def test_shape_rule() -> None:
    answer, problems = check_shape("run_command", {"command": "pr", "subcommand": "view", "confidence": 0.9})
    assert isinstance(answer, RunCommand) and problems == []
    for tool, arguments in [
        ("run_shell", {"command": "ls"}),
        ("run_command", {"command": "pr", "confidence": 0.9}),  # no subcommand
        ("run_command", {"command": "pr", "subcommand": "view", "confidence": 1.5}),
        ("clarify", {"message": "?", "confidence": 0.3, "extra": 1}),
    ]:
        answer, problems = check_shape(tool, arguments)
        assert answer is None and problems[0].rule == "shape", (tool, arguments)


def test_command_rule() -> None:
    assert check_command(run("pr", "merge", args={"number": 1}), GH) == []
    assert check_command(clarify(), GH) == []
    assert "unknown command 'pull'" in check_command(run("pull", "view"), GH)[0].message
    assert "no subcommand 'merge'" in check_command(run("issue", "merge"), GH)[0].message


def test_arg_type_rule() -> None:
    assert check_arg_types(run(args={"number": 12}), GH) == []
    assert check_arg_types(run("pr", "create", args={"title": "Fix it"}), GH) == []
    assert "must be an integer" in check_arg_types(run(args={"number": "12"}), GH)[0].message
    assert "non-empty string" in check_arg_types(run("pr", "create", args={"title": 5}), GH)[0].message
    assert "no argument 'colour'" in check_arg_types(run(args={"number": 1, "colour": "red"}), GH)[0].message


def test_enum_rule() -> None:
    assert check_enum_values(run("pr", "list", args={"state": "merged"}), GH) == []
    problems = check_enum_values(run("pr", "list", args={"state": "finished"}), GH)
    assert problems and problems[0].rule == "enum" and "open, closed, merged, all" in problems[0].message
    assert check_enum_values(run("issue", "list", args={"state": "merged"}), GH)  # merged is a PR state only


def test_required_rule() -> None:
    assert check_required_args(run(args={"number": 3}), GH) == []
    assert check_required_args(run("pr", "list"), GH) == []  # nothing required
    missing = check_required_args(run("pr", "review", args={"number": 3}), GH)
    assert missing and "decision" in missing[0].message and "clarify" in missing[0].message
    assert check_required_args(clarify("pr review"), GH) == []  # asking is the right answer when it is missing


def test_flag_rule() -> None:
    assert check_flags(run(args={"number": 3}, flags=["web", "comments"]), GH) == []
    assert "no flag 'squash'" in check_flags(run(args={"number": 3}, flags=["squash"]), GH)[0].message
    assert "given twice" in check_flags(run(args={"number": 3}, flags=["web", "web"]), GH)[0].message


def test_suggestion_rule() -> None:
    assert check_suggestions(clarify("pr close", "issue close"), GH) == []
    assert check_suggestions(clarify(), GH) == []
    assert "unknown suggestion 'pr destroy'" in check_suggestions(clarify("pr destroy"), GH)[0].message
    assert "repeated" in check_suggestions(clarify("pr view", "pr view"), GH)[0].message


def test_confidence_rule() -> None:
    assert check_confidence(run(confidence=0.7)) == [] and check_confidence(clarify(confidence=0.69)) == []
    assert check_confidence(run(confidence=0.5))[0].rule == "confidence"
    assert check_confidence(clarify(confidence=0.8))[0].rule == "confidence"


def test_request_rule() -> None:
    assert check_request("show my PRs") == []
    for bad in ("", "   ", None, "x" * 501, "show <end_of_turn> PRs"):
        assert check_request(bad)[0].rule == "request"


def test_category_rule() -> None:
    context = CliContext(current_branch="main")
    assert check_category("with_context", run(), context) == []
    assert check_category("without_context", run(), None) == []
    assert check_category("negative", clarify(), None) == [] and check_category("negative", clarify(), context) == []
    assert check_category("with_context", run(), None)[0].rule == "category"
    assert check_category("with_context", run(), CliContext())[0].rule == "category"  # an empty context is none
    assert check_category("without_context", run(), context)[0].rule == "category"
    assert check_category("negative", run(), None)[0].rule == "category"
    assert check_category("without_context", clarify(), None)[0].rule == "category"
    assert check_category("bogus", run(), None)[0].rule == "category"


def test_validate_answer_runs_every_rule() -> None:
    good = '{"command": "pr", "subcommand": "merge", "args": {"number": 7}, "flags": ["squash"], "confidence": 0.8}'
    answer, problems = validate_answer("run_command", good, GH)
    assert isinstance(answer, RunCommand) and answer.args == {"number": 7} and problems == []
    bad = {"command": "pr", "subcommand": "list", "args": {"state": "x", "limit": "ten"}, "flags": ["log"],
           "confidence": 0.5}
    answer, problems = validate_answer("run_command", bad, GH)
    assert answer is None and {p.rule for p in problems} == {"enum", "arg_type", "flag", "confidence"}


def test_validate_example_and_report() -> None:
    report = ValidationReport()
    good = {"command": "issue", "subcommand": "view", "args": {"number": 3}, "confidence": 0.95}
    answer, problems = validate_example("show issue 3", None, "without_context", "run_command", good, GH)
    assert answer is not None and report.add(problems)
    answer, problems = validate_example("", None, "without_context", "run_command", {**good, "command": "x"}, GH)
    assert answer is None and [p.rule for p in problems] == ["request", "command"] and not report.add(problems)
    assert report.as_dict()["kept"] == 1 and report.as_dict()["dropped"] == {"request": 1}


def test_near_duplicates_need_similar_text_and_the_same_answer() -> None:
    texts = ["show me pull request 42", "Show me: pull request #42!", "show me pull request 42", "list all open issues"]
    assert similarity(texts[0], texts[2]) == 1.0 and similarity(texts[0], texts[3]) < 0.2
    groups = near_duplicate_groups(texts, ["pr view", "pr view", "issue view", "issue list"])
    assert groups[0] == groups[1]  # only punctuation differs
    assert groups[0] != groups[2]  # same words, different answer
    assert len(set(groups)) == 3


def test_diversity_report_counts_coverage_and_groups() -> None:
    texts = ["show pr 1", "view pull request 2", "list issues", "what's the weather"]
    report = diversity_report(texts, ["pr view", "pr view", "issue list", ""], GH, [0, 0, 1, 2])
    assert report["subcommands_covered"] == 2 and report["subcommands_total"] == len(GH.pair_names())
    assert "pr merge" in report["subcommands_missing"] and "pr view" not in report["subcommands_missing"]
    assert report["near_duplicate_groups"] == 1 and report["examples_in_near_duplicate_groups"] == 2
    assert report["distinct_requests"] == 4 and report["examples_per_subcommand"] == {"min": 0, "max": 2}


@pytest.mark.parametrize("category", ["with_context", "without_context", "negative"])
def test_the_template_teacher_writes_only_valid_examples(category: str) -> None:
    from tasks.cli_intent.generation import BatchInput, example_from_item
    from tasks.cli_intent.templates import generate_items

    items = generate_items(GH, BatchInput(cli_name="gh", category=category, count=60, batch=3, seed=5))
    problems = [(item, example_from_item(item, category, GH)[1]) for item in items]
    assert [p for p in problems if p[1]] == []


def test_near_duplicate_keys_meet_for_every_similar_pair() -> None:
    """Any two requests with the same answer and similarity >= the threshold share a split key (prefix filtering
    misses none), and paraphrases with the same arguments and flags do too."""
    import random

    from tasks.cli_intent.validate import NEAR_DUPLICATE, near_duplicate_keys, similarity

    rng = random.Random(7)
    vocabulary = "show list my open pull requests the repo branch merge close issue for please all now".split()
    requests = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    requests += [r + " now" for r in requests[:100]] + [" ".join(r.split()[1:]) for r in requests[:100]]
    answer = {"command": "pr", "subcommand": "list", "args": {}, "flags": []}
    keys = [set(near_duplicate_keys(r, "run_command", answer)) for r in requests]
    similar = 0
    for i, a in enumerate(requests):
        for j in range(i + 1, len(requests)):
            if similarity(a, requests[j]) >= NEAR_DUPLICATE:
                similar += 1
                assert keys[i] & keys[j], (a, requests[j])
    assert similar > 50
    other = set(near_duplicate_keys(requests[0], "run_command", {**answer, "subcommand": "view"}))
    assert not keys[0] & other  # another answer: never the same group through the request
    flagged = {**answer, "flags": ["--web"]}
    assert set(near_duplicate_keys("open them in the browser", "run_command", flagged)) & set(
        near_duplicate_keys("show prs on the web", "run_command", flagged))
