"""Greedy decoding under a call grammar with a loaded ``llama_cpp.Llama``: valid by construction, and fast.

:class:`GrammarDecoder` walks :class:`converters.functiongemma_grammar.Matcher` beside the model:

* **constrained**: each step takes the most likely token whose text the grammar allows (candidates are tried
  in the order of their logits, so the answer is the grammar-constrained argmax); a control token counts only
  as itself, never as its text spelt out;
* **jump-forward**: where the grammar allows one continuation only (``<start_function_call>call:``, a tool's
  name once its first letters decide it, argument names, braces, ``<escape>``), that text is tokenised and fed
  to the model as one batch together with the token before it, not sampled token by token; the terminator
  that ends the answer is never evaluated at all;
* **closed**: an answer that runs out of tokens (an unbounded string) is ended by the shortest text that
  completes it (the string closed, the required arguments given their shortest values), so it still parses;
* **calibrated**: at a labelled branch point (:meth:`~converters.functiongemma_grammar.Matcher.branches`) named
  in a :class:`~interpreters.calibration.Calibration`, the probability mass of one option against the others is
  compared with the fitted threshold, and only that side's tokens stay allowed.

:func:`next_token_probabilities` reads the probability of candidate next tokens after a text, and
:meth:`GrammarDecoder.branch_shares` the mass of each labelled option at a point of an answer: branch checks
are tests, not scripts.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters.functiongemma import CONTROL_TOKENS, STOP_SEQUENCES
from converters.functiongemma_grammar import Grammar, Matcher, units, wire_text

__all__ = ["BranchPoint", "GrammarDecoder", "PrefixCache", "next_token_probabilities"]

log = logging.getLogger(__name__)

#: candidates tried in logit order before the whole vocabulary is sorted
_TOP = 64
#: the widening top sets a constrained step searches
_WIDENING = (_TOP, 1024, 16384, 1 << 62)
#: llama.cpp token attributes of tokens that are never text: unknown, unused, control
_NOT_TEXT = 1 | 2 | 8


@dataclass(frozen=True)
class BranchPoint:
    """The mass of one labelled option against the others where an answer chose between them."""

    label: str
    option: int
    share: float
    taken: bool


@dataclass
class Decoded:
    """What :meth:`GrammarDecoder.decode` produced."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    sampled_tokens: int
    stopped_at: str
    latency_s: float
    branches: list[BranchPoint] = field(default_factory=list)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    result: np.ndarray = shifted / shifted.sum()
    return result


