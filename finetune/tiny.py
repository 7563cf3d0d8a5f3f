"""The tiny model factory: a FunctionGemma-compatible model built offline, for tests and the quickstart.

It has FunctionGemma's architecture family (a Gemma 3 text model, ``Gemma3ForCausalLM``) at a toy size, and a
SentencePiece BPE tokenizer trained on the spot in which FunctionGemma's control tokens are single tokens and
``<pad>``/``<eos>``/``<bos>``/``<unk>`` sit at Gemma's ids 0-3. Nothing is downloaded. A real run passes
``--base DIR`` with FunctionGemma's weights instead. :func:`check_tokenizer` guards every training run: a
tokenizer that cannot represent the data would silently train on ``<unk>``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.functiongemma import CONTROL_TOKENS, END_TURN, hf_chat_template
from teacher.errors import FineTrainingError

__all__ = [
    "CONTROL_TOKENS",
    "SPECIAL_TOKENS",
    "TinySpec",
    "TokenizerCheckError",
    "build_tiny_model",
    "check_tokenizer",
    "default_corpus",
    "functiongemma_270m_config",
]

#: Gemma's special tokens and their ids (pad 0, eos 1, bos 2, unk 3).
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<eos>", "<bos>", "<unk>")


class TokenizerCheckError(ValueError, FineTrainingError):
    """The tokenizer cannot faithfully represent the training text (unknown tokens, a lossy round trip)."""


@dataclass(frozen=True)
class TinySpec:
    """The size of a tiny model: small enough to train on two CPU cores in minutes."""

    vocab_size: int = 1024
    hidden_size: int = 64
    intermediate_size: int = 256
    layers: int = 2
    heads: int = 2
    kv_heads: int = 1
    head_dim: int = 32
    context: int = 2048
    seed: int = 0


def functiongemma_270m_config(vocab_size: int = 262144) -> dict[str, Any]:
    """The Gemma 3 text configuration of FunctionGemma 270M (for throughput runs on random weights)."""
    return {
        "vocab_size": vocab_size,
        "hidden_size": 640,
        "intermediate_size": 2048,
        "num_hidden_layers": 18,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "max_position_embeddings": 32768,
        "sliding_window": 512,
        "query_pre_attn_scalar": 256,
        "rms_norm_eps": 1e-6,
        "layer_types": [("full_attention" if (i + 1) % 6 == 0 else "sliding_attention") for i in range(18)],
        "rope_parameters": {
            "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        "tie_word_embeddings": True,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "bos_token_id": 2,
    }


def default_corpus(limit: int = 3000, seed: int = 0) -> list[str]:
    """Text the tokenizer learns from when no dataset is given: rendered task examples and the sample code."""
    from converters.functiongemma import render_prompt
    from tasks.score_edge.generate import examples

    texts = [
        render_prompt(example.model_dump(exclude_none=True)["messages"], [], add_generation_prompt=False)
        for example in examples(limit, seed=seed)
    ]
    sample = Path(__file__).resolve().parents[1] / "examples" / "sample_repo"
    texts.extend(path.read_text(encoding="utf-8") for path in sorted(sample.rglob("*.py")))
    random.Random(seed).shuffle(texts)
    return texts


def _sentences(texts: Iterable[str]) -> Iterable[str]:
    """SentencePiece trains on lines: split texts at newlines, with the control tokens kept as pieces."""
    for text in texts:
        for line in text.split("\n"):
            if line.strip():
                yield line


def train_sentencepiece(texts: Iterable[str], vocab_size: int, seed: int = 0) -> bytes:
    """A SentencePiece BPE model with Gemma's conventions (byte fallback, no dummy prefix, digits split)."""
    import sentencepiece as spm

    model = io.BytesIO()
    try:
        _train_sentencepiece(spm, texts, vocab_size, model)
    except RuntimeError as error:  # SentencePiece says it in a C++ assertion; say it in one line
        if "vocab_size" not in str(error) and "Vocabulary size" not in str(error):
            raise
        raise TokenizerCheckError(
            f"vocabulary size {vocab_size} is too small for the corpus (it needs a piece for every distinct "
            "character, plus the bytes, the special and the control tokens): give a larger --vocab-size"
        ) from None
    return model.getvalue()


