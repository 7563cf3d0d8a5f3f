"""``finetune modelfile``: an Ollama Modelfile for a GGUF of a model trained on ``ollama``-profile data.

Ollama renders and parses FunctionGemma itself (``RENDERER``/``PARSER functiongemma``), so the Modelfile
carries no template; greedy decoding and the stop tokens match the training and evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path

from converters.functiongemma import STOP_SEQUENCES
from teacher.provenance import ProfileMismatch, model_profile, resolve_profile

__all__ = ["modelfile_text", "write_modelfile"]


def modelfile_text(gguf: Path, relative_to: Path | None = None, context: int = 4096) -> str:
    """The Modelfile text for ``gguf`` (its path relative to the Modelfile's folder when given)."""
    where = os.path.relpath(gguf, relative_to) if relative_to is not None else str(gguf)
    if not where.startswith((".", "/")):
        where = "./" + where
    lines = [
        f"FROM {where}",
        "RENDERER functiongemma",
        "PARSER functiongemma",
        "PARAMETER temperature 0",
        "PARAMETER top_k 1",
        f"PARAMETER num_ctx {context}",
        *(f'PARAMETER stop "{stop}"' for stop in STOP_SEQUENCES),
    ]
    return "\n".join(lines) + "\n"


def write_modelfile(gguf: Path, out: Path, profile: str | None = None, context: int = 4096) -> Path:
    """Write the Modelfile; refuses a model trained on ``hf``-profile data, which Ollama would prompt differently.

    The profile is the one the GGUF's metadata records; ``profile`` must agree with it, and says it for a GGUF
    that records none."""
    if not gguf.is_file():
        raise FileNotFoundError(f"GGUF {gguf} not found (make one with `python -m finetune export`)")
    if profile is None and model_profile(gguf) is None:
        raise ProfileMismatch(f"{gguf} records no codec profile (functiongemma.profile); say which with --profile")
    profile = resolve_profile(profile, models=[gguf])
    if profile != "ollama":
        raise ProfileMismatch(
            f"the data used the {profile!r} profile; Ollama's functiongemma renderer speaks the 'ollama' profile: "
            "rebuild the data with --profile ollama and train on it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(modelfile_text(gguf, out.parent, context), encoding="utf-8")
    return out
