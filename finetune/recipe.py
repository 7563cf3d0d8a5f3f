"""The SFT recipe for a base built by ``finetune base`` (the real Gemma 3 270M): one place for the settings that
``benchmarks.recipes`` chose by measurement (``benchmarks/RESULTS.md``, "SFT recipes on held-out repositories").

``finetune sft``, the pipeline and ``benchmarks.real_student`` start from these settings when the base is such a
model; a ``--config`` file and flags still override each one. A tiny model (``finetune tiny``) or any other base
keeps the settings' own defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finetune.train import BASE_MARKER
from interpreters.checkpoints import ModelError, adapter_chain

__all__ = ["REAL_BASE_SFT", "REAL_BASE_SFT_NAME", "REAL_BASE_STEPS", "is_built_base", "sft_defaults"]

#: the name of the chosen recipe in ``benchmarks.recipes`` (its row in the results table)
REAL_BASE_SFT_NAME = "top6-full-lr1e-4"
#: the chosen recipe's settings (see :data:`benchmarks.recipes.RECIPES`): the top 6 of the 18 decoder layers
#: trained fully, the embedding and the layers below frozen, the frozen layers' outputs cached. On the held-out
#: repositories no recipe tried left the prior within 800 examples, so the choice is by cost: it saw 1.4 times
#: the examples per CPU minute of LoRA r16 on every layer (RESULTS.md)
REAL_BASE_SFT: Mapping[str, Any] = {
    "lora": False, "train_layers": 6, "learning_rate": 1e-4,
    "batch_size": 4, "warmup": 0.05, "scheduler": "cosine", "max_length": 1024, "group_by_length": True,
}
#: the recipe's length (optimizer steps), used when neither ``epochs`` nor ``max_steps`` is given: 2,000 examples,
#: about 46 minutes of the 90 that benchmarks.real_student may take on 2 idle cores
REAL_BASE_STEPS = 500


def is_built_base(base: str | Path | None) -> bool:
    """Whether ``base`` (a model folder, or an adapter over one) was built by ``finetune base``."""
    if base is None:
        return False
    try:
        return (adapter_chain(Path(base))[0] / BASE_MARKER).is_file()
    except ModelError:
        return False  # not a model folder: the stage itself reports that, in its own words


def sft_defaults(base: str | Path | None, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SFT settings to start from for ``base``: for a base built by ``finetune base``, :data:`REAL_BASE_SFT`
    tagged with its name, and :data:`REAL_BASE_STEPS` unless ``given`` (the settings chosen so far) sets
    ``epochs`` or ``max_steps``; else none (the settings' own defaults)."""
    if not is_built_base(base):
        return {}
    given = given or {}
    length = {} if "epochs" in given or "max_steps" in given else {"max_steps": REAL_BASE_STEPS}
    return {**REAL_BASE_SFT, **length, "recipe_name": REAL_BASE_SFT_NAME}
