"""Greedy completions of FunctionGemma prompts by a Hugging Face checkpoint or a GGUF, with the same interface.

Evaluation and DPO mining run every artifact through :class:`Generator`: the prompt is the dataset's rendered
text, decoding is greedy and stops at ``<eos>`` or FunctionGemma's stop tokens, and the output keeps its
control tokens so the codec can parse it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from finetune.models import ModelError
from interpreters.llamacpp import Completion, greedy_completion

__all__ = ["Completion", "Generator", "GgufGenerator", "HfGenerator", "open_generator"]


class Generator(Protocol):
    """Anything that completes a prompt greedily."""

    name: str

    def complete(self, prompt: str) -> Completion:
        """The model's completion of ``prompt`` (FunctionGemma text, control tokens kept)."""
        ...


class HfGenerator:
    """A transformers checkpoint (adapters merged), decoding greedily on the CPU or the GPU
    (:class:`interpreters.hf.HfModel`'s decoding)."""

    def __init__(self, path: Path, max_tokens: int = 256, precision: str = "fp32") -> None:
        from interpreters.hf import HfModel, HfModelMissing

        self.name = str(path)
        self.max_tokens = max_tokens
        try:
            self.backend = HfModel(path, max_tokens, precision=precision)
        except HfModelMissing as error:
            raise ModelError(str(error)) from None
        self.backend.load()  # now, as before: a broken checkpoint fails here, not mid-run

    def complete(self, prompt: str) -> Completion:
        return self.backend.complete_text(prompt)


class GgufGenerator:
    """A GGUF run in-process by llama.cpp: the production student's decoding."""

    def __init__(self, path: Path, max_tokens: int = 256, n_ctx: int = 0) -> None:
        if not path.is_file():
            raise ModelError(f"GGUF {path} not found (make one with `python -m finetune export`)")
        from interpreters.llamacpp import open_llama

        self.name = str(path)
        self.max_tokens = max_tokens
        self.llm: Any = open_llama(path, n_ctx=n_ctx)

    def complete(self, prompt: str) -> Completion:
        return greedy_completion(self.llm, prompt, self.max_tokens)


def open_generator(path: Path, max_tokens: int = 256) -> Generator:
    """A GGUF generator for a ``.gguf`` file, else a transformers one for a model directory."""
    if path.suffix == ".gguf":
        return GgufGenerator(path, max_tokens)
    return HfGenerator(path, max_tokens)
