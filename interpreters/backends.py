"""One factory for model backends, from a spec string: the same names in every command line.

| spec | backend |
|---|---|
| ``heuristic`` | :class:`~interpreters.heuristic.HeuristicModel`, offline rules |
| ``haiku`` or ``haiku:MODEL`` | :class:`~interpreters.anthropic.AnthropicTeacher` (``ANTHROPIC_API_KEY``) |
| ``replay:DIR`` | :class:`~interpreters.replay.Replay` of the recordings under ``DIR`` |
| ``ollama:NAME`` | :class:`~interpreters.ollama.OllamaStudent` serving model ``NAME`` (``OLLAMA_HOST``) |
| ``gguf:PATH`` | :class:`~interpreters.llamacpp.LlamaCppStudent`, the GGUF in-process |

``parse_backend_spec`` checks the text (a :class:`BackendSpecError` says what is wrong and what is accepted);
``build_backend`` constructs the backend, importing its client library only then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from teacher.model import ModelBackend

__all__ = ["BACKEND_KINDS", "BackendKind", "BackendSpec", "BackendSpecError", "build_backend", "parse_backend_spec"]

BackendKind = Literal["heuristic", "haiku", "replay", "ollama", "gguf"]
BACKEND_KINDS: tuple[str, ...] = get_args(BackendKind)
_NEEDS_VALUE = {"replay": "DIR", "ollama": "NAME", "gguf": "PATH"}
USAGE = "heuristic, haiku[:MODEL], replay:DIR, ollama:NAME or gguf:PATH"


class BackendSpecError(ValueError):
    """A backend spec that names no known backend, or lacks its value."""


@dataclass(frozen=True)
class BackendSpec:
    """A parsed spec: the kind of backend and its value (model name, directory or path; '' when none)."""

    kind: BackendKind
    value: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


def parse_backend_spec(text: str) -> BackendSpec:
    """``KIND`` or ``KIND:VALUE`` as a :class:`BackendSpec`; :class:`BackendSpecError` for anything else."""
    kind, _, value = text.strip().partition(":")
    if kind not in BACKEND_KINDS:
        raise BackendSpecError(f"unknown backend {text!r}: use {USAGE}")
    if kind in _NEEDS_VALUE and not value:
        raise BackendSpecError(f"backend {kind!r} needs a value: {kind}:{_NEEDS_VALUE[kind]}")
    if kind == "heuristic" and value:
        raise BackendSpecError(f"backend 'heuristic' takes no value, got {text!r}")
    return BackendSpec(kind, value)  # type: ignore[arg-type]  # checked against BACKEND_KINDS above


def build_backend(spec: BackendSpec | str, **options: Any) -> ModelBackend:
    """The backend a spec names; ``options`` go to its constructor (``n_ctx=``, ``host=``, ``budget=``, ...)."""
    if isinstance(spec, str):
        spec = parse_backend_spec(spec)
    if spec.kind == "heuristic":
        from interpreters.heuristic import HeuristicModel

        return HeuristicModel()
    if spec.kind == "haiku":
        from interpreters.anthropic import DEFAULT_MODEL, AnthropicTeacher

        return AnthropicTeacher(model=spec.value or DEFAULT_MODEL, **options)
    if spec.kind == "replay":
        from interpreters.replay import Replay

        return Replay.from_path(spec.value, **options)
    if spec.kind == "ollama":
        from interpreters.ollama import OllamaStudent

        return OllamaStudent(model=spec.value, **options)
    from interpreters.llamacpp import LlamaCppStudent

    return LlamaCppStudent(spec.value, **options)
