"""Loading saved transformers checkpoints: model directories (or Hugging Face ids in the local cache), adapters
(also stacked ones) and precision.

A stage's output model directory holds either a full model or a PEFT adapter whose ``adapter_config.json``
names the directory it was trained on; that directory may itself be an adapter (DPO trained on the SFT
adapter), so :func:`load_merged` follows the chain down to a full model and merges each adapter in turn.

The ``hf`` backend (:mod:`interpreters.hf`) loads its model with it and ``finetune``'s stages load theirs, so a
backend needs no training code. torch, transformers,
peft and huggingface_hub are imported on first use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from teacher.errors import FineTrainingError

__all__ = [
    "ModelError",
    "Precision",
    "adapter_chain",
    "check_model_dir",
    "load_merged",
    "load_tokenizer",
    "resolve_hub_id",
    "torch_dtype",
]

Precision = Literal["auto", "bf16", "fp16", "fp32"]


class ModelError(ValueError, FineTrainingError):
    """A model directory that is missing or is not a model; one line that says what to give instead."""


_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def resolve_hub_id(path: Path) -> Path | None:
    """The local snapshot of a Hugging Face model id (``owner/name``) in the local cache; never downloads.

    None when ``path`` does not look like a model id; a one-line :class:`ModelError` naming the command that
    fetches it when the id is not in the cache.
    """
    text = str(path)
    if path.is_absolute() or not _HF_ID.fullmatch(text) or text.startswith(("./", "../")):
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(text, local_files_only=True))
    except LocalEntryNotFoundError:
        hint = f"hf download {text}"
        raise ModelError(f"{text} is neither a directory nor in the local Hugging Face cache: {hint}") from None


def check_model_dir(path: Path, what: str = "base model") -> Path:
    """``path`` if it holds a saved model or adapter (a Hugging Face model id resolves from the local cache),
    else a one-line :class:`ModelError`."""
    if not path.is_dir():
        snapshot = resolve_hub_id(path)
        if snapshot is not None:
            return check_model_dir(snapshot, what)
        raise ModelError(f"{what} {path} not found (give a directory from `python -m finetune tiny` or real weights)")
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise ModelError(f"{what} {path} holds no config.json or adapter_config.json: not a saved model")
    return path


def adapter_chain(path: Path) -> tuple[Path, list[Path]]:
    """The full model at the bottom of a stack of adapters, and the adapters from the bottom up."""
    adapters: list[Path] = []
    current = check_model_dir(path)
    while (current / "adapter_config.json").is_file():
        if len(adapters) > 16 or current in adapters:
            raise ModelError(f"{path}: adapters stacked in a loop")
        adapters.append(current)
        base = json.loads((current / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise ModelError(f"{current}/adapter_config.json: no base_model_name_or_path")
        current = check_model_dir(Path(base), what=f"base of adapter {current}")
    return current, adapters[::-1]


def torch_dtype(precision: Precision) -> Any:
    """The torch dtype for a precision; ``auto`` is bf16 on hardware that has it, float32 elsewhere."""
    import torch

    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def load_tokenizer(path: Path) -> Any:
    """The tokenizer saved with a model or adapter (or with the model beneath an adapter stack)."""
    from transformers import AutoTokenizer

    for candidate in (path, adapter_chain(path)[0]):
        if (candidate / "tokenizer_config.json").is_file() or (candidate / "tokenizer.json").is_file():
            return AutoTokenizer.from_pretrained(candidate, local_files_only=True)
    raise ModelError(f"{path}: no tokenizer saved with the model")


def load_merged(path: Path, precision: Precision = "fp32") -> Any:
    """The full model at ``path`` with every adapter in its stack merged in (eager attention, for Gemma 3)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base, adapters = adapter_chain(path)
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch_dtype(precision), attn_implementation="eager", local_files_only=True
    )
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, adapter, local_files_only=True).merge_and_unload()
    return model
