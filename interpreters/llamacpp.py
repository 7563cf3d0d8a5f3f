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

llama.cpp's own messages (the model loader's metadata dump, context notes, the quantizer's tensor list) go to the
``interpreters.llamacpp.native`` logger at DEBUG, one record a line (:func:`llama_cpp_module`), so a command line
shows them only with ``-v``; :func:`captured_llama_cpp_lines` keeps them for an error message.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from converters.functiongemma import START_TURN, STOP_SEQUENCES, FunctionGemmaFormatError, Profile, split_output
from converters.functiongemma_grammar import Grammar, call_grammar
from interpreters.thresholds import Calibration, calibration_path
from teacher.model import ModelBackend, ModelReply, ModelRequest, student_prompt
from teacher.operations import OperationFailed

#: where a prompt's user turn starts: the text before it (the declarations) is the prefix ``prefix_states`` keeps
USER_TURN = START_TURN + "user"

__all__ = [
    "NATIVE_LOG",
    "USER_TURN",
    "Completion",
    "LlamaCppStudent",
    "StudentModelMissing",
    "captured_llama_cpp_lines",
    "completion_reply",
    "greedy_completion",
    "llama_cpp_module",
    "open_llama",
]

#: where llama.cpp's own messages go, every one at DEBUG (its errors too: the caller raises its own, one line)
NATIVE_LOG = logging.getLogger(__name__ + ".native")


class _NativeLines:
    """llama.cpp's log callback: pieces of text joined into lines, each logged to :data:`NATIVE_LOG` and kept by
    every open :func:`captured_llama_cpp_lines`."""

    def __init__(self) -> None:
        self.partial = ""
        self.captures: list[list[str]] = []
        self.callback: Any = None  # the ctypes callback, kept alive as long as llama.cpp may call it

    def write(self, text: bytes) -> None:
        try:
            *lines, self.partial = (self.partial + text.decode("utf-8", "replace")).split("\n")
            for line in lines:
                self.line(line)
        except Exception:  # an exception must not cross into llama.cpp's C code
            pass

    def line(self, line: str) -> None:
        for capture in self.captures:
            capture.append(line)
        NATIVE_LOG.debug("%s", line)

    def flush(self) -> None:
        if self.partial:
            line, self.partial = self.partial, ""
            self.line(line)


_NATIVE = _NativeLines()


def llama_cpp_module() -> Any:
    """``llama_cpp``, with llama.cpp's messages routed to :data:`NATIVE_LOG` (once: later calls only return it).

    Raises ``ImportError`` when llama-cpp-python is not installed."""
    import llama_cpp

    if _NATIVE.callback is None:
        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            _NATIVE.write(text)

        _NATIVE.callback = callback
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return llama_cpp


@contextlib.contextmanager
def captured_llama_cpp_lines() -> Iterator[list[str]]:
    """The lines llama.cpp logs while the block runs (to say why a native call failed), also logged as usual."""
    lines: list[str] = []
    _NATIVE.captures.append(lines)
    try:
        yield lines
    finally:
        _NATIVE.flush()
        _NATIVE.captures.remove(lines)


def open_llama(path: str | Path, **options: Any) -> Any:
    """``llama_cpp.Llama`` over the GGUF at ``path`` (``options``: ``n_ctx``, ``n_threads``, ...), its messages routed
    to :data:`NATIVE_LOG`; llama-cpp-python's own verbose output only when that logger shows DEBUG (``-v``)."""
    llama_cpp = llama_cpp_module()
    return llama_cpp.Llama(str(path), verbose=NATIVE_LOG.isEnabledFor(logging.DEBUG), **options)


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
            found = calibration_path(self.model_path)
            if found.is_file():
                self.thresholds = Calibration.load(found).as_decoder_thresholds()

    def _model(self) -> Any:
        if self._llm is None:
            try:
                llama_cpp_module()
            except ImportError:
                raise StudentModelMissing("llama-cpp-python is missing: pip install -e '.[llamacpp]'") from None
            self._llm = open_llama(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads)
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
