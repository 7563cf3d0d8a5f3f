"""The embedded student: a FunctionGemma GGUF run in-process by llama.cpp (llama-cpp-python).

The prompt is the codec's ``hf`` rendering of the student's conversation (``teacher.model.student_prompt``),
byte-identical to the training text; it is tokenised with special tokens parsed (its literal ``<bos>`` is the
BOS token). Decoding is greedy. By default every request is decoded under the grammar of its declared tools
(:func:`converters.functiongemma_grammar.call_grammar`, through :class:`interpreters.grammar_decoding.
GrammarDecoder`): the answer is a call the codec parses, with a declared tool, its arguments in the codec's order,
enum values, integers in range and the request's own candidates, by construction; text the grammar forces is fed
as one batch (jump-forward). Thresholds fitted for the model's branch points (``MODEL.calibration.json`` beside
the GGUF, :mod:`interpreters.calibration`) are applied when that file is there. ``grammar=False`` decodes
unconstrained, stopping at FunctionGemma's stop tokens (``<end_of_turn>``, ``<start_function_response>``). The
output, control tokens included, is parsed by the codec and validated by the task. Each reply reports latency
and prompt/completion token counts (``sampled_tokens``: those the model chose, not forced by the grammar).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from converters.functiongemma import START_TURN, STOP_SEQUENCES, FunctionGemmaFormatError, Profile, split_output
from converters.functiongemma_grammar import Grammar, call_grammar
from teacher.model import ModelBackend, ModelReply, ModelRequest, student_prompt
from teacher.operations import OperationFailed

#: where a prompt's user turn starts: the text before it (the declarations) is the prefix ``prefix_states`` keeps
USER_TURN = START_TURN + "user"

__all__ = ["USER_TURN", "Completion", "LlamaCppStudent", "StudentModelMissing", "completion_reply", "greedy_completion"]


class StudentModelMissing(OperationFailed):
    """The GGUF file is not there (or llama-cpp-python is not installed); the message says what to do."""

    fatal = True


@dataclass
class LlamaCppStudent(ModelBackend):
    """A model backend running a GGUF in-process; ``model_path`` is loaded on first use."""

    model_path: str | Path
    n_ctx: int = 4096
    max_tokens: int = 256
    n_threads: int | None = None
    #: keep the KV cache between requests so a shared prompt prefix (the tool declarations) is not evaluated again
    reuse_prefix: bool = False
    #: the codec profile of the prompts (the one the GGUF was trained with)
    profile: Profile = "hf"
    #: decode every request under the grammar of its declared tools (False: unconstrained greedy decoding)
    grammar: bool = True
    #: apply the branch thresholds of ``MODEL.calibration.json`` when that file is there (with the grammar only)
    calibrate: bool = True
    #: keep the KV caches of this many distinct prompt prefixes (the declarations before the user turn) and
    #: restore one seen before instead of evaluating it again: for a resident process whose requests declare
    #: different tools (retrieved subsets). 0: only the last prompt's cache (``reuse_prefix``) is kept
    prefix_states: int = 0

    def __post_init__(self) -> None:
        self._llm: Any = None
        self._decoder: Any = None
        self._grammars: dict[str, Grammar] = {}
        self._prefixes: Any = None
        if not Path(self.model_path).is_file():
            raise StudentModelMissing(f"no GGUF at {self.model_path}: export one with `python -m finetune export`")
        self.thresholds: dict[str, tuple[int, float]] = {}
        if self.calibrate:
            from interpreters.calibration import Calibration, calibration_path

            found = calibration_path(self.model_path)
            if found.is_file():
                self.thresholds = Calibration.load(found).as_decoder_thresholds()

    def _model(self) -> Any:
        if self._llm is None:
            path = Path(self.model_path)
            try:
                import llama_cpp
            except ImportError:
                raise StudentModelMissing("llama-cpp-python is missing: pip install -e '.[llamacpp]'") from None
            self._llm = llama_cpp.Llama(str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
        return self._llm

    def decoder(self) -> Any:
        """The :class:`~interpreters.grammar_decoding.GrammarDecoder` over the loaded model."""
        if self._decoder is None:
            from interpreters.grammar_decoding import GrammarDecoder

            self._decoder = GrammarDecoder(self._model())
        return self._decoder

    def grammar_for(self, tools: Sequence[Mapping[str, Any]], parallel: bool = False) -> Grammar:
        """The call grammar of these tools (OpenAI-style dicts), built once per distinct set of tools."""
        key = json.dumps([tools, parallel], sort_keys=True, default=str)
        if key not in self._grammars:
            if len(self._grammars) > 256:
                self._grammars.clear()
            self._grammars[key] = call_grammar(tools, profile=self.profile, parallel=parallel)
        return self._grammars[key]

    def complete_text(self, prompt: str, grammar: Grammar | None = None) -> Completion:
        """The greedy completion of FunctionGemma text (control tokens kept), under ``grammar`` when given."""
        started = time.perf_counter()
        kept = self._keep_prefix(prompt)
        reuse = self.reuse_prefix or kept
        if grammar is None:
            done = greedy_completion(self._model(), prompt, self.max_tokens, reuse_prefix=reuse)
        else:
            decoded = self.decoder().decode(prompt, grammar, self.max_tokens, reuse_prefix=reuse,
                                            thresholds=self.thresholds)
            done = Completion(decoded.text, decoded.latency_s, decoded.prompt_tokens, decoded.completion_tokens,
                              decoded.stopped_at, decoded.sampled_tokens)
        return replace(done, latency_s=time.perf_counter() - started)

    def _keep_prefix(self, prompt: str) -> bool:
        """With ``prefix_states``: the KV cache made to hold the prompt's declarations (kept, restored or
        evaluated and saved); whether it did."""
        cut = prompt.find(USER_TURN)
        if not self.prefix_states or cut <= 0:
            return False
        decoder = self.decoder()
        if self._prefixes is None:
            from interpreters.grammar_decoding import PrefixCache

            self._prefixes = PrefixCache(self._model(), self.prefix_states)
        prefix = decoder.tokenize(prompt[:cut])
        if decoder.tokenize(prompt)[: len(prefix)] != prefix:  # the cut joined two tokens: no prefix to keep
            return False
        self._prefixes.prime(prefix)
        return True

    @property
    def prefix_found(self) -> str:
        """How the last prompt's declarations were found with ``prefix_states``: ``kept``, ``restored``,
        ``evaluated`` ('' before any, or without ``prefix_states``)."""
        return "" if self._prefixes is None else str(self._prefixes.last)

    async def complete(self, request: ModelRequest) -> ModelReply:
        prompt = student_prompt(request, self.profile)
        grammar = None
        if self.grammar and request.tools:
            grammar = self.grammar_for([tool.openai() for tool in request.tools], request.parallel_calls)
        reply = completion_reply(self.complete_text(prompt, grammar), prompt)
        if self.prefix_states:
            reply.meta["prefix"] = self.prefix_found
        return reply


def completion_reply(done: Completion, prompt: str) -> ModelReply:
    """A FunctionGemma completion as a reply: the codec's calls, or none with ``meta["format_error"]``."""
    meta: dict[str, Any] = {
        "latency_s": done.latency_s,
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "stopped_at": done.stopped_at,
        "sampled_tokens": done.sampled_tokens,
        "request": {"prompt": prompt},
    }
    try:
        calls, content = split_output(done.text)
    except FunctionGemmaFormatError as error:
        meta["format_error"] = str(error)
        return ModelReply(calls=(), reasoning=done.text, raw=done.text, meta=meta)
    return ModelReply(calls=tuple(calls), reasoning=content, raw=done.text, meta=meta)


