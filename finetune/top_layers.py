"""Training only the top K decoder layers (``finetune sft --train-layers K``), AutoFreeze-style.

The embedding and the layers below the first trained one are frozen (a LoRA adapter goes on the top K layers
only; a full fine-tune trains the top K layers and the final norm). The output layer is tied to the input
embedding in Gemma 3, so it stays frozen too, and with it the control tokens' rows: a row that changed would make
the cached inputs stale.

Frozen layers give every example the same hidden states entering the first trained layer, so they are computed
once per example (a forward pass that stops there, no gradient) and kept on disk under
``OUT/activations/from-layer-N/``, one file per example keyed by its tokens (:mod:`finetune.sequences`): every
later epoch, and a resumed run, reads them instead of running the bottom of the model. The rest of what the top
layers need (the attention masks, the rotary position embeddings) is cheap and is computed per batch by the
model's own forward, which is given the cached states as ``inputs_embeds`` with only the top layers in place.
Batches must be right-padded (TRL's collator pads on the right), so that positions count from 0 as in the
uncached forward.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetune.config import ConfigError
from finetune.sequences import batch_rows
from teacher.errors import FineTrainingError

__all__ = ["ActivationCache", "decoder_of", "freeze_below", "layer_count", "layer_linears"]


class _Reached(FineTrainingError):
    """Raised by the hook on the first trained layer: the frozen part's work is done (a signal the cache catches,
    never seen outside; it derives from the library's root like every exception the library defines)."""


def decoder_of(causal_lm: Any) -> Any:
    """The decoder (embedding, layers, final norm) of a causal language model."""
    return getattr(causal_lm, causal_lm.base_model_prefix)


def layer_count(causal_lm: Any) -> int:
    """How many decoder layers the model has."""
    return len(decoder_of(causal_lm).layers)


def layer_linears(causal_lm: Any) -> list[str]:
    """The names of a decoder layer's linear modules (``q_proj``, ..., ``down_proj`` for Gemma 3)."""
    import torch

    layer = decoder_of(causal_lm).layers[0]
    return sorted({name.rsplit(".", 1)[-1] for name, module in layer.named_modules()
                   if isinstance(module, torch.nn.Linear)})


def freeze_below(causal_lm: Any, start: int) -> None:
    """For a full fine-tune of the layers from ``start`` up: every other weight stops learning (the output layer
    learns only when it is not tied to the input embedding)."""
    decoder = decoder_of(causal_lm)
    trained = {id(p) for module in (*decoder.layers[start:], decoder.norm) for p in module.parameters()}
    head = causal_lm.get_output_embeddings()
    embedding = causal_lm.get_input_embeddings()
    if head is not None and head.weight is not embedding.weight:
        trained |= {id(p) for p in head.parameters()}
    for parameter in causal_lm.parameters():
        parameter.requires_grad_(id(parameter) in trained)


class ActivationCache:
    """The hidden states entering layer ``start``, per example, on disk in ``folder``; counts what it computed
    and what it read back."""

    def __init__(self, folder: Path, start: int, identity: dict[str, Any]) -> None:
        self.folder = folder
        self.start = start
        self.computed = 0
        self.reused = 0
        folder.mkdir(parents=True, exist_ok=True)
        manifest = folder / "cache.json"
        recorded = {"start_layer": start, **identity}
        if manifest.is_file():
            found = json.loads(manifest.read_text(encoding="utf-8"))
            if found != recorded:
                raise ConfigError(f"{manifest}: the cache holds {found}, this run needs {recorded}; "
                                  f"delete {folder} or use another --out")
        else:
            manifest.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")

    def stats(self) -> dict[str, Any]:
        """What training.json records of the cache."""
        return {"folder": str(self.folder), "start_layer": self.start, "computed": self.computed,
                "reused": self.reused, "files": sum(1 for _ in self.folder.glob("*.pt"))}

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def hidden_states(self, decoder: Any, input_ids: Any, attention_mask: Any) -> Any:
        """The batch's hidden states entering layer ``start`` (padding positions zero): read from disk, or computed
        for the examples not seen yet (in one forward pass that stops at that layer) and written."""
        import torch

        rows = list(batch_rows(input_ids, attention_mask))
        for _, _, where in rows:
            if len(where) and int(where[-1]) != len(where) - 1:
                raise ValueError("the activation cache needs right-padded batches (real tokens first in each row)")
        found: dict[int, Any] = {}
        missing = []
        for row, key, where in rows:
            path = self._path(key)
            if path.is_file():
                found[row] = torch.load(path, map_location=input_ids.device, weights_only=True)
                self.reused += 1
            else:
                missing.append((row, key, where))
        if missing:
            indexes = [row for row, _, _ in missing]
            length = max(len(where) for _, _, where in missing)
            computed = self._bottom(decoder, input_ids[indexes, :length], attention_mask[indexes, :length])
            for position, (row, key, where) in enumerate(missing):
                states = computed[position, : len(where)].clone()
                partial = self._path(key).with_suffix(f".{os.getpid()}.partial")  # processes may share OUT
                torch.save(states, partial)
                os.replace(partial, self._path(key))
                found[row] = states
                self.computed += 1
        width = next(iter(found.values())).shape[-1]
        dtype = next(iter(found.values())).dtype
        batch = torch.zeros((*input_ids.shape, width), dtype=dtype, device=input_ids.device)
        for row, _, where in rows:
            batch[row, where] = found[row]
        return batch

    def _bottom(self, decoder: Any, input_ids: Any, attention_mask: Any) -> Any:
        """Run the frozen part of the decoder on a batch, stopping as the first trained layer is entered."""
        import torch

        kept: list[Any] = []

        def stop(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            kept.append(args[0] if args else kwargs["hidden_states"])
            raise _Reached

        hook = decoder.layers[self.start].register_forward_pre_hook(stop, with_kwargs=True)
        try:
            with torch.no_grad(), contextlib.suppress(_Reached):
                decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        finally:
            hook.remove()
        if not kept:
            raise RuntimeError(f"layer {self.start} was never reached by the decoder's forward")
        return kept[0].detach()

    @contextlib.contextmanager
    def top_only(self, decoder: Any) -> Iterator[None]:
        """The decoder with only the trained layers in place (its forward then starts at layer ``start``); the
        configuration's per-layer attention types are cut the same way, since the forward pairs them by index."""
        import torch

        layers = decoder.layers
        types = getattr(decoder.config, "layer_types", None)
        decoder.layers = torch.nn.ModuleList(list(layers)[self.start :])
        if types is not None:
            decoder.config.layer_types = list(types)[self.start :]
        try:
            yield
        finally:
            decoder.layers = layers
            if types is not None:
                decoder.config.layer_types = types
