"""The wheel ships what an installed copy needs: ``py.typed`` in every package, and the sample repository and
queries as package data, so that ``python -m examples.explore`` runs from the installed wheel alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("teacher", "interpreters", "tasks", "converters", "finetune", "examples")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from the tracked (and new, unignored) files, in a scratch copy of the source tree."""
    root = tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    source = root / "src"
    for name in listed:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(root / "dist")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    [built] = (root / "dist").glob("fine_training_teacher-*.whl")
    return built


def test_the_wheel_ships_py_typed_and_the_sample_repository(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"{package}/py.typed" for package in PACKAGES} <= names
    sample = {name for name in names if name.startswith("examples/sample_repo/")}
    expected = {f"examples/{p.relative_to(REPO / 'examples').as_posix()}"
                for p in (REPO / "examples" / "sample_repo").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert sample == expected and "examples/sample_queries.jsonl" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_installed_wheel_runs_examples_explore(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}  # ahead of the editable checkout
    where = subprocess.run([sys.executable, "-c", "import examples.explore as e; print(e.SAMPLE_REPO)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout + where.stderr
    out = tmp_path / "exploration.json"
    ran = subprocess.run([sys.executable, "-m", "examples.explore", "--symbol", "order_total", "--budget", "3",
                          "--quiet", "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(out.read_text())["nodes"]
