"""One table of model backends (:data:`BACKENDS`), and everything a command line needs from it.

| spec | backend | roles |
|---|---|---|
| ``heuristic`` | :class:`~interpreters.heuristic.HeuristicModel`, offline rules | teacher |
| ``haiku`` or ``haiku:MODEL`` | :class:`~interpreters.anthropic.AnthropicTeacher` (``ANTHROPIC_API_KEY``) | teacher |
| ``replay:DIR`` | :class:`~interpreters.replay.Replay` of the recordings under ``DIR`` | teacher |
| ``ollama:NAME`` | :class:`~interpreters.ollama.OllamaStudent` serving model ``NAME`` (``OLLAMA_HOST``) | both |
| ``gguf:PATH`` | :class:`~interpreters.llamacpp.LlamaCppStudent`, the GGUF in-process | both |
| ``hf:DIR`` | :class:`~interpreters.hf.HfModel`, a Hugging Face checkpoint through transformers | both |

Each row (a :class:`Backend`) says its value's placeholder, its roles, the credentials it needs, the options
its constructor takes and how it is built (its client library imported only then). Any backend can teach; a
student is one a training run produces. :data:`USAGE`, :func:`parse_backend_spec`, :func:`check_credentials`
and :func:`build_backend` read the table, and :func:`add_backend_flag` gives every command line the same flag,
checked at parse time with one line of error. A new backend is one module plus one :func:`register_backend` row.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from interpreters.ollama import DEFAULT_OLLAMA_MODEL
from teacher.errors import FineTrainingError
from teacher.model import ModelBackend

__all__ = [
    "BACKENDS", "BACKEND_KINDS", "CREDENTIALS", "USAGE", "Backend", "BackendFlag",
    "BackendKind", "BackendSpec", "BackendSpecError", "BackendUnavailable", "MissingCredential", "Role",
    "add_backend_flag", "add_ollama_flags", "backend_row", "build_backend", "check_credentials", "parse_backend_spec",
    "register_backend", "spec_from_flags", "usage",
]

Role = Literal["teacher", "student"]
#: a backend's name, the part of a spec before ``:`` (a key of :data:`BACKENDS`)
BackendKind = str


class BackendSpecError(ValueError, FineTrainingError):
    """A backend spec that names no known backend, or lacks its value."""

    exit_code = 2


class MissingCredential(BackendSpecError):
    """A backend that needs a credential the environment does not hold (the message names the variable only)."""


class BackendUnavailable(BackendSpecError):
    """A backend whose code or library is not installed here."""


@dataclass(frozen=True)
class Backend:
    """One row of the backend table: a kind of backend and all a command line needs to know of it.

    ``build(value, **options)`` constructs it, importing its client only then; ``value`` is the placeholder
    of the text after ``KIND:`` (``""``: none taken), optional when ``value_optional``; ``credentials`` are
    environment variables any one of which it needs; ``options`` the constructor options a command may offer."""

    kind: str
    summary: str
    #: ``"module:name"`` (an entry point: the callable ``name``, dotted for a class's method, of ``module``,
    #: imported only when a backend is built) or the callable itself; called as ``build(value, **options)``
    build: str | Callable[..., ModelBackend]
    value: str = ""
    value_optional: bool = False
    roles: frozenset[Role] = frozenset({"teacher"})
    credentials: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    #: the extra of the distribution that brings what its module imports (named when it cannot be imported)
    extra: str = ""

    @property
    def usage(self) -> str:
        """How a spec of this kind is written: ``haiku[:MODEL]``, ``gguf:PATH``, ``heuristic``."""
        if not self.value:
            return self.kind
        return f"{self.kind}[:{self.value}]" if self.value_optional else f"{self.kind}:{self.value}"

    def builder(self) -> Callable[..., ModelBackend]:
        """The callable that builds this backend, its module imported now; :class:`BackendUnavailable` when the
        module (or a library it imports) is not installed here."""
        if not isinstance(self.build, str):
            return self.build
        module, _, name = self.build.partition(":")
        try:
            found: Any = importlib.import_module(module)
        except ImportError as error:
            missing = error.name or str(error)
            hint = f"; pip install -e '.[{self.extra}]'" if self.extra else ""
            raise BackendUnavailable(f"{self.kind} backend not available here ({missing} cannot be imported{hint})"
                                     ) from None
        for attribute in name.split("."):
            found = getattr(found, attribute)
        built: Callable[..., ModelBackend] = found
        return built


_BOTH: frozenset[Role] = frozenset({"teacher", "student"})
#: the environment variables either of which lets the Anthropic client authenticate
CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")

#: the backend table, by kind: one row per backend (:func:`register_backend` adds one)
BACKENDS: dict[str, Backend] = {row.kind: row for row in (
    Backend("heuristic", "offline rules, no model", "interpreters.heuristic:HeuristicModel.from_spec"),
    Backend("haiku", "Claude through the Anthropic API", "interpreters.anthropic_batch:haiku_teacher",
            value="MODEL", value_optional=True, credentials=CREDENTIALS,
            options=("max_tokens", "concurrency", "budget", "thinking_tokens", "timeout", "turn_timeout", "seed",
                     "batch")),
    Backend("replay", "the recorded answers under DIR", "interpreters.replay:Replay.from_path", value="DIR",
            options=("on_miss",)),
    Backend("ollama", "a model served by Ollama (OLLAMA_HOST)", "interpreters.ollama:OllamaStudent", value="NAME",
            roles=_BOTH, options=("host", "timeout", "retries", "on_invalid")),
    Backend("gguf", "a GGUF run in-process by llama.cpp", "interpreters.llamacpp:LlamaCppStudent", value="PATH",
            roles=_BOTH, extra="llamacpp",
            options=("n_ctx", "max_tokens", "n_threads", "reuse_prefix", "prefix_states", "grammar", "calibrate")),
    Backend("hf", "a Hugging Face checkpoint through transformers", "interpreters.hf:HfModel", value="DIR",
            roles=_BOTH, extra="finetune", options=("max_tokens", "precision", "device")),
)}


def usage(kinds: Iterable[str] | None = None) -> str:
    """The specs ``kinds`` (every backend when None) accept, as one phrase: ``heuristic, haiku[:MODEL] ... or
    hf:DIR``."""
    shown = [BACKENDS[kind].usage for kind in (BACKENDS if kinds is None else kinds)]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


#: the specs the built-in backends accept
USAGE = usage()
#: the kinds of the built-in backends
BACKEND_KINDS: tuple[str, ...] = tuple(BACKENDS)


def register_backend(row: Backend) -> Backend:
    """Add ``row`` to the table (a new backend: its module plus this one call); a kind already there is an
    error."""
    if row.kind in BACKENDS:
        raise ValueError(f"backend {row.kind!r} is already registered")
    BACKENDS[row.kind] = row
    return row


@dataclass(frozen=True)
class BackendSpec:
    """A parsed spec: the kind of backend and its value (model name, directory or path; '' when none)."""

    kind: BackendKind
    value: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


def backend_row(kind: str) -> Backend:
    """The table's row for ``kind``; :class:`BackendSpecError` naming what is accepted."""
    if kind not in BACKENDS:
        raise BackendSpecError(f"unknown backend {kind!r}: use {usage()}")
    return BACKENDS[kind]


