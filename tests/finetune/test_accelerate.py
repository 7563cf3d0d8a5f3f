"""SFT unchanged under ``accelerate launch``: two CPU processes (gloo) train one model together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _sft(base: Path, data: Path, out: Path) -> list[str]:
    return ["-m", "finetune", "sft", "--base", str(base), "--data", str(data), "--out", str(out), "--no-lora",
            "--max-steps", "3", "--batch-size", "2", "--save-steps", "100", "--eval-examples", "0",
            "--logging-steps", "1"]


def _tensors(model: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(model / "model.safetensors"), framework="pt") as weights:
        return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}  # noqa: SIM118


def test_two_processes_train_together_to_the_same_result_shape(
    tiny_base: Path, tiny_data: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --multi_gpu starts the processes through torchrun; with no GPU they join over gloo on the CPU
    # (accelerate's --cpu flag would start a single process)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", "29517"]
    done = subprocess.run([*launch, *_sft(tiny_base, tiny_data, tmp_path / "two")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run([sys.executable, *_sft(tiny_base, tiny_data, tmp_path / "one")], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=600)
    two = json.loads((tmp_path / "two" / "training.json").read_text())
    one = json.loads((tmp_path / "one" / "training.json").read_text())
    assert (two["world_size"], one["world_size"]) == (2, 1)
    assert two["global_steps"] == one["global_steps"] == 3
    # each step saw twice the examples: the processes split the data and averaged their gradients
    tokens_two = max(entry.get("num_tokens", 0) for entry in two["log_history"])
    tokens_one = max(entry.get("num_tokens", 0) for entry in one["log_history"])
    assert tokens_two > 1.5 * tokens_one
    assert _tensors(tmp_path / "two" / "model") == _tensors(tmp_path / "one" / "model")
