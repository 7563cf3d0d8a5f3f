"""Where a base model comes from: a directory, or a Hugging Face model id found in the local cache (never fetched)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interpreters.checkpoints import ModelError, check_model_dir, resolve_hub_id

REPO = Path(__file__).resolve().parents[2]


def _cache_with(root: Path, repo_id: str) -> Path:
    """A Hugging Face hub cache holding one snapshot of ``repo_id`` (the layout huggingface_hub writes)."""
    owner, name = repo_id.split("/")
    folder = root / f"models--{owner}--{name}"
    snapshot = folder / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("a" * 40)
    return snapshot


def test_a_model_id_resolves_from_the_local_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    snapshot = _cache_with(tmp_path / "hub", "google/functiongemma-270m-it")
    assert check_model_dir(Path("google/functiongemma-270m-it")) == snapshot
    with pytest.raises(ModelError) as error:
        check_model_dir(Path("google/not-cached-270m"))
    assert str(error.value) == (
        "google/not-cached-270m is neither a directory nor in the local Hugging Face cache: "
        "hf download google/not-cached-270m"
    )
    # paths that cannot be ids keep the directory message
    assert resolve_hub_id(tmp_path / "missing") is None
    assert resolve_hub_id(Path("a/b/c")) is None
    with pytest.raises(ModelError, match="not found"):
        check_model_dir(tmp_path / "missing")


def test_sft_with_an_uncached_model_id_is_one_line_before_training(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"prompt": "<bos>p", "completion": "c"}) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "finetune", "sft", "--base", "nobody-here/no-such-model", "--data", str(data),
         "--out", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_CACHE": str(tmp_path / "hub"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "finetune sft: nobody-here/no-such-model is neither a directory nor in the local Hugging Face cache: "
        "hf download nobody-here/no-such-model"
    )
    assert not (tmp_path / "out" / "model").exists()
