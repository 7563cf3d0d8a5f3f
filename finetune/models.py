"""Loading models and tokenizers for the stages: the checkpoint loader of :mod:`interpreters.checkpoints` (where the
``hf`` backend loads its model too), named here as training code always has."""

from __future__ import annotations

from interpreters.checkpoints import (
    ModelError,
    Precision,
    adapter_chain,
    check_model_dir,
    load_merged,
    load_tokenizer,
    resolve_hub_id,
    torch_dtype,
)

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