def parse_backend_spec(text: str) -> BackendSpec:
    """``KIND`` or ``KIND:VALUE`` as a :class:`BackendSpec`; :class:`BackendSpecError` for anything else."""
    kind, _, value = text.strip().partition(":")
    if kind not in BACKENDS:
        raise BackendSpecError(f"unknown backend {text!r}: use {usage()}")
    row = BACKENDS[kind]
    if row.value and not row.value_optional and not value:
        raise BackendSpecError(f"backend {kind!r} needs a value: {row.usage}")
    if not row.value and value:
        raise BackendSpecError(f"backend {kind!r} takes no value, got {text!r}")
    return BackendSpec(kind, value)


def spec_from_flags(
    text: str, *, flag: str = "--student", gguf: Path | str | None = None, ollama_model: str | None = None,
    replay_from: Path | str | None = None, model: str | None = None, hf: Path | str | None = None,
) -> BackendSpec:
    """A spec from a backend flag as commands took it before specs: ``llamacpp`` (with ``gguf``), a bare
    ``ollama`` (the model ``ollama_model``), a bare ``replay`` (``replay_from``), a bare ``hf`` (``hf``),
    ``haiku`` (``model``, when given); any other text is parsed as a spec. :class:`BackendSpecError` names
    ``flag`` and what is missing."""
    companions: dict[str, tuple[str, Path | str | None]] = {
        "llamacpp": ("--gguf PATH", gguf), "replay": ("--replay-from DIR", replay_from), "hf": ("--hf DIR", hf),
    }
    if text in companions:
        kind = "gguf" if text == "llamacpp" else text
        companion, value = companions[text]
        if not value:
            raise BackendSpecError(f"{flag} {text} needs {companion} (or use {flag} {BACKENDS[kind].usage})")
        return BackendSpec(kind, str(value))
    if text == "ollama" and ollama_model:
        return BackendSpec("ollama", ollama_model)
    if text == "haiku" and model:
        return BackendSpec("haiku", model)
    return parse_backend_spec(text)


