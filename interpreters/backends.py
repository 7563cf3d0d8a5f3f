"""One factory for model backends, from a spec string: the same names in every command line and for library users.

| spec | backend |
|---|---|
| ``heuristic`` | :class:`~interpreters.heuristic.HeuristicModel`, offline rules |
| ``haiku`` or ``haiku:MODEL`` | :class:`~interpreters.anthropic.AnthropicTeacher` (``ANTHROPIC_API_KEY``) |
| ``replay:DIR`` | :class:`~interpreters.replay.Replay` of the recordings under ``DIR`` |
| ``ollama:NAME`` | :class:`~interpreters.ollama.OllamaStudent` serving model ``NAME`` (``OLLAMA_HOST``) |
| ``gguf:PATH`` | :class:`~interpreters.llamacpp.LlamaCppStudent`, the GGUF in-process |
| ``hf:DIR`` | :class:`~interpreters.hf.HfModel`, a Hugging Face checkpoint through transformers |

``parse_backend_spec`` checks the text (a :class:`BackendSpecError` says what is wrong and what is accepted);
``build_backend`` checks the credentials a backend needs (:class:`MissingCredential`, which names the variable,
never its value) and constructs it, importing its client library only then. :func:`spec_from_flags` maps the
older flags (``--teacher haiku``, ``--student llamacpp --gguf PATH``, ``--student ollama``) onto specs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from teacher.errors import FineTrainingError
from teacher.model import ModelBackend

__all__ = [
    "BACKEND_KINDS", "CREDENTIALS", "USAGE", "BackendKind", "BackendSpec", "BackendSpecError", "BackendUnavailable",
    "MissingCredential", "build_backend", "check_credentials", "parse_backend_spec", "spec_from_flags",
]

BackendKind = Literal["heuristic", "haiku", "replay", "ollama", "gguf", "hf"]
BACKEND_KINDS: tuple[str, ...] = get_args(BackendKind)
_NEEDS_VALUE = {"replay": "DIR", "ollama": "NAME", "gguf": "PATH", "hf": "DIR"}
USAGE = "heuristic, haiku[:MODEL], replay:DIR, ollama:NAME, gguf:PATH or hf:DIR"
#: the environment variables either of which lets the Anthropic client authenticate
CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


class BackendSpecError(ValueError, FineTrainingError):
    """A backend spec that names no known backend, or lacks its value."""

    exit_code = 2


class MissingCredential(BackendSpecError):
    """A backend that needs a credential the environment does not hold (the message names the variable only)."""


class BackendUnavailable(BackendSpecError):
    """A backend whose code or library is not installed here."""


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


def spec_from_flags(
    text: str, *, flag: str = "--student", gguf: Path | str | None = None, ollama_model: str | None = None,
    replay_from: Path | str | None = None, model: str | None = None, hf: Path | str | None = None,
) -> BackendSpec:
    """A spec from a backend flag as commands took it before specs: ``llamacpp`` (with ``gguf``), a bare
    ``ollama`` (the model ``ollama_model``), a bare ``replay`` (``replay_from``), a bare ``hf`` (``hf``),
    ``haiku`` (``model``, when given); any other text is parsed as a spec. :class:`BackendSpecError` names
    ``flag`` and what is missing."""
    if text == "llamacpp":
        if not gguf:
            raise BackendSpecError(f"{flag} llamacpp needs --gguf PATH (or use {flag} gguf:PATH)")
        return BackendSpec("gguf", str(gguf))
    if text == "ollama" and ollama_model:
        return BackendSpec("ollama", ollama_model)
    if text == "replay":
        if not replay_from:
            raise BackendSpecError(f"{flag} replay needs --replay-from DIR (or use {flag} replay:DIR)")
        return BackendSpec("replay", str(replay_from))
    if text == "hf":
        if not hf:
            raise BackendSpecError(f"{flag} hf needs --hf DIR (or use {flag} hf:DIR)")
        return BackendSpec("hf", str(hf))
    if text == "haiku" and model:
        return BackendSpec("haiku", model)
    return parse_backend_spec(text)


def check_credentials(spec: BackendSpec | str) -> None:
    """:class:`MissingCredential` when the backend needs a credential that is not in the environment."""
    if isinstance(spec, str):
        spec = parse_backend_spec(spec)
    if spec.kind == "haiku" and not any(os.environ.get(name) for name in CREDENTIALS):
        raise MissingCredential(f"backend {spec.kind!r} needs {CREDENTIALS[0]} in the environment "
                                "(or use the heuristic backend, offline)")


def build_backend(spec: BackendSpec | str, **options: Any) -> ModelBackend:
    """The backend a spec names; ``options`` go to its constructor (``n_ctx=``, ``host=``, ``budget=``, ...)."""
    if isinstance(spec, str):
        spec = parse_backend_spec(spec)
    check_credentials(spec)
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
    if spec.kind == "hf":
        return _hf_model(Path(spec.value), **options)
    from interpreters.llamacpp import LlamaCppStudent

    return LlamaCppStudent(spec.value, **options)


def _hf_model(model_dir: Path, **options: Any) -> ModelBackend:
    """``interpreters.hf.HfModel``, imported only now (it brings torch and transformers)."""
    try:
        from interpreters.hf import HfModel  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        missing = error.name or str(error)
        raise BackendUnavailable(f"hf backend not available here ({missing} cannot be imported; "
                                 "pip install -e '.[finetune]')") from None
    model: ModelBackend = HfModel(model_dir, **options)
    return model
