"""The completion-only loss that runs the output layer only at labelled positions equals transformers' own loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="the finetune extra is not installed: pip install -e '.[finetune]'")


def _model(softcap: float | None = None) -> object:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from finetune.tiny import functiongemma_270m_config

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        **{
            **functiongemma_270m_config(512),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "layer_types": ["sliding_attention", "full_attention"],
            "final_logit_softcapping": softcap,
        }
    )
    config._attn_implementation = "eager"
    return Gemma3ForCausalLM(config)


@pytest.mark.parametrize("softcap", [None, 30.0])
def test_labelled_loss_and_its_gradients_equal_the_full_logits_loss(softcap: float | None) -> None:
    from finetune.sft import labelled_loss

    model = _model(softcap)
    ids = torch.randint(4, 512, (3, 40))
    labels = ids.clone()
    labels[0, :25] = -100  # prompts of different lengths; padding at the end of the last row
    labels[1, :10] = -100
    labels[2, :30] = -100
    labels[2, 36:] = -100
    mask = torch.ones_like(ids)
    mask[2, 36:] = 0
    expected = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    expected.backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    loss, logits, targets = labelled_loss(model, hidden, labels)
    assert logits.shape == (int((labels[:, 1:] != -100).sum()), 512)  # only labelled positions were projected
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    for name, grad in reference.items():
        assert torch.allclose(dict(model.named_parameters())[name].grad, grad, atol=1e-6), name
    # with the trainer's count of items the sum is divided by it, as transformers does
    summed, _, _ = labelled_loss(model, hidden.detach(), labels, num_items=100)
    assert torch.allclose(summed * 100, loss.detach() * len(targets), atol=1e-4)


def _trainer(tmp_path: Path, slots: list[int] | None) -> object:
    from finetune.sft import SftSettings, prepare_sft
    from finetune.tiny import TinySpec, build_tiny_model, default_corpus
    from finetune.train import BASE_MARKER

    base = build_tiny_model(tmp_path / "base", TinySpec(vocab_size=512, hidden_size=32), default_corpus(400))
    if slots is not None:
        (base / BASE_MARKER).write_text(json.dumps({"control_tokens_in_unused_slots": slots}))
    data = tmp_path / "train.jsonl"
    with data.open("w") as out:
        for number, sample in enumerate(default_corpus(8)):
            row = {"prompt": "<bos>" + sample[:200], "completion": f"answer {number}<end_of_turn>"}
            out.write(json.dumps(row) + "\n")
    settings = SftSettings(base=str(base), data=str(data), out=str(tmp_path / "out"), precision="fp32",
                           batch_size=4, eval_examples=0, max_steps=1, lora_dropout=0.0)
    trainer, _ = prepare_sft(settings)
    return trainer


def test_the_fast_trainer_loss_equals_trls_default_path(tmp_path: Path) -> None:
    from trl import SFTTrainer

    trainer: Any = _trainer(tmp_path, None)
    assert not trainer.args.gradient_checkpointing
    batch = next(iter(trainer.get_train_dataloader()))
    fast = trainer.compute_loss(trainer.model, dict(batch))
    trl = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
    assert torch.allclose(fast, trl, atol=1e-5)
    assert trainer._metrics["train"]["num_tokens"] == [2 * int(batch["attention_mask"].sum())]


def test_control_rows_from_unused_slots_train(tmp_path: Path) -> None:
    trainer: Any = _trainer(tmp_path, [5, 6])
    trainable = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    rows = [n for n in trainable if "trainable_tokens" in n]
    assert rows and any("lora_A" in n for n in trainable)
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.compute_loss(trainer.model, dict(batch)).backward()
    assert all(trainable[n].grad is not None for n in rows)
    assert all(trainable[n].shape[0] == 2 for n in rows)  # the two marked rows, not the whole embedding