def _spec(spec: BackendSpec | str) -> BackendSpec:
    return parse_backend_spec(spec) if isinstance(spec, str) else spec


def check_credentials(spec: BackendSpec | str) -> None:
    """:class:`MissingCredential` when the backend needs a credential that is not in the environment."""
    spec = _spec(spec)
    needed = backend_row(spec.kind).credentials
    if needed and not any(os.environ.get(name) for name in needed):
        raise MissingCredential(f"backend {spec.kind!r} needs {needed[0]} in the environment "
                                "(or use the heuristic backend, offline)")


def build_backend(spec: BackendSpec | str, offered: Mapping[str, Any] | None = None, **options: Any) -> ModelBackend:
    """The backend a spec names, built by its row; ``options`` go to its constructor (``n_ctx=``, ``host=``,
    ``budget=``, ...), and of ``offered`` (a command's options for whichever kind it gets) those its row takes."""
    spec = _spec(spec)
    row = backend_row(spec.kind)
    check_credentials(spec)
    taken = {name: value for name, value in (offered or {}).items() if name in row.options and value is not None}
    return row.builder()(spec.value, **(taken | options))


#: the bare word a backend flag took before specs for each companion flag (:func:`spec_from_flags`)
_OLDER_WORDS = {"gguf": "llamacpp", "hf": "hf", "ollama": "ollama", "replay": "replay"}


class _SpecAction(argparse.Action):
    """Checks a backend flag's text when it is parsed: one line naming the flag and its value."""

    def __init__(self, *args: Any, legacy: frozenset[str] = frozenset(), bare: str | None = None,
                 **options: Any) -> None:
        self.legacy, self.bare = legacy, bare
        super().__init__(*args, **options)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        text = str(values)
        if text in self.legacy:
            setattr(namespace, self.dest, text)
            return
        if self.bare is not None and text.partition(":")[0] not in BACKENDS:
            text = f"{self.bare}:{text}"  # --gguf PATH: the value alone
        try:
            spec = parse_backend_spec(text)
            if self.bare is not None and spec.kind != self.bare:
                raise BackendSpecError(f"this flag takes {BACKENDS[self.bare].usage} only")
        except BackendSpecError as error:
            parser.error(f"{option_string or self.dest} {values}: {error}")
        setattr(namespace, self.dest, Path(spec.value) if self.bare is not None else text)


