"""GGUF export of a (merged) Gemma 3 model with its SentencePiece tokenizer, loadable by llama.cpp and Ollama.

llama.cpp's own converter (``convert_hf_to_gguf.py``) lives only in the llama.cpp source tree: neither the
``gguf`` wheel nor the ``llama-cpp-python`` wheel installs it, so it cannot be a dependency. The Gemma 3 mapping
is small and is written here on the ``gguf`` package (llama.cpp's own Python library), following what that
converter does: tensor names from ``gguf.get_tensor_name_map``, Gemma's RMSNorm weights stored as ``1 + w``,
the tied output projection left out, the per-layer sliding-window pattern, and the SentencePiece vocabulary with
scores and token types typed exactly as that converter types them, the special ids and chat template through
``gguf.SpecialVocab`` and the ``general.*`` provenance through ``gguf.Metadata``. Only ``Gemma3ForCausalLM``
checkpoints are accepted; anything else is refused clearly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from teacher.errors import FineTrainingError
from teacher.provenance import GGUF_PROFILE, GGUF_VERSIONS, PROVENANCE_FILE, package_versions

__all__ = ["ExportError", "OutType", "export_gguf", "looks_special"]

OutType = Literal["f32", "f16", "bf16"]


class ExportError(ValueError, FineTrainingError):
    """The checkpoint cannot be exported (missing files, an unsupported architecture or setting)."""


def _config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise ExportError(f"{model_dir}: no config.json (not a saved Hugging Face model directory)")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if config.get("model_type") == "gemma3":  # a multimodal checkpoint keeps the text model in text_config
        config = {**config["text_config"], "architectures": ["Gemma3ForCausalLM"]}
    if config.get("model_type") not in ("gemma3_text", None) or "Gemma3ForCausalLM" not in config.get(
        "architectures", []
    ):
        raise ExportError(f"{path}: architectures {config.get('architectures')} is not Gemma3ForCausalLM")
    if config.get("attn_logit_softcapping") is not None:
        raise ExportError(f"{path}: attn_logit_softcapping is set; Gemma 3 in llama.cpp has none")
    head_dim = config.get("head_dim", 256)
    if config.get("query_pre_attn_scalar", head_dim) != head_dim:
        raise ExportError(f"{path}: query_pre_attn_scalar differs from head_dim; llama.cpp scales by head_dim")
    return config


def looks_special(token: str) -> bool:
    """llama.cpp's rule for added tokens that are CONTROL even when not marked special (``does_token_look_special``):
    ``<|...|>`` (or full-width bars), ``<unused...>``, ``<pad>``, ``<mask>``; not any ``<...>``."""
    return (
        token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<\uff5c") and token.endswith("\uff5c>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def _vocabulary(model_dir: Path, vocab_size: int) -> tuple[list[bytes], list[float], list[int]]:
    """Tokens, scores and GGUF token types as llama.cpp's converter (``_create_vocab_sentencepiece``) makes them.

    The pieces of ``tokenizer.model`` are NORMAL, UNKNOWN, CONTROL, UNUSED or BYTE (a user-defined piece is
    NORMAL there); then every added token of the tokenizer overrides its id: CONTROL when marked special or
    when it :func:`looks_special`, else USER_DEFINED with its spaces written as spaces, both scored -1000.
    """
    import gguf
    import sentencepiece as spm

    path = model_dir / "tokenizer.model"
    if not path.is_file():
        raise ExportError(f"{model_dir}: no tokenizer.model (the SentencePiece model the GGUF vocabulary needs)")
    processor = spm.SentencePieceProcessor(model_file=str(path))
    tokens = [f"[PAD{i}]".encode() for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [int(gguf.TokenType.UNUSED)] * vocab_size
    for index in range(min(vocab_size, processor.get_piece_size())):
        tokens[index] = processor.id_to_piece(index).encode("utf-8")
        scores[index] = processor.get_score(index)
        kind = gguf.TokenType.NORMAL
        if processor.is_unknown(index):
            kind = gguf.TokenType.UNKNOWN
        elif processor.is_control(index):
            kind = gguf.TokenType.CONTROL
        elif processor.is_unused(index):
            kind = gguf.TokenType.UNUSED
        elif processor.is_byte(index):
            kind = gguf.TokenType.BYTE
        types[index] = int(kind)
    for index, content, special in _added_tokens(model_dir):
        if index >= vocab_size:
            continue
        if special or looks_special(content):
            types[index] = int(gguf.TokenType.CONTROL)
        else:
            content = content.replace("\u2581", " ")  # llama.cpp pre-normalizes user-defined spaces
            types[index] = int(gguf.TokenType.USER_DEFINED)
        scores[index] = -1000.0
        tokens[index] = content.encode("utf-8")
    return tokens, scores, types


def _added_tokens(model_dir: Path) -> list[tuple[int, str, bool]]:
    """The tokenizer's added tokens (id, text, special) from ``tokenizer.json`` and ``tokenizer_config.json``."""
    found: dict[int, tuple[str, bool]] = {}
    path = model_dir / "tokenizer.json"
    if path.is_file():
        for token in json.loads(path.read_text(encoding="utf-8")).get("added_tokens", []):
            found[int(token["id"])] = (token["content"], bool(token.get("special")))
    path = model_dir / "tokenizer_config.json"
    if path.is_file():
        for key, token in json.loads(path.read_text(encoding="utf-8")).get("added_tokens_decoder", {}).items():
            found[int(key)] = (token["content"], bool(token.get("special")))
    return [(index, content, special) for index, (content, special) in sorted(found.items())]