@dataclass(frozen=True)
class Completion:
    """What a model wrote for one prompt, with its cost."""

    text: str
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    stopped_at: str
    #: the tokens the model chose (the rest were forced by a grammar); all of them without one
    sampled_tokens: int = -1

    def __post_init__(self) -> None:
        if self.sampled_tokens < 0:
            object.__setattr__(self, "sampled_tokens", self.completion_tokens)


def greedy_completion(llm: Any, prompt: str, max_tokens: int = 256, *, reuse_prefix: bool = False) -> Completion:
    """Greedy decoding of FunctionGemma text with a loaded ``llama_cpp.Llama``, stopping at the stop tokens.

    With ``reuse_prefix`` the KV cache of the previous prompt is kept, and llama.cpp evaluates only the tokens
    after the longest common prefix (it re-evaluates everything where the cache cannot be cut)."""
    started = time.perf_counter()
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    pieces: list[bytes] = []
    text = ""
    stop = ""
    if not reuse_prefix:
        llm.reset()
    for count, token in enumerate(llm.generate(tokens, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0)):
        if token == llm.token_eos() or count >= max_tokens:
            break
        pieces.append(llm.detokenize([token], special=True))
        text = b"".join(pieces).decode("utf-8", errors="replace")
        stop = next((s for s in STOP_SEQUENCES if text.endswith(s)), "")
        if stop:
            break
    stopped = stop or ("max_tokens" if len(pieces) >= max_tokens else "eos")
    return Completion(text, time.perf_counter() - started, len(tokens), len(pieces), stopped)
