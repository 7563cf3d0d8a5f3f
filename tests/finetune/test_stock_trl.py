"""The datasets the project writes load with ``datasets`` and train with stock TRL, in every format.

The data is the quickstart's: its heuristic-teacher recordings of the sample repository (``tiny_data``),
rebuilt once per format into its own folder. Mixed tasks and both splits load as one Arrow schema (``tools`` and
``input`` are JSON strings); a stock ``trl.SFTTrainer`` takes one optimiser step on the tiny model from each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import BOS

datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl")

FORMATS = ("messages", "prompt-completion", "text")


@pytest.fixture(scope="module")
def folders(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from converters.rebuild import Options, rebuild

    root = tmp_path_factory.mktemp("formats")
    out = {}
    for format in FORMATS:
        out[format] = root / format
        rebuild([tiny_data.parent / "recordings"], Options(out=out[format], format=format,  # type: ignore[arg-type]
                                                          with_inputs=True, split=0.8))
    return out


def _load(folder: Path, cache: Path) -> Any:
    files = {split: str(folder / f"{split}.jsonl") for split in ("train", "eval")}
    return datasets.load_dataset("json", data_files=files, cache_dir=str(cache))


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_loads_with_datasets_mixed_tasks_both_splits(
    folders: dict[str, Path], format: str, tmp_path: Path
) -> None:
    loaded = _load(folders[format], tmp_path)
    stats = json.loads((folders[format] / "stats.json").read_text())
    assert {split: loaded[split].num_rows for split in ("train", "eval")} == {"train": stats["train"],
                                                                            "eval": stats["eval"]}
    assert stats["eval"] > 0
    assert len(set(loaded["train"]["task"])) >= 2 and len(set(loaded["eval"]["task"])) >= 2  # mixed tasks
    column = "text" if format == "text" else "prompt" if format == "prompt-completion" else None
    if column is not None:
        assert not any(value.startswith(BOS) for split in ("train", "eval") for value in loaded[split][column])
    else:
        assert all(isinstance(json.loads(tools), list) for tools in loaded["train"]["tools"])
    # the folder alone: one format per folder, the eval split found by its name
    whole = datasets.load_dataset(str(folders[format]), cache_dir=str(tmp_path / "folder"))
    assert whole["train"].num_rows == stats["train"]


@pytest.mark.parametrize("format", FORMATS)
def test_stock_trl_sft_trainer_takes_a_step_on_every_format(
    folders: dict[str, Path], tiny_base: Path, format: str, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from converters.functiongemma import render_prompt

    loaded = _load(folders[format], tmp_path / "cache")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    if format == "messages":
        # Tool-call arguments stay JSON strings (OpenAI's form, one Arrow type for every task), which no Jinja chat
        # template can parse: these rows become text through the codec (one map) before stock TRL reads them.
        def codec_text(row: dict[str, Any]) -> dict[str, str]:
            text = render_prompt(row["messages"], json.loads(row["tools"]), add_generation_prompt=False)
            return {"text": text.removeprefix(BOS)}

        loaded = loaded.map(codec_text, remove_columns=["messages", "tools"])
    config = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2,
                           report_to="none", use_cpu=True, logging_steps=1, save_strategy="no",
                           dataset_num_proc=None)
    trainer = trl.SFTTrainer(model=model, args=config, train_dataset=loaded["train"], eval_dataset=loaded["eval"],
                             processing_class=tokenizer)
    first = trainer.train_dataset[0]["input_ids"]
    assert first[0] == tokenizer.bos_token_id and tokenizer.bos_token_id not in first[1:]  # exactly one BOS
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0
    assert trainer.evaluate()["eval_loss"] > 0