def _special_ids(model_dir: Path, tokens: list[bytes]) -> dict[str, int]:
    index = {token: i for i, token in enumerate(tokens)}
    found = {}
    for role, piece in (("bos", b"<bos>"), ("eos", b"<eos>"), ("unk", b"<unk>"), ("pad", b"<pad>")):
        if piece not in index:
            raise ExportError(f"{model_dir}: the vocabulary has no {piece.decode()} token")
        found[role] = index[piece]
    return found


def _provenance(writer: Any, model_dir: Path, name: str | None) -> None:
    """The ``general.*`` keys llama.cpp's converter writes: ``gguf.Metadata`` from the model card (README front
    matter), config and directory name, the size label from the parameter count, type and quantization version;
    and ours: ``functiongemma.profile``, ``functiongemma.versions`` (training's; export's as ``export:NAME``)."""
    import gguf

    total, shared, expert, experts = writer.get_total_parameter_count()
    metadata = gguf.Metadata.load(None, model_dir, name, total)
    if metadata.name is None:
        metadata.name = model_dir.name
    if metadata.size_label is None and total > 0:
        metadata.size_label = gguf.size_label(total, shared, expert, experts)
    writer.add_type(gguf.GGUFType.MODEL)
    metadata.set_gguf_meta_model(writer)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    recorded = model_dir / PROVENANCE_FILE  # the codec profile and package versions of the training
    content = json.loads(recorded.read_text(encoding="utf-8")) if recorded.is_file() else {}
    if content.get("profile"):
        writer.add_string(GGUF_PROFILE, str(content["profile"]))
    versions = {**content.get("versions", {}), **{f"export:{k}": v for k, v in package_versions().items()}}
    writer.add_string(GGUF_VERSIONS, json.dumps(versions, separators=(",", ":")))


def export_gguf(model_dir: Path, out: Path, out_type: OutType = "f16", name: str | None = None) -> Path:
    """Write ``model_dir`` (a saved ``Gemma3ForCausalLM`` with ``tokenizer.model``) as a GGUF file at ``out``."""
    import gguf
    import numpy as np
    import torch
    from safetensors import safe_open

    config = _config(model_dir)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ExportError(f"{model_dir}: no *.safetensors weights")
    blocks = int(config["num_hidden_layers"])
    vocab_size = int(config["vocab_size"])
    head_dim = int(config.get("head_dim", 256))
    tokens, scores, types = _vocabulary(model_dir, vocab_size)
    special = _special_ids(model_dir, tokens)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, blocks)
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "bf16": gguf.LlamaFileType.MOSTLY_BF16,
    }[out_type]
    layer_types = config.get("layer_types") or [
        "full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(blocks)
    ]
    rope = config.get("rope_parameters") or {}
    full_theta = rope.get("full_attention", {}).get("rope_theta", config.get("rope_theta", 1_000_000.0))
    local_theta = rope.get("sliding_attention", {}).get("rope_theta", config.get("rope_local_base_freq", 10_000.0))

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), "gemma3")
    writer.add_file_type(int(file_type))
    writer.add_context_length(int(config.get("max_position_embeddings", 32768)))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_head_count_kv(int(config.get("num_key_value_heads", 1)))
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(float(full_theta))
    if any(kind == "sliding_attention" for kind in layer_types) and config.get("sliding_window"):
        writer.add_sliding_window(int(config["sliding_window"]))
        writer.add_sliding_window_pattern([kind == "sliding_attention" for kind in layer_types])
        writer.add_rope_freq_base_swa(float(local_theta))
    if config.get("final_logit_softcapping"):
        writer.add_final_logit_softcapping(float(config["final_logit_softcapping"]))
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    # special ids, add_bos/add_eos and the chat template, read as llama.cpp's converter reads them
    vocab = gguf.SpecialVocab(model_dir, n_vocab=len(tokens))
    for role, token_id in special.items():
        vocab.special_token_ids.setdefault(role, token_id)
    vocab.add_special_token.setdefault("bos", True)
    vocab.add_special_token.setdefault("eos", False)
    vocab.add_to_gguf(writer, quiet=True)
    writer.add_add_space_prefix(False)

    for path in files:
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
                if key == "lm_head.weight":
                    continue  # tied to the embeddings
                target = names.get_name(key.removesuffix(".weight"))
                if target is None:
                    raise ExportError(f"{path}: tensor {key} has no Gemma 3 GGUF name")
                tensor = weights.get_tensor(key).to(torch.float32)
                if key == "model.embed_tokens.weight":
                    tensor = tensor[:vocab_size]
                if key.endswith("norm.weight"):
                    tensor = tensor + 1.0  # Gemma3RMSNorm computes x * (1 + w)
                data = tensor.numpy()
                if data.ndim == 1 or out_type == "f32":
                    writer.add_tensor(f"{target}.weight", data.astype(np.float32))
                elif out_type == "f16":
                    writer.add_tensor(f"{target}.weight", data.astype(np.float16))
                else:
                    packed = gguf.quants.quantize(data, gguf.GGMLQuantizationType.BF16)
                    writer.add_tensor(f"{target}.weight", packed, raw_dtype=gguf.GGMLQuantizationType.BF16)
    _provenance(writer, model_dir, name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out
