"""Shared test fixtures: where the project's shared test data and the sample repository live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_REPO = REPO / "examples" / "sample_repo"


def shared_json(relative: str) -> Any:
    """Load a JSON file from ../shared, skipping the test (with the reason) when it is not there."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared test data sits beside the checkout, in ../shared/")
    return json.loads(path.read_text(encoding="utf-8"))


def position_of(relative: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """0-based (line, character) of the n-th occurrence of ``needle`` in a sample-repository file."""
    seen = 0
    for number, line in enumerate((SAMPLE_REPO / relative).read_text(encoding="utf-8").splitlines()):
        column = line.find(needle)
        while column >= 0:
            seen += 1
            if seen == occurrence:
                return number, column
            column = line.find(needle, column + 1)
    raise AssertionError(f"{needle!r} occurs fewer than {occurrence} times in {relative}")


@pytest.fixture(autouse=True)
def no_paid_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the real Anthropic API: no key, and the default endpoint is a closed local port."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")


def log_dicts(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """A session log read as :func:`interpreters.recording.read_log` reads it, each typed line as the JSON object
    written for it (for assertions on the on-disk shape)."""
    from interpreters.recording import read_log
    from interpreters.records import line_dict

    lines, unreadable = read_log(path)
    return [line_dict(line) for line in lines], unreadable
