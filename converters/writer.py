"""The one dataset writer: ``train.jsonl`` and ``eval.jsonl`` with each line once, in a seeded order.

Every generator and ``converters.rebuild`` write through :class:`DatasetWriter`: a line that is an exact
duplicate of one already written, or the same once runs of spaces are collapsed, is dropped (and counted); each
kept line goes to a scratch bucket by its order key, and :meth:`DatasetWriter.finish` writes each split sorted by
that key, so that the same lines give the same bytes however they arrived, and millions of lines stay out of
memory. Files are written beside their final name and renamed over it.

Which split a line goes to is its group's (:class:`SplitGroups`: examples that share a split key share a group),
decided by a seeded hash, so a group is never split. Like the writer, it stands on nothing of the library, so a
task's own generator groups its examples the way the rebuild does.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["BUCKETS", "DatasetWriter", "SplitGroups", "exact_key", "loose_key", "order_key"]

BUCKETS = 64
SPLITS = ("train", "eval")


def exact_key(line: bytes) -> bytes:
    """The digest two byte-identical lines share."""
    return hashlib.blake2b(line, digest_size=16).digest()


def loose_key(line: bytes, exact: bytes | None = None) -> bytes:
    """The digest two lines share when they differ only in runs of spaces (a JSON line has no other raw space)."""
    if b"  " not in line:
        return exact if exact is not None else exact_key(line)
    return hashlib.blake2b(b" ".join(line.split()), digest_size=16).digest()


def order_key(seed: bytes, material: bytes) -> bytes:
    """A 16-hex-digit sort key: lines are written in the order of their keys."""
    return hashlib.blake2b(seed + material, digest_size=8).hexdigest().encode()


class DatasetWriter:
    """Writes ``OUT/train.jsonl`` and ``OUT/eval.jsonl``; use as a context manager (the files are written when the
    block ends without an error). ``written`` counts the kept lines per split, ``duplicates`` the dropped ones by
    reason (``duplicate``, ``duplicate_whitespace``)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self._exact: set[bytes] = set()
        self._loose: set[bytes] = set()
        self._stack = ExitStack()
        scratch = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="dataset-")))
        self._buckets: dict[str, list[IO[bytes]]] = {  # held open until the writer closes
            split: [self._stack.enter_context(open(scratch / f"{split}.{b}", "w+b"))  # noqa: SIM115
                    for b in range(BUCKETS)]
            for split in SPLITS
        }

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self._stack.close()

    def add(
        self, split: str, line: bytes, order: bytes, exact: bytes | None = None, loose: bytes | None = None
    ) -> bool:
        """Keep ``line`` (one JSON line, no newline) in ``split`` at the place ``order`` (16 hex digits) says;
        False when it is a duplicate of a line already kept. ``exact`` and ``loose`` are its digests when the
        caller computed them already (:func:`exact_key`, :func:`loose_key`)."""
        exact = exact if exact is not None else exact_key(line)
        if exact in self._exact:
            self.duplicates["duplicate"] += 1
            return False
        loose = loose if loose is not None else loose_key(line, exact)
        if loose in self._loose:
            self.duplicates["duplicate_whitespace"] += 1
            return False
        self._exact.add(exact)
        self._loose.add(loose)
        self._buckets[split][int(order[:2], 16) % BUCKETS].write(order + line + b"\n")
        self.written[split] += 1
        return True

    def finish(self) -> None:
        """Write each split: its lines sorted by their order keys, bucket by bucket."""
        self.out.mkdir(parents=True, exist_ok=True)
        for split, buckets in self._buckets.items():
            temporary = self.out / f".{split}.jsonl.tmp"
            with open(temporary, "wb") as out:
                for bucket in buckets:
                    bucket.seek(0)
                    entries = bucket.read().split(b"\n")[:-1]  # JSON lines hold no raw newline
                    entries.sort()
                    out.write(b"".join(entry[16:] + b"\n" for entry in entries))
            temporary.replace(self.out / f"{split}.jsonl")


class SplitGroups:
    """Union-find over group keys; a group's split is decided by a seeded hash of its smallest key."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent
        root = key
        while parent.get(root, root) != root:
            root = parent[root]
        while key != root:  # path compression (only keys that were joined are ever stored)
            parent[key], key = root, parent[key]
        return root

    def join(self, keys: Sequence[str]) -> None:
        roots = sorted({self.find(k) for k in keys})
        for other in roots[1:]:
            self.parent[other] = roots[0]  # the smallest key is the root: independent of input order

    def root(self, keys: Sequence[str]) -> str:
        """The group of some keys: the smallest root among them."""
        return min(self.find(k) for k in keys) if keys else ""

    def is_eval(self, root: str, seed: int, split: float) -> bool:
        """Whether a group (by its root) goes to eval, by a seeded hash: the same for every example in it."""
        digest = hashlib.blake2b(f"{seed}:{root}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 >= split
