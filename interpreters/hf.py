"""The student as a transformers checkpoint: a model folder from ``finetune`` (adapters merged in), run in-process.

The prompt is the codec's rendering of the student's conversation (``teacher.model.student_prompt``) in the
profile the model folder records (``functiongemma_provenance.json``; none recorded: ``hf``), byte-identical to its
training text. Decoding is greedy and stops at ``<eos>`` and FunctionGemma's stop tokens; the output, control
tokens included, is parsed by the codec and validated by the task. torch and transformers are imported on first
use, so importing this module costs nothing; they come with the ``finetune`` extra.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.functiongemma import BOS, STOP_SEQUENCES, Profile
from interpreters.checkpoints import ModelError, check_model_dir, load_merged, load_tokenizer
from interpreters.llamacpp import Completion, completion_reply
from teacher.model import ModelBackend, ModelReply, ModelRequest, student_prompt
from teacher.operations import OperationFailed
from teacher.provenance import model_profile

__all__ = ["HfModel", "HfModelMissing"]


class HfModelMissing(OperationFailed):
    """The model folder is not a saved model (or the finetune extra is missing); the message says what to do."""

    fatal = True


@dataclass
class HfModel(ModelBackend):
    """A model backend decoding greedily with a transformers checkpoint; ``model_dir`` is loaded on first use."""

    model_dir: Path
    max_tokens: int = 256
    #: the codec profile of the prompts; None: the one the model folder records, else ``hf``
    profile: Profile | None = None
    precision: str = "fp32"
    #: ``cuda`` when a GPU is there, else ``cpu``; give one to choose
    device: str | None = None

    def __post_init__(self) -> None:
        self.model_dir = Path(self.model_dir)
        try:
            self.model_dir = check_model_dir(self.model_dir, "model")
        except ModelError as error:
            raise HfModelMissing(str(error)) from None
        if self.profile is None:
            self.profile = model_profile(self.model_dir) or "hf"  # type: ignore[assignment]
        self._loaded: tuple[Any, Any, list[int]] | None = None

    def load(self) -> tuple[Any, Any, list[int]]:
        """The tokenizer, the model (on its device) and the token ids that end a completion; loaded once."""
        if self._loaded is None:
            try:
                import torch
            except ImportError:
                raise HfModelMissing("torch or transformers is missing: pip install -e '.[finetune]'") from None
            tokenizer = load_tokenizer(self.model_dir)
            model = load_merged(self.model_dir, self.precision)  # type: ignore[arg-type]
            self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(self.device).eval()
            stops = [tokenizer.eos_token_id] + [tokenizer.convert_tokens_to_ids(token) for token in STOP_SEQUENCES]
            self._loaded = (tokenizer, model, stops)
        return self._loaded

    def complete_text(self, prompt: str) -> Completion:
        """The greedy completion of FunctionGemma text (control tokens kept, ``<eos>`` dropped)."""
        import torch

        tokenizer, model, stops = self.load()
        started = time.perf_counter()
        ids = tokenizer(prompt.removeprefix(BOS), return_tensors="pt").input_ids.to(self.device)  # it adds the BOS
        with torch.no_grad():
            out = model.generate(
                ids,
                max_new_tokens=self.max_tokens,
                do_sample=False,
                eos_token_id=stops,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        stopped = "max_tokens"
        if new and new[-1] in stops:
            stopped = "eos" if new[-1] == tokenizer.eos_token_id else tokenizer.convert_ids_to_tokens(new[-1])
            if new[-1] == tokenizer.eos_token_id:
                new = new[:-1]
        text = tokenizer.decode(new, skip_special_tokens=False)
        return Completion(text, time.perf_counter() - started, ids.shape[1], len(new), stopped)

    async def complete(self, request: ModelRequest) -> ModelReply:
        prompt = student_prompt(request, self.profile or "hf")
        return completion_reply(self.complete_text(prompt), prompt)
