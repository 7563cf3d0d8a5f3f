"""Every command line's ``--help`` exits 0 and shows each flag's default once, in argparse's own words.

Each CLI is run in-process as ``python -m MODULE --help`` runs it (``runpy`` with ``sys.argv`` set), so the
whole table takes seconds. A default written by hand in a help string as well (``(default 20)``) or a
meaningless ``(default: None)`` fails the test."""

from __future__ import annotations

import re
import runpy
import sys

import pytest

#: runpy runs modules that an earlier test imported: harmless here
pytestmark = pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")

#: (module, arguments before --help, a flag and its default as --help must show it)
CLIS: list[tuple[str, tuple[str, ...], str]] = [
    ("teacher.record", (), "--budget BUDGET most symbols visited per query (default: 20)"),
    ("teacher.compare", (), "--ollama-model NAME the student's Ollama model (for a bare 'ollama' backend) "
                            "(default: functiongemma-student)"),
    ("examples.explore", (), "--max-depth MAX_DEPTH most edges from a seed (default: 3)"),
    ("examples.agent", (), "--breadth BREADTH most candidates followed per symbol (default: 5)"),
    ("examples.quickstart", (), "--root ROOT where data and models go (default: training)"),
    ("tasks.cli_intent.run", (), "--student STUDENT the backend:"),
    ("tasks.cli_intent.generate", (), "--count COUNT examples to generate (default: 3000)"),
    ("tasks.score_edge.generate", (), "--seed SEED random seed (default: 0)"),
    ("tasks.subagents.lint.generate_examples", (), "--split SPLIT fraction of examples in train, in (0, 1] "
                                                   "(default: 0.9)"),
    ("tasks.subagents.test.generate_examples", (), "--seed SEED seed of the draw (default: 0)"),
    ("tasks.subagents.docstring.generate_examples", (), "--profile {hf,ollama} codec profile of the text "
                                                        "(default: hf)"),
    ("tasks.subagents.sample_data.generate_examples", (), "--seed SEED seed of the draw (default: 0)"),
    ("converters.rebuild", (), "--format {text,messages,prompt-completion} the dataset's line shape (default: text)"),
    ("converters.dataset", (), "--count COUNT queries proposed per repository (default: 30)"),
    ("benchmarks.recipes", (), "--examples EXAMPLES training examples each recipe sees (default: 800)"),
    ("finetune", (), "STAGE"),
    ("finetune", ("tiny",), "--vocab-size VOCAB_SIZE"),
    ("finetune", ("sft",), "--config CONFIG"),
    ("finetune", ("export",), "--type {f32,f16,bf16} tensor type (default: f16)"),
    ("finetune", ("quantize",), "--type"),
    ("finetune", ("eval",), "--data DATA"),
    ("finetune", ("pipeline",), "--root ROOT root of the layout (default: training)"),
    ("benchmarks.record", (), "--levels LEVELS concurrency levels (default: 1,8,32)"),
    ("benchmarks.rebuild", (), "--turns TURNS recorded turns (default: 200000)"),
    ("benchmarks.codec_fuzz", (), "--count COUNT number of fuzz inputs (default: 100000)"),
    ("benchmarks.student", (), "(default: "),
    ("benchmarks.cost", (), "usage:"),
    ("benchmarks.explore", (), "(default: "),
    ("benchmarks.edge_flags", (), "--count COUNT auto-proposed queries per package (default: 6)"),
    ("benchmarks.score_edge_generate", (), "--count COUNT examples to generate (default: 100000)"),
    ("benchmarks.cli_intent_latency", (), "(default: "),
    ("benchmarks.constrained_decoding", (), "--per-task PER_TASK examples per task (default: 40)"),
    ("interpreters.calibration", (), "--min-points MIN_POINTS the fewest branch points a label needs (default: 8)"),
    ("benchmarks.real_student", (), "--data DATA a python -m converters.dataset folder (built with its defaults when "
     "absent) (default: training/data/real)"),
    ("benchmarks.sft_speed", (), "--batch-size BATCH_SIZE examples per step (default: 4)"),
    ("benchmarks.sft_throughput", (), "--batch-size BATCH_SIZE examples per step (default: 16)"),
]


def _help(module: str, before: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setattr(sys, "argv", [module, *before, "--help"])
    with pytest.raises(SystemExit) as ended:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert ended.value.code in (0, None), f"{module} --help exited {ended.value.code}"
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("module", "before", "shown"), CLIS, ids=[f"{m} {' '.join(b)}".strip() for m, b, _ in CLIS])
def test_help_exits_0_and_shows_defaults_once(
    module: str, before: tuple[str, ...], shown: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(module, before, monkeypatch, capsys)
    assert text.startswith("usage:")
    assert shown in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert not re.search(r"\(default [^:]", text), "a default written by hand beside argparse's"
    assert "default: default" not in text


def test_every_command_line_is_in_the_table() -> None:
    from tests.conftest import REPO

    found = set()
    for package in ("teacher", "examples", "tasks", "converters", "finetune", "benchmarks"):
        for path in (REPO / package).rglob("*.py"):
            if "ArgumentParser(" in path.read_text(encoding="utf-8") or "CommandParser(" in path.read_text(
                    encoding="utf-8"):
                found.add(".".join(path.relative_to(REPO).with_suffix("").parts))
    found.discard("teacher.cli_args")
    found = {name.removesuffix(".__main__") for name in found}
    found = {"tasks.subagents.lint.generate_examples" if name == "tasks.subagents.generate" else name
             for name in found}
    assert found - {module for module, _, _ in CLIS} == set()


@pytest.mark.parametrize("module", ["teacher.record", "examples.explore", "examples.agent"])
def test_the_exploration_limits_have_one_definition(
    module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from teacher.explore import TeachQuery

    text = _help(module, (), monkeypatch, capsys)
    defaults = {name: TeachQuery.model_fields[name].default for name in ("budget", "max_depth", "breadth")}
    assert f"--budget BUDGET most symbols visited per query (default: {defaults['budget']})" in text
    assert f"--max-depth MAX_DEPTH most edges from a seed (default: {defaults['max_depth']})" in text
    assert f"--breadth BREADTH most candidates followed per symbol (default: {defaults['breadth']})" in text
    assert "--symbol SYMBOL" in text and "--seed" not in text  # a seed symbol is --symbol; --seed is random


@pytest.mark.parametrize("module", ["teacher.record", "teacher.compare", "examples.explore", "examples.agent"])
def test_the_ollama_flags_have_one_definition(
    module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(module, (), monkeypatch, capsys)
    assert "--ollama-model NAME the student's Ollama model (for a bare 'ollama' backend) " \
           "(default: functiongemma-student)" in text
    assert "--ollama-host URL Ollama host (unset: OLLAMA_HOST, else http://127.0.0.1:11434)" in text
