"""Shared test fixtures: where the project's shared test data lives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_json(relative: str) -> Any:
    """Load a JSON file from ../shared, skipping the test (with the reason) when it is not there."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared test data sits beside the checkout, in ../shared/")
    return json.loads(path.read_text(encoding="utf-8"))
