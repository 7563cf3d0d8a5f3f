"""A tokenizer the project writes carries the hf chat template: ``apply_chat_template`` gives the codec's bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from converters.functiongemma import hf_chat_template, render_prompt
from tests.conftest import shared_json

OWN_CONVERSATION: dict[str, Any] = {
    "messages": [
        {"role": "user", "content": "Where is the total computed?"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "select_symbols", "arguments": {
                "selected": ["order_total", "apply_discount"], "reason": "a, {b}\nc", "n": 2, "f": 0.5, "ok": True}}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "accepted"},
    ],
    "tools": [{"type": "function", "function": {
        "name": "select_symbols", "description": "Pick symbols.",
        "parameters": {"type": "object", "required": ["selected"], "properties": {
            "selected": {"type": "array", "items": {"type": "string"}, "description": "names"}}},
    }}],
    "add_generation_prompt": True,
}


def test_the_tiny_tokenizer_renders_the_codecs_bytes(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from finetune.tiny import default_corpus, hf_tokenizer, train_sentencepiece

    (tmp_path / "tokenizer.model").write_bytes(train_sentencepiece(default_corpus(seed=0), 768))
    hf_tokenizer(tmp_path / "tokenizer.model").save_pretrained(tmp_path / "saved")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "saved")  # what a user loads
    assert tokenizer.chat_template == hf_chat_template()

    cases = [*shared_json("testdata/functiongemma_hf_renderings.json")["cases"], OWN_CONVERSATION]
    for case in cases:
        expected = render_prompt(case["messages"], case["tools"], add_generation_prompt=case["add_generation_prompt"])
        text = tokenizer.apply_chat_template(
            case["messages"], tools=case["tools"], tokenize=False, add_generation_prompt=case["add_generation_prompt"]
        )
        assert text == expected, case.get("name", "own conversation")
        ids = tokenizer.apply_chat_template(
            case["messages"], tools=case["tools"], tokenize=True, add_generation_prompt=case["add_generation_prompt"],
            return_dict=False,
        )
        assert list(ids) == tokenizer.encode(expected, add_special_tokens=False)
        assert list(ids).count(tokenizer.bos_token_id) == 1


def test_the_tiny_tokenizer_refuses_what_the_codec_refuses(tmp_path: Path) -> None:
    from finetune.tiny import default_corpus, hf_tokenizer, train_sentencepiece

    (tmp_path / "tokenizer.model").write_bytes(train_sentencepiece(default_corpus(seed=0), 768))
    tokenizer = hf_tokenizer(tmp_path / "tokenizer.model")
    bad = [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": float("nan")}}}]}]
    with pytest.raises(jinja2.exceptions.TemplateError, match="non-finite number"):
        tokenizer.apply_chat_template(bad, tokenize=False)