def _train_sentencepiece(spm: Any, texts: Iterable[str], vocab_size: int, model: io.BytesIO) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(_sentences(texts))),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        allow_whitespace_only_pieces=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        user_defined_symbols=list(CONTROL_TOKENS),
        minloglevel=2,
        num_threads=1,
    )


def hf_tokenizer(sentencepiece_model: Path) -> Any:
    """The transformers Gemma tokenizer for a SentencePiece model, with FunctionGemma's control tokens."""
    import sentencepiece as spm
    from transformers import GemmaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    processor = spm.SentencePieceProcessor(model_file=str(sentencepiece_model))
    vocab = {processor.id_to_piece(index): index for index in range(processor.get_piece_size())}
    merges = generate_merges(vocab)
    no_mask: Any = None  # Gemma 3 has no mask token
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, mask_token=no_mask, add_bos_token=True, add_eos_token=False)
    tokenizer.add_special_tokens({"additional_special_tokens": list(CONTROL_TOKENS)})
    tokenizer.chat_template = hf_chat_template()  # apply_chat_template gives the codec's hf bytes
    return tokenizer


def build_tiny_model(out: Path, spec: TinySpec = TinySpec(), corpus: Sequence[str] | None = None) -> Path:
    """Write a randomly initialised tiny Gemma 3 model and its tokenizer to ``out`` (a ``--base`` directory)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    out.mkdir(parents=True, exist_ok=True)
    texts = list(corpus) if corpus is not None else default_corpus(seed=spec.seed)
    (out / "tokenizer.model").write_bytes(train_sentencepiece(texts, spec.vocab_size, spec.seed))
    tokenizer = hf_tokenizer(out / "tokenizer.model")
    check_tokenizer(tokenizer, texts[:200], source="the tokenizer's own corpus")
    tokenizer.save_pretrained(out)
    torch.manual_seed(spec.seed)
    config = Gemma3TextConfig(
        **{
            **functiongemma_270m_config(len(tokenizer)),
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads,
            "num_key_value_heads": spec.kv_heads,
            "head_dim": spec.head_dim,
            "max_position_embeddings": spec.context,
            "query_pre_attn_scalar": spec.head_dim,
            "layer_types": ["sliding_attention"] * (spec.layers - 1) + ["full_attention"],
        }
    )
    config._attn_implementation = "eager"
    model = Gemma3ForCausalLM(config)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_TURN)]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    return out


def check_tokenizer(tokenizer: Any, texts: Iterable[str], source: str = "the data") -> None:
    """Raise :class:`TokenizerCheckError` unless every text encodes without ``<unk>`` and decodes back exactly,
    and every control token is a single token."""
    for token in (*SPECIAL_TOKENS, *CONTROL_TOKENS):
        ids = tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1 or tokenizer.convert_ids_to_tokens(ids[0]) != token:
            raise TokenizerCheckError(f"{token!r} is not a single token of this tokenizer (got ids {ids})")
    unk = tokenizer.unk_token_id
    for number, text in enumerate(texts, start=1):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if unk is not None and unk in ids:
            at = ids.index(unk)
            context = tokenizer.decode(ids[max(0, at - 5) : at + 5])
            raise TokenizerCheckError(f"{source}, example {number}: <unk> at token {at}, near {context!r}")
        back = tokenizer.decode(ids, skip_special_tokens=False)
        if back != text:
            at = next(
                (i for i, (a, b) in enumerate(zip(back, text, strict=False)) if a != b), min(len(back), len(text))
            )
            raise TokenizerCheckError(
                f"{source}, example {number}: decoding does not give the text back at character {at}: "
                f"{text[max(0, at - 20) : at + 20]!r} became {back[max(0, at - 20) : at + 20]!r}"
            )
