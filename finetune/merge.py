"""``finetune merge``: fold a stage's adapter (and every adapter beneath it, e.g. DPO on SFT) into the base.

The result is a plain ``Gemma3ForCausalLM`` directory with the tokenizer and the SentencePiece
``tokenizer.model`` that the GGUF export needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from interpreters.checkpoints import adapter_chain, load_merged, load_tokenizer
from teacher.provenance import PROVENANCE_FILE

__all__ = ["merge"]


def merge(model: Path, out: Path) -> Path:
    """Write the fully merged model of ``model`` (an adapter, a stack of adapters, or a full model) to ``out``."""
    base, _ = adapter_chain(model)
    merged = load_merged(model, "fp32")
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    merged.save_pretrained(partial)
    load_tokenizer(model).save_pretrained(partial)
    for source in (model, base):
        if (source / "tokenizer.model").is_file():
            shutil.copy2(source / "tokenizer.model", partial / "tokenizer.model")
            break
    if (model / PROVENANCE_FILE).is_file():  # the profile and versions travel on to the GGUF
        shutil.copy2(model / PROVENANCE_FILE, partial / PROVENANCE_FILE)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out