class GrammarDecoder:
    """Grammar-constrained greedy decoding with jump-forward over one loaded model (not thread-safe)."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.n_vocab = int(llm.n_vocab())
        self._units: dict[int, str | None] = {}
        self._control: dict[int, str] = {}
        for token in CONTROL_TOKENS:
            ids = llm.tokenize(token.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                self._control[ids[0]] = token

    # -------------------------------------------------------------------------------------------- tokens

    def token_units(self, token: int) -> str | None:
        """A token's text as grammar units; None for a token no answer may hold (another control token, a
        partial UTF-8 sequence, the end of generation)."""
        if token not in self._units:
            found: str | None
            if token in self._control:
                found = units(self._control[token])
            elif self.llm._model.token_get_attr(token) & _NOT_TEXT:
                found = None
            else:
                try:
                    text = self.llm.detokenize([token], special=True).decode("utf-8")
                except UnicodeDecodeError:  # a byte of a longer character
                    text = ""
                found = text if text and units(text) == text else None
            self._units[token] = found
        return self._units[token]

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def logits(self) -> np.ndarray:
        """The logits after the last evaluated token."""
        return np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.n_vocab,))

    def start(self, prompt_tokens: Sequence[int], reuse_prefix: bool) -> list[int]:
        """Prepare the KV cache for ``prompt_tokens``: the tokens still to evaluate (a kept prefix is skipped)."""
        llm = self.llm
        keep = 0
        if reuse_prefix and llm.n_tokens:
            cached = llm.input_ids[: llm.n_tokens]
            limit = min(len(cached), len(prompt_tokens) - 1)  # at least one token is evaluated, for its logits
            while keep < limit and cached[keep] == prompt_tokens[keep]:
                keep += 1
        llm.n_tokens = keep  # eval() drops the cache beyond n_tokens
        return list(prompt_tokens[keep:])

    def feed(self, tokens: Sequence[int]) -> None:
        if tokens:
            self.llm.eval(tokens)

    # -------------------------------------------------------------------------------------------- choice

    def allowed(self, matcher: Matcher, logits: np.ndarray, keep: Callable[[int, str], bool] | None = None,
                fallback: int | None = None) -> tuple[int, Matcher]:
        """The most likely token the grammar allows here (and ``keep`` accepts), with the matcher after it.

        Candidates are tried in logit order, in widening top sets (so an untrained model, whose likely tokens the
        grammar refuses, does not cost a pass over the whole vocabulary each step); ``fallback``, a token known to
        be allowed, is taken when none of the first set is."""
        firsts: dict[str, bool] = {}
        seen = 0
        for size in _WIDENING:
            if size >= self.n_vocab:
                order = np.argsort(-logits)
            else:
                top = np.argpartition(-logits, size)[:size]
                order = top[np.argsort(-logits[top])]
            for token in order[seen:]:
                text = self.token_units(int(token))
                if not text:
                    continue
                first = firsts.get(text[0])
                if first is None:
                    first = firsts[text[0]] = matcher.feed(text[0]) is not None
                if not first or (keep is not None and not keep(int(token), text)):
                    continue
                after = matcher.feed(text)
                if after is not None:
                    return int(token), after
            seen = len(order)
            if fallback is not None:
                text = self.token_units(fallback)
                after = matcher.feed(text) if text else None
                if after is not None:
                    return fallback, after
            if size >= self.n_vocab:
                break
        raise RuntimeError("no token of the vocabulary continues the grammar")  # every grammar unit has a byte

    def shares(self, matcher: Matcher, logits: np.ndarray, label: str, option: int) -> tuple[float, float]:
        """The probability mass of the top tokens entering ``option`` of ``label`` here, and of those entering
        another of its options (tokens the grammar forbids count for neither)."""
        probs = _softmax(logits)
        top = np.argpartition(-probs, _TOP)[:_TOP]
        mine = others = 0.0
        for token in top:
            text = self.token_units(int(token))
            if not text or matcher.feed(text) is None:
                continue
            options = {o for name, o in matcher.branches(text[0]) if name == label}
            if options == {option}:
                mine += float(probs[token])
            elif options and option not in options:
                others += float(probs[token])
        return mine, others

    # -------------------------------------------------------------------------------------------- decode

    def decode(
        self, prompt: str, grammar: Grammar, max_tokens: int = 256, *, reuse_prefix: bool = False,
        thresholds: Mapping[str, tuple[int, float]] | None = None, forced_answer: str | None = None,
    ) -> Decoded:
        """The answer to ``prompt`` under ``grammar``; ``thresholds`` maps a branch label to (option, threshold):
        that option is taken where its share of the mass is at least the threshold, another one elsewhere.
        With ``forced_answer`` (wire text the grammar accepts) the answer is that text, and the branch points
        on its way are recorded (for fitting thresholds)."""
        started = time.perf_counter()
        prompt_tokens = self.tokenize(prompt)
        pending = self.start(prompt_tokens, reuse_prefix)
        matcher = grammar.matcher()
        target = None if forced_answer is None else units(forced_answer)
        out: list[str] = []
        produced = sampled = 0
        stopped = ""
        branches: list[BranchPoint] = []
        while True:
            forced = matcher.forced()
            held_token: int | None = None  # the last token of the forced text, left to the model
            if forced:
                after: Matcher = matcher.feed(forced)  # type: ignore[assignment]  # forced text is always allowed
                text = wire_text("".join(out) + forced)
                stop = next((s for s in STOP_SEQUENCES if text.endswith(s)), "")
                if stop or after.done:
                    out.append(forced)
                    tail = wire_text(forced)
                    produced += len(self.tokenize(tail[: len(tail) - len(stop)])) + (1 if stop else 0)
                    stopped = stop or "grammar"
                    break
                tokens = self.tokenize(wire_text(forced))
                last = self.token_units(tokens[-1])
                if len(tokens) > 1 and last and forced.endswith(last) and not _ends_in_control(forced):
                    # the last token is left to the model: the text after it may join it into another token
                    held_token = tokens[-1]
                    tokens, forced = tokens[:-1], forced[: -len(last)]
                    after = matcher.feed(forced)  # type: ignore[assignment]
                elif not _ends_in_control(forced):
                    held_token = tokens[0]
                    tokens, forced, after = [], "", matcher
                out.append(forced)
                matcher = after
                pending += tokens
                produced += len(tokens)
            if matcher.done:
                stopped = "grammar"
                break
            if sampled >= max_tokens:
                # out of tokens: the answer is closed by the shortest text that ends it, so it still parses
                tail = matcher.shortest()
                out.append(tail)
                produced += len(self.tokenize(wire_text(tail)))
                stopped = "max_tokens"
                break
            self.feed(pending)
            pending = []
            logits = self.logits()
            keep: Callable[[int, str], bool] | None = None
            so_far = "".join(out)
            if target is not None:
                keep = _along(target[len(so_far):])
            for label, options in matcher.labels().items():
                wanted = (thresholds or {}).get(label)
                if len(options) < 2 or (wanted is None and target is None):
                    continue
                option = wanted[0] if wanted else min(options)
                if option not in options:
                    continue
                mine, others = self.shares(matcher, logits, label, option)
                if mine + others <= 0:
                    continue
                share = mine / (mine + others)
                if target is not None:
                    taken = {o for name, o in matcher.branches(target[len(so_far)]) if name == label} == {option}
                    branches.append(BranchPoint(label, option, share, taken))
                elif wanted:
                    keep = _one_side(matcher, label, option, share >= wanted[1])
                break
            token, matcher = self.allowed(matcher, logits, keep, held_token)
            out.append(self.token_units(token) or "")
            pending = [token]
            sampled += 1
            produced += 1
        text = wire_text("".join(out))
        return Decoded(text, len(prompt_tokens), produced, sampled, stopped, time.perf_counter() - started,
                       branches)


@dataclass(frozen=True)
class _Saved:
    """The KV cache of sequence 0 after ``tokens``, as llama.cpp serialises it."""

    tokens: tuple[int, ...]
    data: Any  # a ctypes byte array
    size: int


class PrefixCache:
    """The KV caches of up to ``size`` prompt prefixes (a request's tool declarations, before its user turn), kept
    by a resident process so that a prefix seen before is restored, not evaluated again, even after requests with
    other prefixes (other retrieved subsets) came between. Least recently used first out. Not thread-safe."""

    def __init__(self, llm: Any, size: int) -> None:
        if size < 1:
            raise ValueError(f"a prefix cache holds at least one prefix, got {size}")
        self.llm = llm
        self.size = size
        self._saved: OrderedDict[tuple[int, ...], _Saved] = OrderedDict()
        #: how each prefix was found: ``kept`` (already in the KV cache), ``restored``, ``evaluated``
        self.last = ""

    def __len__(self) -> int:
        return len(self._saved)

    def prime(self, prefix: Sequence[int]) -> str:
        """Leave the model's KV cache holding ``prefix`` (kept, restored from a saved state, or evaluated and
        saved); ``kept``, ``restored`` or ``evaluated``."""
        llm = self.llm
        key = tuple(prefix)
        if not key:
            self.last = "kept"
            return self.last
        if llm.n_tokens >= len(key) and tuple(llm.input_ids[: len(key)].tolist()) == key:
            self.last = "kept"
        elif key in self._saved:
            self._restore(self._saved[key])
            self.last = "restored"
        else:
            keep = 0
            limit = min(int(llm.n_tokens), len(key))
            cached = llm.input_ids[:limit].tolist()
            while keep < limit and cached[keep] == key[keep]:
                keep += 1
            llm.n_tokens = keep
            if keep < len(key):
                llm.eval(list(key[keep:]))
            self._saved[key] = self._save()
            self.last = "evaluated"
        if key in self._saved:
            self._saved.move_to_end(key)
        while len(self._saved) > self.size:
            self._saved.popitem(last=False)
        return self.last

    def _save(self) -> _Saved:
        import llama_cpp

        ctx = self.llm._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
        data = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if written <= 0:
            raise RuntimeError("llama.cpp could not save the KV cache of the prompt prefix")
        return _Saved(tuple(self.llm.input_ids[: self.llm.n_tokens].tolist()), data, written)

    def _restore(self, saved: _Saved) -> None:
        import llama_cpp

        llm = self.llm
        llm.n_tokens = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        if int(llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, saved.data, saved.size, 0)) <= 0:
            raise RuntimeError("llama.cpp could not restore the KV cache of a prompt prefix")
        llm.input_ids[: len(saved.tokens)] = saved.tokens
        llm.n_tokens = len(saved.tokens)


def _ends_in_control(unit_text: str) -> bool:
    return wire_text(unit_text[-1:]) != unit_text[-1:]


def _along(rest: str) -> Callable[[int, str], bool]:
    """Keeps the tokens that follow the forced answer's ``rest``."""

    def keep(_token: int, text: str) -> bool:
        return rest.startswith(text)

    return keep


def _one_side(matcher: Matcher, label: str, option: int, take: bool) -> Callable[[int, str], bool]:
    """Keeps the tokens entering ``option`` of ``label`` (``take``) or those entering another of its options."""

    def keep(_token: int, text: str) -> bool:
        return ({o for name, o in matcher.branches(text[0]) if name == label} == {option}) == take

    return keep


def next_token_probabilities(llm: Any, text: str, candidates: Sequence[str]) -> dict[str, float]:
    """The probability of each candidate as the next token after ``text`` (FunctionGemma text, control tokens
    parsed): each candidate must be one token of the vocabulary (a :class:`ValueError` names one that is not)."""
    ids = {}
    for candidate in candidates:
        tokens = llm.tokenize(candidate.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) != 1:
            raise ValueError(f"candidate {candidate!r} is {len(tokens)} tokens, not one")
        ids[candidate] = tokens[0]
    decoder = GrammarDecoder(llm)
    decoder.feed(decoder.start(decoder.tokenize(text), reuse_prefix=True))
    probs = _softmax(decoder.logits().astype(np.float64))
    return {candidate: float(probs[token]) for candidate, token in ids.items()}
