"""Greedy completions of FunctionGemma prompts by a Hugging Face checkpoint or a GGUF, with the same interface.

Evaluation and DPO mining run every artifact through :class:`Generator`: the prompt is the dataset's rendered
text, decoding is greedy and stops at ``<eos>`` or FunctionGemma's stop tokens, and the output keeps its
control tokens so the codec can parse it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from converters.functiongemma import BOS, STOP_SEQUENCES
from finetune.models import ModelError, load_merged, load_tokenizer
from interpreters.llamacpp import Completion, greedy_completion

__all__ = ["Completion", "Generator", "GgufGenerator", "HfGenerator", "open_generator"]


class Generator(Protocol):
    """Anything that completes a prompt greedily."""

    name: str

    def complete(self, prompt: str) -> Completion:
        """The model's completion of ``prompt`` (FunctionGemma text, control tokens kept)."""
        ...


class HfGenerator:
    """A transformers checkpoint (adapters merged), decoding greedily on the CPU or the GPU."""

    def __init__(self, path: Path, max_tokens: int = 256, precision: str = "fp32") -> None:
        import torch

        self.name = str(path)
        self.max_tokens = max_tokens
        self.tokenizer = load_tokenizer(path)
        self.model = load_merged(path, precision)  # type: ignore[arg-type]
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.stop_ids = [self.tokenizer.eos_token_id] + [
            self.tokenizer.convert_tokens_to_ids(token) for token in STOP_SEQUENCES
        ]

    def complete(self, prompt: str) -> Completion:
        import torch

        started = time.perf_counter()
        ids = self.tokenizer(prompt.removeprefix(BOS), return_tensors="pt").input_ids.to(self.device)
        with torch.no_grad():
            out = self.model.generate(
                ids,
                max_new_tokens=self.max_tokens,
                do_sample=False,
                eos_token_id=self.stop_ids,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        stopped = "max_tokens"
        if new and new[-1] in self.stop_ids:
            stopped = "eos" if new[-1] == self.tokenizer.eos_token_id else self.tokenizer.convert_ids_to_tokens(new[-1])
            if new[-1] == self.tokenizer.eos_token_id:
                new = new[:-1]
        text = self.tokenizer.decode(new, skip_special_tokens=False)
        return Completion(text, time.perf_counter() - started, ids.shape[1], len(new), stopped)


class GgufGenerator:
    """A GGUF run in-process by llama.cpp: the production student's decoding."""

    def __init__(self, path: Path, max_tokens: int = 256, n_ctx: int = 0) -> None:
        if not path.is_file():
            raise ModelError(f"GGUF {path} not found (make one with `python -m finetune export`)")
        import llama_cpp

        self.name = str(path)
        self.max_tokens = max_tokens
        self.llm: Any = llama_cpp.Llama(str(path), n_ctx=n_ctx, verbose=False)

    def complete(self, prompt: str) -> Completion:
        return greedy_completion(self.llm, prompt, self.max_tokens)


def open_generator(path: Path, max_tokens: int = 256) -> Generator:
    """A GGUF generator for a ``.gguf`` file, else a transformers one for a model directory."""
    if path.suffix == ".gguf":
        return GgufGenerator(path, max_tokens)
    return HfGenerator(path, max_tokens)
