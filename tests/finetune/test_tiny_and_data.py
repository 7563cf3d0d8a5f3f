"""The tiny model factory's tokenizer guard, the dataset reader's errors and the YAML/flag configuration."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from converters.examples import DatasetError, load_examples
from converters.functiongemma import CONTROL_TOKENS
from finetune.config import ConfigError, add_arguments, resolve
from finetune.sft import SftSettings
from finetune.tiny import TokenizerCheckError, check_tokenizer
from tests.conftest import REPO


def test_the_tiny_tokenizer_has_single_control_tokens_and_round_trips(tiny_base: Path, tiny_data: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )
    for token in CONTROL_TOKENS:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    texts = [e.prompt + e.completion for e in load_examples(tiny_data / "eval.jsonl")]
    check_tokenizer(tokenizer, texts)  # held-out text: byte fallback keeps it exact
    config = AutoConfig.from_pretrained(tiny_base)
    assert config.model_type == "gemma3_text" and config.architectures == ["Gemma3ForCausalLM"]
    assert config.vocab_size == len(tokenizer)


def test_the_guard_refuses_a_tokenizer_that_would_train_on_unk() -> None:
    from transformers import GemmaTokenizer

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "a": 4}
    plain = GemmaTokenizer(vocab=vocab, merges=[], mask_token=None)
    with pytest.raises(TokenizerCheckError, match="is not a single token"):
        check_tokenizer(plain, ["a"])
    plain.add_special_tokens({"additional_special_tokens": list(CONTROL_TOKENS)})
    with pytest.raises(TokenizerCheckError, match=r"example 2: <unk> at token"):
        check_tokenizer(plain, ["a", "ab"], source="train.jsonl")


def test_bad_dataset_lines_name_file_line_and_field(tmp_path: Path) -> None:
    good = {"prompt": "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n", "completion": "x"}
    cases = {
        "{not json": "2: not valid JSON",
        json.dumps({"prompt": "p"}): "2: field 'completion' is missing",
        json.dumps(
            {"messages": [{"role": "user", "content": "q"}]}
        ): "2: field 'messages' must be a list of at least two",
        json.dumps({"text": "no model turn"}): "2: field 'text' must be FunctionGemma text",
        json.dumps({"other": 1}): "2: no 'messages', 'prompt'/'completion' or 'text' field",
        json.dumps({**good, "task": 3}): "2: field 'task' must be a string",
    }
    for line, message in cases.items():
        path = tmp_path / "train.jsonl"
        path.write_text(json.dumps(good) + "\n" + line + "\n", encoding="utf-8")
        with pytest.raises(DatasetError, match=f"^{path}:" + message.replace("(", r"\(")):
            load_examples(path)


def test_sft_reports_a_bad_line_and_a_missing_base_in_one_line_before_training(tmp_path: Path, tiny_base: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n', encoding="utf-8")
    run = [sys.executable, "-m", "finetune", "sft", "--data", str(data), "--out", str(tmp_path / "out")]
    done = subprocess.run([*run, "--base", str(tiny_base)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"finetune sft: {data / 'train.jsonl'}:2: field 'completion' is missing or not a non-empty string"
    )
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written
    done = subprocess.run(
        [*run, "--base", str(tmp_path / "nope")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"finetune sft: base model {tmp_path / 'nope'} not found (give a directory from `python -m finetune tiny` "
        "or real weights)"
    )


def test_flags_override_the_yaml_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text("base: b\ndata: d\nout: o\nlora-r: 4\nlearning_rate: 0.01\ntarget_modules: [q_proj, v_proj]\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser, SftSettings)
    settings = resolve(SftSettings, parser.parse_args(["--config", str(config), "--lora-r", "8", "--no-lora"]))
    assert (settings.lora_r, settings.learning_rate, settings.lora, settings.epochs) == (8, 0.01, False, 3.0)
    assert settings.target_modules == ["q_proj", "v_proj"]
    config.write_text("base: b\ndata: d\nout: o\nlora_rank: 4\n")
    with pytest.raises(ConfigError, match=f"{config}: unknown key 'lora_rank'"):
        resolve(SftSettings, parser.parse_args(["--config", str(config)]))
    config.write_text("base: b\ndata: d\nout: o\nepochs: many\n")
    with pytest.raises(ConfigError, match="key 'epochs': expected a number"):
        resolve(SftSettings, parser.parse_args(["--config", str(config)]))
    with pytest.raises(ConfigError, match=r"missing setting.*--base"):
        resolve(SftSettings, parser.parse_args(["--data", "d", "--out", "o"]))