@dataclass(frozen=True)
class BackendFlag:
    """A backend flag added by :func:`add_backend_flag`; :meth:`spec` reads it after parsing."""

    flag: str
    dest: str
    role: Role
    only_role: bool
    companions: frozenset[str]

    def spec(self, parser: argparse.ArgumentParser, args: argparse.Namespace, **older: Any) -> BackendSpec | None:
        """The spec given (None when the flag was not), the older spellings resolved (``llamacpp`` with
        ``--gguf``, a bare ``ollama``, ``hf`` or ``replay`` with their companions, and ``older``: ``model=``,
        ``replay_from=``); any problem is ``parser.error`` of one line naming the flag."""
        text = getattr(args, self.dest)
        if text is None:
            return None
        found = {"gguf": getattr(args, "gguf", None), "hf": getattr(args, "hf", None),
                 "ollama_model": getattr(args, "ollama_model", None)} | older
        try:
            spec = spec_from_flags(text, flag=self.flag, **found)
        except BackendSpecError as error:
            said = str(error)
            parser.error(said if said.startswith(self.flag) else f"{self.flag} {text}: {said}")
        if self.only_role and self.role not in BACKENDS[spec.kind].roles:
            kinds = [kind for kind, row in BACKENDS.items() if self.role in row.roles]
            named = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
            parser.error(f"{self.flag} {text}: a {self.role} is {named}")
        return spec


def add_backend_flag(
    parser: argparse.ArgumentParser | Any, role: Role = "student", *, flag: str | None = None,
    help: str | None = None, default: str | None = None, required: bool = False, metavar: str | None = "SPEC",
    companions: Iterable[Literal["gguf", "hf", "ollama"]] = (), only_role: bool = False,
    older: Iterable[Literal["gguf", "hf", "ollama", "replay"]] = (), bare: str | None = None,
) -> BackendFlag:
    """Add ``--student``/``--teacher`` (``flag``, by default ``--ROLE``) to ``parser`` (a parser or a group): a spec
    checked as it is parsed. ``companions`` adds the older flags a bare word takes its value from (``gguf``:
    ``--gguf PATH`` for ``llamacpp``; ``hf``: ``--hf DIR``; ``ollama``: ``--ollama-model`` and ``--ollama-host``);
    ``older`` accepts the bare words of companions the command adds itself (``replay`` with ``--replay-from``);
    ``only_role`` refuses a kind whose row lacks ``role``. Read the spec with :meth:`BackendFlag.spec`. With
    ``bare`` (a kind), the flag is that kind's value alone or its spec (``--gguf PATH``, ``--gguf gguf:PATH``),
    stored as a ``Path`` in ``args``."""
    companions = frozenset(companions)
    words = frozenset(_OLDER_WORDS[name] for name in companions | frozenset(older))
    flag = flag or f"--{role}"
    parser.add_argument(flag, action=_SpecAction, legacy=words, bare=bare, default=default, required=required,
                        metavar=metavar, help=help or f"the {role}: {usage()}")
    if "gguf" in companions:
        parser.add_argument("--gguf", type=Path, help=f"the {role}'s GGUF ({flag} llamacpp)")
    if "hf" in companions:
        parser.add_argument("--hf", type=Path, metavar="DIR", help=f"the {role}'s model folder ({flag} hf)")
    if "ollama" in companions:
        add_ollama_flags(parser)
    return BackendFlag(flag, flag.lstrip("-").replace("-", "_"), role, only_role, companions)


def add_ollama_flags(parser: argparse.ArgumentParser | Any) -> None:
    """``--ollama-model`` and ``--ollama-host``: where an Ollama student is served (``args.ollama_model``,
    ``args.ollama_host``)."""
    group = parser.add_argument_group("Ollama student")
    group.add_argument("--ollama-model", default=DEFAULT_OLLAMA_MODEL, metavar="NAME",
                       help="the student's Ollama model (for a bare 'ollama' backend)")
    group.add_argument("--ollama-host", metavar="URL",
                       help="Ollama host (unset: OLLAMA_HOST, else http://127.0.0.1:11434)")
