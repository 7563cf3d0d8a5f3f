"""The exported GGUF against transformers: same token ids for 20 rendered prompts, same greedy tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.examples import load_examples
from finetune.export import ExportError, export_gguf
from finetune.merge import merge


@pytest.fixture(scope="module")
def merged(tiny_sft: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge(tiny_sft / "model", tmp_path_factory.mktemp("merged") / "merged")


def test_f16_gguf_tokenizes_and_decodes_like_transformers(merged: Path, tiny_data: Path, tmp_path: Path) -> None:
    import llama_cpp
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = export_gguf(merged, tmp_path / "model-f16.gguf", "f16")
    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float16, attn_implementation="eager").float()
    model.eval()
    llm = llama_cpp.Llama(str(gguf), n_ctx=0, verbose=False, logits_all=False)
    examples = [*load_examples(tiny_data / "train.jsonl"), *load_examples(tiny_data / "eval.jsonl")][:20]
    assert len(examples) == 20
    same_tokens = 0
    for example in examples:
        hf_ids = tokenizer.encode(example.prompt, add_special_tokens=False)
        assert llm.tokenize(example.prompt.encode(), add_bos=False, special=True) == hf_ids
        with torch.no_grad():
            expected = model.generate(
                torch.tensor([hf_ids]), max_new_tokens=24, do_sample=False, eos_token_id=None, pad_token_id=0
            )[0, len(hf_ids) :].tolist()
        llm.reset()
        got = []
        for token in llm.generate(hf_ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
            got.append(token)
            if len(got) == len(expected):
                break
        same_tokens += got == expected
    # f16 weights on both sides; greedy choices agree on every prompt
    assert same_tokens == 20


def test_export_refuses_what_it_cannot_convert(merged: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"no config\.json"):
        export_gguf(tmp_path, tmp_path / "x.gguf")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    with pytest.raises(ExportError, match=r"is not Gemma3ForCausalLM"):
        export_gguf(broken, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_bf16_and_f32_exports_load_and_agree_with_f16(merged: Path, tiny_data: Path, tmp_path: Path) -> None:
    from interpreters.llamacpp import LlamaCppStudent

    prompt = load_examples(tiny_data / "eval.jsonl")[0].prompt
    texts = {}
    for kind in ("f32", "f16", "bf16"):
        gguf = export_gguf(merged, tmp_path / f"m-{kind}.gguf", kind)  # type: ignore[arg-type]
        texts[kind] = LlamaCppStudent(gguf, n_ctx=0, max_tokens=40).complete_text(prompt).text
    assert texts["f32"].startswith("<start_function_call>call:")
    assert texts["f32"] == texts["f16"]  # small weights: half precision changes no greedy choice here
    assert texts["bf16"].startswith("<start_function_call>call:")
    sizes = {kind: (tmp_path / f"m-{kind}.gguf").stat().st_size for kind in texts}
    assert sizes["f32"] > sizes["f16"] and sizes["f16"] == sizes["bf16"]


def test_eval_with_a_missing_gguf_is_one_line(tiny_data: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    missing = tmp_path / "none.gguf"
    done = subprocess.run([sys.executable, "-m", "finetune", "eval", "--data", str(tiny_data), "--model", str(missing),
                           "--out", str(tmp_path / "e")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip() == f"finetune eval: GGUF {missing} not found (make one with `python -m finetune export`)"
