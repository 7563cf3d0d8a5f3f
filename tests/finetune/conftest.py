"""Shared fine-tuning fixtures: real recordings of the sample repository, a tiny model, a short SFT run.

Everything is built offline once per test session: heuristic-teacher recordings over the real jedi server,
the dataset rebuilt from them, a tiny Gemma 3 model whose tokenizer learnt that data, and a short full
fine-tuning run on it (enough for the model to write FunctionGemma calls).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the finetune extra is not installed: pip install -e '.[finetune]'")
pytest.importorskip("trl", reason="the finetune extra is not installed: pip install -e '.[finetune]'")

QUERIES = [
    {"topic": "How is the order total computed with discounts?", "seeds": ["order_total"]},
    {"topic": "How does checkout charge the customer?", "seeds": ["checkout"]},
    {"topic": "What does order validation check?", "seeds": ["validate_order"]},
    {"topic": "How is revenue reported across orders?", "seeds": ["revenue"]},
    {"topic": "How are shipping costs decided?", "seeds": ["shipping_cost"]},
    {"topic": "How does the card gateway decide to decline a charge?", "seeds": ["CardGateway"]},
]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset directory (messages with inputs, hf profile) rebuilt from real heuristic recordings."""
    root = tmp_path_factory.mktemp("finetune-data")
    queries = root / "queries.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    from converters.rebuild import Options, rebuild
    from examples.quickstart import record

    record(queries, root / "recordings")

    rebuild([root / "recordings"], Options(out=root / "data", format="messages", with_inputs=True, split=0.8))
    return root / "data"


@pytest.fixture(scope="session")
def tiny_base(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny FunctionGemma-compatible model whose tokenizer learnt the dataset's text."""
    from converters.examples import load_examples
    from finetune.tiny import TinySpec, build_tiny_model

    texts = [e.prompt + e.completion for e in load_examples(tiny_data / "train.jsonl")]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", TinySpec(vocab_size=768), corpus=texts)


@pytest.fixture(scope="session")
def tiny_sft(tiny_base: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``OUT`` directory of a short full fine-tuning run of the tiny model (OUT/model is the model)."""
    from finetune.sft import SftSettings, run_sft

    out = tmp_path_factory.mktemp("sft")
    settings = SftSettings(
        base=str(tiny_base),
        data=str(tiny_data),
        out=str(out),
        lora=False,
        learning_rate=3e-3,
        max_steps=60,
        batch_size=8,
        save_steps=1000,
        logging_steps=10,
        eval_examples=8,
    )
    run_sft(settings)
    return out


@pytest.fixture(scope="session")
def gh_pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The named pipeline run once for the shipped ``gh`` schema (generated data, tiny model, q8_0 GGUF, eval):
    its ``training`` root and its results. ``root/models/gh/gh-q8_0.gguf`` is a real trained CLI-intent student."""
    from finetune.__main__ import generated_data
    from finetune.pipeline import PipelineSettings, run_pipeline

    root = tmp_path_factory.mktemp("cli-intent") / "training"
    settings = PipelineSettings(
        name="gh", root=root, quantizations=["q8_0"], dpo=False, eval_limit=6,
        sft_settings={"max_steps": 3, "eval_examples": 0, "save_steps": 100, "max_length": 4096},
        make_data=generated_data("schema", "gh", 60, "gh", root),
    )
    return root, run_pipeline(settings)
