"""A tiny Gemma 3 GGUF written directly (numpy + gguf, no torch) whose greedy output is scripted.

Every attention and feed-forward weight is zero and the embeddings are one-hot, so the logits depend only on
the last token, through ``output.weight``: ``follows[a] = b`` makes ``b`` the greedy successor of ``a``. The
vocabulary carries FunctionGemma's control tokens, byte fallback and the words a test needs as single tokens.
Until the fine-tuning factory makes real tiny models, this lets llama.cpp tests check tokenisation, stopping,
decoding and parsing against the real runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import gguf
import numpy as np

from converters.functiongemma import CONTROL_TOKENS

HIDDEN = 16  # the attention head and feed-forward width (all zero)


def tiny_vocab(words: Sequence[str]) -> tuple[list[str], list[gguf.TokenType]]:
    """The vocabulary: special and control tokens, byte fallback, then ``words`` as single tokens."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", *CONTROL_TOKENS]
    tokens = specials + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [w for w in dict.fromkeys(words) if w not in tokens]
    types = [gguf.TokenType.CONTROL] * len(specials) + [gguf.TokenType.BYTE] * 256
    types += [gguf.TokenType.NORMAL] * (len(tokens) - len(types))
    types[3] = gguf.TokenType.UNKNOWN
    return tokens, types


def scripted_output(tokens: Sequence[str], follows: Mapping[str, str]) -> np.ndarray:
    """The output projection: ``follows[a] = b`` makes ``b`` the greedy successor of ``a``, else <end_of_turn>."""
    index = {t: i for i, t in enumerate(tokens)}
    output = np.zeros((len(tokens), len(tokens)), np.float32)
    output[index["<end_of_turn>"], :] = 1.0
    for before, after in follows.items():
        output[:, index[before]] = 0.0
        output[index[after], index[before]] = 10.0
    return output


def write_tiny_gguf(
    path: Path, words: Sequence[str], follows: Mapping[str, str], *, attention: float = 0.0, context: int = 1024
) -> Path:
    """Write the model; ``words`` become single tokens, ``follows`` scripts the greedy decoding. ``attention``
    > 0 gives the attention layer seeded random weights of that scale, so the logits depend on earlier tokens too
    (what a kept or restored KV cache must get right); ``context`` is the trained context length."""
    tokens, types = tiny_vocab(words)
    index = {t: i for i, t in enumerate(tokens)}
    size = len(tokens)
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_context_length(context)
    writer.add_embedding_length(size)
    writer.add_block_count(1)
    writer.add_feed_forward_length(HIDDEN)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_key_length(HIDDEN)
    writer.add_value_length(HIDDEN)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_sliding_window(512)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * size)
    writer.add_token_types(types)
    writer.add_bos_token_id(index["<bos>"])
    writer.add_eos_token_id(index["<eos>"])
    writer.add_pad_token_id(index["<pad>"])
    writer.add_unk_token_id(index["<unk>"])
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_tensor("token_embd.weight", np.eye(size, dtype=np.float32))
    writer.add_tensor("output.weight", scripted_output(tokens, follows))
    writer.add_tensor("output_norm.weight", np.ones(size, np.float32))  # GGUF stores Gemma's (1 + weight)
    for name in ("attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"):
        writer.add_tensor(f"blk.0.{name}.weight", np.ones(size, np.float32))
    rng = np.random.default_rng(0)
    for name, shape in (("attn_q", (HIDDEN, size)), ("attn_k", (HIDDEN, size)), ("attn_v", (HIDDEN, size)),
                        ("attn_output", (size, HIDDEN)), ("ffn_gate", (HIDDEN, size)), ("ffn_up", (HIDDEN, size)),
                        ("ffn_down", (size, HIDDEN))):
        weights = np.zeros(shape, np.float32)
        if attention and name.startswith("attn"):
            weights = (attention * rng.standard_normal(shape)).astype(np.float32)
        writer.add_tensor(f"blk.0.{name}.weight", weights)
    writer.add_tensor("blk.0.attn_q_norm.weight", np.ones(HIDDEN, np.float32))
    writer.add_tensor("blk.0.attn_k_norm.weight", np.ones(HIDDEN, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
