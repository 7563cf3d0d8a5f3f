"""The quickstart, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from examples.quickstart import main
from tests.conftest import REPO


def test_quickstart_classifies_and_shows_one_exchange_per_profile(capsys: object) -> None:
    assert main(["--identifier", "load_file", "--identifier", "HttpClient"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "[hf 1/2] load_file: {\"style\": \"snake_case\", \"confidence\": 0.9}" in out
    assert "[ollama 2/2] HttpClient: {\"style\": \"PascalCase\", \"confidence\": 0.9}" in out
    assert out.count("--- prompt (hf profile) ---") == 1
    assert out.count("--- prompt (ollama profile) ---") == 1
    assert "You can do function calling with the following functions:" in out  # Ollama's developer line


def test_quickstart_cli_help_and_module_run() -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "examples.quickstart", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "--profile" in helped.stdout
    ran = subprocess.run(
        [sys.executable, "-m", "examples.quickstart", "--profile", "hf", "--quiet"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert ran.stdout.count("[hf ") == 4 and "prompt" not in ran.stdout
