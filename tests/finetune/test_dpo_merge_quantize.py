"""DPO pairs from the model's own mistakes, DPO on the SFT adapter, merging the stack, quantizing, the Modelfile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from converters.examples import load_examples
from converters.functiongemma import completion_terminator, render_call, split_output
from finetune.dpo import DpoSettings, mine_pairs, prepare_dpo, run_dpo
from finetune.modelfile import modelfile_text, write_modelfile
from finetune.quantize import QuantizeError, quantize
from interpreters.llamacpp import Completion
from tests.conftest import REPO


class Scripted:
    """A generator double that answers each prompt with a fixed text."""

    name = "scripted"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def complete_text(self, prompt: str) -> Completion:
        return Completion(self.answers[prompt], 0.0, 1, 1, "eos")


def test_pairs_are_the_models_wrong_and_invalid_answers_only(tiny_data: Path) -> None:
    examples = [e for e in load_examples(tiny_data / "train.jsonl") if e.task == "score_edge"][:5]
    right = examples[0].completion
    call = split_output(examples[1].completion)[0][0]
    changed = {**call.arguments, "relevance": 1 if call.arguments["relevance"] != 1 else 2}
    wrong = render_call(call.name, changed) + completion_terminator()  # valid, but not the teacher's answer
    answers = {
        examples[0].prompt: right,  # correct: no pair
        examples[1].prompt: wrong,  # a different typed answer
        examples[2].prompt: "<start_function_call>call:score_edge{relevance:9",  # does not parse
        examples[3].prompt: "   ",  # empty
        examples[4].prompt: "<start_function_call>call:score_edge{relevance:99}<end_function_call>",  # refused
    }
    pairs, counts = mine_pairs(Scripted(answers), examples, limit=5)
    assert counts == {"correct": 1, "wrong": 1, "invalid": 2, "skipped_empty": 1}
    assert {p["rejected"] for p in pairs} == {answers[e.prompt] for e in examples[1:3]} | {answers[examples[4].prompt]}
    assert all(p["chosen"] == next(e.completion for e in examples if e.prompt == p["prompt"]) for p in pairs)


@pytest.fixture(scope="module")
def lora_sft(tiny_sft: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter trained on the SFT model (so DPO then stacks a second adapter)."""
    from finetune.sft import SftSettings, run_sft

    out = tmp_path_factory.mktemp("lora-sft")
    run_sft(SftSettings(base=str(tiny_sft / "model"), data=str(tiny_data), out=str(out), lora=True, lora_r=4,
                        max_steps=3, batch_size=2, save_steps=100, eval_examples=0, learning_rate=1e-3))
    return out / "model"


def test_dpo_trains_an_adapter_on_the_sft_adapter_and_merge_folds_both(
    lora_sft: Path, tiny_data: Path, tmp_path: Path
) -> None:
    import torch

    from finetune.merge import merge
    from interpreters.checkpoints import adapter_chain, load_merged

    settings = DpoSettings(base=str(lora_sft), data=str(tiny_data), out=str(tmp_path / "dpo"), lora_r=4,
                           mine_examples=12, max_new_tokens=60, max_steps=2, batch_size=2, save_steps=100,
                           learning_rate=1e-2, beta=0.2, loss_type="ipo")
    trainer, counts = prepare_dpo(settings)
    assert counts["pairs"] == sum(counts["mining"].get(k, 0) for k in ("wrong", "invalid")) > 0
    tokenizer = trainer.processing_class
    row = trainer.train_dataset[0]
    assert row["prompt_ids"][0] == tokenizer.bos_token_id and tokenizer.bos_token_id not in row["prompt_ids"][1:]
    assert row["chosen_ids"][-1] == row["rejected_ids"][-1] == tokenizer.eos_token_id
    assert trainer.args.beta == 0.2 and trainer.args.loss_type == ["ipo"]
    model = run_dpo(settings)
    assert model is not None
    base, adapters = adapter_chain(model)
    assert adapters == [lora_sft, model] and (base / "config.json").is_file()
    merged = merge(model, tmp_path / "merged")
    assert not (merged / "adapter_config.json").exists() and (merged / "tokenizer.model").is_file()
    ids = torch.tensor([tokenizer.encode(load_examples(tiny_data / "eval.jsonl")[0].prompt, add_special_tokens=False)])
    with torch.no_grad():
        stacked = load_merged(model)(ids).logits
        folded = load_merged(merged)(ids).logits
        sft_only = load_merged(lora_sft)(ids).logits
    assert torch.allclose(stacked, folded, atol=1e-4)
    assert not torch.allclose(folded, sft_only, atol=1e-4)  # the DPO adapter changed the model


def test_no_pairs_means_no_dpo_training(tmp_path: Path, tiny_sft: Path, tiny_data: Path) -> None:
    out = tmp_path / "dpo"
    out.mkdir()
    (out / "pairs.jsonl").write_text("")
    (out / "pairs.counts.json").write_text(json.dumps({"correct": 7}))
    settings = DpoSettings(base=str(tiny_sft / "model"), data=str(tiny_data), out=str(out))
    assert run_dpo(settings) is None
    assert "skipped" in json.loads((out / "training.json").read_text())


def test_quantized_ggufs_load_and_answer_in_llama_cpp(tiny_sft: Path, tiny_data: Path, tmp_path: Path) -> None:
    from finetune.export import export_gguf
    from finetune.merge import merge
    from interpreters.llamacpp import LlamaCppStudent

    f16 = export_gguf(merge(tiny_sft / "model", tmp_path / "merged"), tmp_path / "m-f16.gguf")
    prompt = load_examples(tiny_data / "eval.jsonl")[0].prompt
    for kind in ("q8_0", "q4_k_m"):
        gguf = quantize(f16, tmp_path / f"m-{kind}.gguf", kind)
        assert gguf.read_bytes()[:4] == b"GGUF" and gguf.stat().st_size < f16.stat().st_size
        text = LlamaCppStudent(gguf, n_ctx=0, max_tokens=80).complete_text(prompt).text
        assert text.startswith("<start_function_call>call:"), (kind, text)
    with pytest.raises(QuantizeError, match="unknown quantization type 'q9'"):
        quantize(f16, tmp_path / "x.gguf", "q9")
    done = subprocess.run([sys.executable, "-m", "finetune", "quantize", "--gguf", str(tmp_path / "none.gguf"),
                           "--out", str(tmp_path / "x.gguf")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"finetune quantize: GGUF {tmp_path / 'none.gguf'} not found (make one with `python -m finetune export`)"
    )


def test_modelfile_uses_ollamas_functiongemma_renderer_and_parser(tmp_path: Path) -> None:
    from tests.finetune.test_provenance import metadata_only_gguf

    gguf = metadata_only_gguf(tmp_path / "models" / "x-q8_0.gguf", "ollama")
    path = write_modelfile(gguf, tmp_path / "models" / "Modelfile")
    lines = path.read_text().splitlines()
    assert lines[0] == "FROM ./x-q8_0.gguf"
    assert {"RENDERER functiongemma", "PARSER functiongemma", 'PARAMETER stop "<end_of_turn>"',
            'PARAMETER stop "<start_function_response>"', "PARAMETER temperature 0"} <= set(lines)
    assert modelfile_text(gguf).startswith(f"FROM {gguf}\n")
    with pytest.raises(ValueError, match="'hf' profile"):  # a GGUF that records no profile, said to be hf
        write_modelfile(metadata_only_gguf(tmp_path / "bare.gguf", None), tmp_path / "Modelfile", profile="hf")

