"""The sequences of a padded training batch, each known by its tokens: what per-example state is keyed by.

What SFT keeps per example (the hidden states of an activation cache, the positions of decision tokens) is keyed
by the example's token ids, so it is found again whatever order, batch or padding the sampler gives it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["batch_rows", "sequence_key"]


def sequence_key(ids: Sequence[int] | Any) -> str:
    """A stable key of a token sequence (a list or a 1-D tensor of ids)."""
    values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    return hashlib.sha1(b"".join(int(i).to_bytes(4, "little") for i in values)).hexdigest()


def batch_rows(input_ids: Any, attention_mask: Any) -> Iterator[tuple[int, str, Any]]:
    """Each row of a padded batch: its index, its sequence's key and the positions of its real (unpadded) tokens."""
    for row in range(input_ids.shape[0]):
        where = attention_mask[row].nonzero().squeeze(-1)
        yield row, sequence_key(input_ids[row, where]), where
