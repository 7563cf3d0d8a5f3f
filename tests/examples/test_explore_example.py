"""The exploration example, run as a user runs it: an offline exploration of the sample repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from examples.explore import main
from tests.conftest import REPO


def test_explore_explores_the_sample_and_shows_each_task_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("--- select_symbols: prompt (hf profile) ---") == 1
    assert out.count("--- score_edge: prompt (hf profile) ---") == 1
    assert "<start_function_call>call:select_symbols{selected:[" in out
    assert "[depth 0] shop.pricing.order_total: def order_total(order: Order) -> Money" in out
    assert "core: shop.pricing.order_total, shop.checkout.checkout" in out
    assert "edge shop.pricing.order_total -> shop.models.Order (type_constraint)" in out


def test_explore_writes_json_and_takes_the_ollama_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "exploration.json"
    assert main(["--profile", "ollama", "--symbol", "describe_status", "--budget", "3", "--out", str(out_file)]) == 0
    shown = capsys.readouterr().out
    assert "You can do function calling with the following functions:" in shown  # Ollama's developer line
    saved = json.loads(out_file.read_text(encoding="utf-8"))
    assert saved["nodes"][0]["symbol"]["qualified"] == "shop.models.describe_status"
    assert len(saved["nodes"]) <= 3


def test_explore_cli_help_and_bad_repo(tmp_path: Path) -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "examples.explore", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "--repo" in helped.stdout and "--budget" in helped.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "examples.explore", "--repo", str(tmp_path / "nope")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert bad.returncode == 2 and "is not a directory" in bad.stderr
