"""The shared argument types: ranges at their edges, NaN and infinity, climbing names, paths that cannot be written."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from teacher.cli_args import (
    Number,
    fraction,
    name_problem,
    non_negative_float,
    output_name,
    output_problem,
    positive_float,
    positive_int,
    seed,
    user_text,
)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [(positive_int, "1", 1), (positive_int, " 7 ", 7), (seed, "0", 0), (seed, str(2**32 - 1), 2**32 - 1),
     (positive_float, "1e-9", 1e-9), (non_negative_float, "0", 0.0), (fraction, "0.5", 0.5),
     (Number(int, minimum=-1), "-1", -1)],
)
def test_values_in_range_are_accepted(kind: Number, text: str, expected: float) -> None:
    assert kind(text) == expected and type(kind(text)) is kind.kind


@pytest.mark.parametrize(
    ("kind", "text"),
    [(positive_int, "0"), (positive_int, "-4"), (positive_int, "1.5"), (positive_int, "nan"), (positive_int, ""),
     (seed, "-1"), (seed, str(2**32)), (positive_float, "0"), (positive_float, "nan"), (positive_float, "inf"),
     (positive_float, "-inf"), (non_negative_float, "-0.1"), (non_negative_float, "1e400"), (fraction, "0"),
     (fraction, "1"), (fraction, "NaN"), (Number(int, minimum=-1), "-2")],
)
def test_values_out_of_range_are_one_line_naming_the_rule(kind: Number, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        kind(text)
    message = str(refused.value)
    assert message.startswith(f"expected {kind.describe()}, got") and "\n" not in message


def test_config_values_are_checked_by_the_same_rule() -> None:
    assert positive_int.check(3.0) == 3 and fraction.check(0.25) == 0.25
    for bad in (True, "3", None, [1], -4, 2.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="expected an integer >= 1"):
            positive_int.check(bad)
    assert fraction.describe() == "a number in (0, 1)" and Number(float).describe() == "a finite number"


def test_a_parser_exits_2_with_the_flag_in_its_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--epochs", type=positive_float)
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--epochs", "-1"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "demo: error: argument --epochs: expected a number > 0, got -1"


@pytest.mark.parametrize("name", ["../../x", "..", ".", "", "/tmp/x", "a/b", "a\\b", "-rf", ".hidden", "x" * 129,
                                  "a\x00b", "a b", "café"])
def test_names_that_could_leave_their_root_are_refused(name: str) -> None:
    assert name_problem(name) is not None
    with pytest.raises(argparse.ArgumentTypeError, match="must stay inside its output root"):
        output_name(name)


def test_plain_names_are_kept() -> None:
    assert [output_name(n) for n in ("gh", "demo-2", "v1.0_final")] == ["gh", "demo-2", "v1.0_final"]


def test_output_problem_finds_files_in_the_way(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert output_problem(tmp_path / "new" / "deeper", directory=True) is None
    assert output_problem(plain / "sub" / "out", directory=True) == f"{plain} is not a directory"
    assert output_problem(plain, directory=True) == f"{plain} is not a directory"
    assert output_problem(tmp_path, directory=False) == f"{tmp_path} is a directory"
    assert output_problem(plain, directory=False) is None
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    dangling = output_problem(tmp_path / "dangling" / "out", directory=True)
    assert dangling == f"{tmp_path / 'dangling'} is a broken symbolic link"


def test_user_text_refuses_blank_text_and_control_tokens() -> None:
    assert user_text("How is the total computed?") == "How is the total computed?"
    for bad in ("", "   ", "Where is <end_of_turn> handled?", "<start_function_call>x", "a<escape>b"):
        with pytest.raises(argparse.ArgumentTypeError):
            user_text(bad)


def test_a_credential_pasted_into_a_numeric_field_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-pasted-into-the-wrong-field-0123456789")
    with pytest.raises(ValueError) as caught:
        positive_int.check("sk-ant-pasted-into-the-wrong-field-0123456789")
    assert "pasted" not in str(caught.value) and "[REDACTED]" in str(caught.value)


def test_counts_reads_as_words_in_the_order_given() -> None:
    from collections import Counter

    from teacher.cli_args import counts

    assert counts({"invalid_answer": 2, "model_failed": 1}) == "invalid_answer 2, model_failed 1"
    assert counts(Counter(a=1, b=3).most_common()) == "b 3, a 1"
    assert counts({}) == "none" and counts([], empty="nothing") == "nothing"
    assert "{" not in counts({"p50": 12, "max": 40}) and "Counter" not in counts(Counter(x=1))


def test_configure_logging_shows_library_lines_on_the_current_stderr_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from teacher.cli_args import configure_logging

    configure_logging()
    configure_logging()  # a second call adds no second handler
    logging.getLogger("teacher.record").info("[1/2 sessions, 0.1 s] 'How?' [abc]: 3 turns, skipped none")
    logging.getLogger("httpx").info("HTTP Request: POST http://x")  # not the library's: not shown
    err = capsys.readouterr().err
    assert err == "[1/2 sessions, 0.1 s] 'How?' [abc]: 3 turns, skipped none\n"


def test_an_alias_is_hidden_and_the_ollama_flags_are_shared() -> None:
    from interpreters.backends import add_ollama_flags
    from interpreters.ollama import DEFAULT_OLLAMA_MODEL
    from teacher.cli_args import HelpFormatter, add_hidden_alias

    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_ollama_flags(parser)
    add_hidden_alias(parser, "--host", dest="ollama_host")
    assert parser.parse_args([]).ollama_model == DEFAULT_OLLAMA_MODEL
    assert parser.parse_args(["--host", "http://h:1"]).ollama_host == "http://h:1"
    shown = parser.format_help()
    assert "--host" not in shown.replace("--ollama-host", "") and f"(default: {DEFAULT_OLLAMA_MODEL})" in shown


@pytest.mark.parametrize(("argv", "level", "transformers"), [
    ([], "INFO", "error"),
    (["-v"], "DEBUG", "warning"),
    (["--verbose"], "DEBUG", "warning"),
    (["-q"], "WARNING", "error"),
    (["stage", "-v"], "DEBUG", "warning"),  # after the subcommand
    (["-v", "stage"], "DEBUG", "warning"),  # before it: the subcommand's parser does not undo it
    (["--quiet", "stage"], "WARNING", "error"),
])
def test_the_command_parser_sets_the_log_level_from_v_and_q(
    argv: list[str], level: str, transformers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from teacher.cli_args import LOGGED_PACKAGES, CommandParser

    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    parser = CommandParser(prog="demo")
    if "stage" in argv:
        parser.add_subparsers(dest="stage").add_parser("stage")
    try:
        parser.parse_args(argv)
        for name in LOGGED_PACKAGES:
            assert logging.getLevelName(logging.getLogger(name).level) == level, name
        assert __import__("os").environ["TRANSFORMERS_VERBOSITY"] == transformers
    finally:
        CommandParser(prog="reset").parse_args([])  # later tests see the default level


def test_v_and_q_exclude_each_other_and_show_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from teacher.cli_args import CommandParser

    parser = CommandParser(prog="demo")
    with pytest.raises(SystemExit) as ended:
        parser.parse_args(["-v", "-q"])
    assert ended.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    text = " ".join(parser.format_help().split())
    assert "-v, --verbose show debug lines" in text and "-q, --quiet show only warnings" in text
    assert "==SUPPRESS==" not in text


def test_the_datasets_progress_bars_show_only_when_verbose() -> None:
    """TRL's tokenizing passes draw the datasets library's bars: hidden unless -v (in a fresh process, as a command
    runs: the parse comes before the library is imported)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys; from teacher.cli_args import CommandParser; CommandParser(prog='d').parse_args(sys.argv[1:]);"
            " import datasets; print(datasets.is_progress_bar_enabled())")
    shown = {flags: subprocess.run([sys.executable, "-c", code, *flags], cwd=REPO, capture_output=True, text=True,
                                   check=True, env={k: v for k, v in __import__("os").environ.items()
                                                    if k != "HF_DATASETS_DISABLE_PROGRESS_BARS"}).stdout.strip()
             for flags in [(), ("-v",)]}
    assert shown == {(): "False", ("-v",): "True"}
