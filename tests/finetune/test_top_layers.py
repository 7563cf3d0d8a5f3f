"""``--train-layers K`` on a tiny Gemma 3: the top K layers train, the rest is frozen, and the activation cache
gives the loss and gradients of the plain forward while running the frozen layers once per example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the finetune extra is not installed: pip install -e '.[finetune]'")

LAYERS = 4


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finetune.tiny import TinySpec, build_tiny_model, default_corpus

    spec = TinySpec(vocab_size=512, hidden_size=32, layers=LAYERS)
    return build_tiny_model(tmp_path_factory.mktemp("tiny4") / "base", spec, default_corpus(400))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finetune.tiny import default_corpus

    path = tmp_path_factory.mktemp("rows") / "train.jsonl"
    with path.open("w") as out:
        for number, sample in enumerate(default_corpus(8)[:8]):  # prompts of different lengths: padded batches
            row = {"prompt": "<bos>" + sample[: 60 + 25 * number], "completion": f"answer {number}<end_of_turn>"}
            out.write(json.dumps(row) + "\n")
    return path


def _settings(base: Path, data: Path, out: Path, **extra: Any) -> Any:
    from finetune.sft import SftSettings

    values: dict[str, Any] = {"base": str(base), "data": str(data), "out": str(out), "precision": "fp32",
                              "batch_size": 4, "eval_examples": 0, "max_steps": 1, "lora_dropout": 0.0,
                              "learning_rate": 1e-2, "save_steps": 1000, "logging_steps": 1}
    return SftSettings(**{**values, **extra})


def _loss_and_grads(trainer: Any, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    trainer.model.zero_grad()
    return loss.detach(), grads


@pytest.mark.parametrize("lora", [True, False])
def test_the_cached_top_layers_give_the_plain_loss_and_gradients(
    base: Path, data: Path, tmp_path: Path, lora: bool
) -> None:
    from finetune.sft import prepare_sft

    trainer, _ = prepare_sft(_settings(base, data, tmp_path, lora=lora, train_layers=2))
    trainer.model.train()
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all(".layers.2." in n or ".layers.3." in n or n.endswith("model.norm.weight")
                             for n in trainable), trainable
    assert any(".layers.2." in n for n in trainable) and any(".layers.3." in n for n in trainable)
    assert any("lora_" in n for n in trainable) == lora
    cache = trainer.activation_cache
    assert cache is not None and cache.start == 2
    first, second = list(trainer.get_train_dataloader())[:2]
    assert bool((first["attention_mask"] == 0).any())  # padded: the cache must place rows by their real tokens

    # one optimizer step through the cache, so that the adapter (or the top layers) differ from the base
    trainer.create_optimizer()
    trainer.compute_loss(trainer.model, dict(first)).backward()
    trainer.optimizer.step()
    trainer.model.zero_grad()

    decoder = trainer.model.get_base_model().model if lora else trainer.model.model
    bottom_runs: list[int] = []
    hook = decoder.layers[0].register_forward_hook(lambda *_: bottom_runs.append(1))
    cached, cached_grads = _loss_and_grads(trainer, second)
    again, _ = _loss_and_grads(trainer, second)
    assert len(bottom_runs) == 1  # the frozen layers ran once for this batch, then came from the cache
    assert cache.computed == 8 and cache.reused == 4  # each batch computed once; the second batch read back once
    trainer.activation_cache = None  # the plain forward through every layer (the bottom frozen all the same)
    plain, plain_grads = _loss_and_grads(trainer, second)
    hook.remove()
    assert len(bottom_runs) == 2
    assert torch.allclose(cached, plain, atol=1e-5) and torch.allclose(again, plain, atol=1e-5)
    assert cached_grads.keys() == plain_grads.keys() and set(plain_grads) <= set(trainable)
    for name, grad in plain_grads.items():
        assert torch.allclose(cached_grads[name], grad, atol=1e-5), name
    assert any(bool(g.abs().sum() > 0) for g in plain_grads.values())


def test_the_cache_is_written_once_and_reused_by_every_later_epoch_and_run(
    base: Path, data: Path, tmp_path: Path
) -> None:
    from finetune.sft import run_sft

    run_sft(_settings(base, data, tmp_path, train_layers=1, max_steps=-1, epochs=3))
    summary = json.loads((tmp_path / "training.json").read_text())
    recipe = summary["recipe"]
    assert summary["global_steps"] == 6
    assert recipe["activation_cache"]["computed"] == 8  # each example once, in the first epoch
    assert recipe["activation_cache"]["reused"] == 16  # and read back in the two later ones
    assert recipe["activation_cache"]["files"] == 8
    assert recipe["trained_layers"] == [3, 3] and recipe["method"] == "lora"
    assert 0 < recipe["trainable_parameters"] < recipe["total_parameters"]
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "activations" / "from-layer-3").glob("*.pt")}
    run_sft(_settings(base, data, tmp_path, train_layers=1, max_steps=2, resume=False))  # a new run, same OUT
    again = json.loads((tmp_path / "training.json").read_text())["recipe"]["activation_cache"]
    assert (again["computed"], again["reused"]) == (0, 8)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "activations" / "from-layer-3").glob("*.pt")} == files


def test_too_many_layers_and_a_missing_gpu_are_one_line_errors(base: Path, data: Path, tmp_path: Path) -> None:
    from finetune.config import ConfigError
    from finetune.sft import prepare_sft

    with pytest.raises(ConfigError, match=f"--train-layers 5: the model has {LAYERS} decoder layers"):
        prepare_sft(_settings(base, data, tmp_path, train_layers=5))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="--device cuda: no CUDA GPU"):
            prepare_sft(_settings(base, data, tmp_path, device="cuda"))
