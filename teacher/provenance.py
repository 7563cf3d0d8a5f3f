"""Provenance: the project's version and the versions of the packages that shape its artifacts, and the codec
profile that travels with the data and the model.

Written into recordings (each session's ``session_start``), ``training.json`` and the GGUF's metadata, so an
artifact says what made it. Only installed packages are listed; nothing is imported to find a version.

The profile goes ``stats.json`` (the data) -> ``training.json`` and ``functiongemma_provenance.json`` (each trained
or merged model) -> the GGUF's ``functiongemma.profile`` / ``functiongemma.versions`` keys (llama.cpp's quantizer
copies them) -> ``finetune modelfile``, ``finetune eval`` and the ``hf`` backend, which refuse a mismatch in one line
or read the profile to render prompts with (:func:`model_profile`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from teacher.errors import FineTrainingError

__all__ = ["GGUF_PROFILE", "GGUF_VERSIONS", "PACKAGES", "PROJECT", "PROVENANCE_FILE", "ProfileMismatch",
           "data_profile", "model_profile", "package_versions", "resolve_profile", "write_provenance"]

PROJECT = "fine-training-teacher"

#: the distributions whose versions change what is recorded, rendered, trained or exported
PACKAGES = ("pydantic", "anthropic", "multilspy", "jedi-language-server", "torch", "transformers", "trl", "peft",
            "datasets", "accelerate", "sentencepiece", "gguf", "llama-cpp-python")


@cache
def package_versions() -> dict[str, str]:
    """``{distribution: version}`` for the project (first) and each installed package of :data:`PACKAGES`."""
    found: dict[str, str] = {}
    for name in (PROJECT, *PACKAGES):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


PROVENANCE_FILE = "functiongemma_provenance.json"
GGUF_PROFILE = "functiongemma.profile"
GGUF_VERSIONS = "functiongemma.versions"
DEFAULT_PROFILE = "hf"


class ProfileMismatch(ValueError, FineTrainingError):
    """Artifacts (or a flag) that disagree on the codec profile; the message names each and its profile."""


def data_profile(data: Path) -> str | None:
    """The profile ``stats.json`` records for a dataset (a directory, or a JSONL file beside it), or None; None
    for ``messages`` data too, which training renders with whichever profile it is asked for."""
    from converters.dataset_stats import read_stats

    stats = read_stats(data)
    return stats.profile if stats is not None and stats.format != "messages" else None


def model_profile(model: Path) -> str | None:
    """The profile a model directory's provenance file or a GGUF's metadata records, or None."""
    if model.is_dir():
        file = model / PROVENANCE_FILE
        return json.loads(file.read_text(encoding="utf-8")).get("profile") if file.is_file() else None
    if not model.is_file():
        return None
    import gguf

    try:
        field = gguf.GGUFReader(str(model)).fields.get(GGUF_PROFILE)
    except (ValueError, OSError) as error:
        raise ProfileMismatch(f"{model}: not a readable GGUF ({error})") from None
    return str(field.contents()) if field is not None else None


def resolve_profile(given: str | None, data: Path | None = None, models: Sequence[Path] = ()) -> str:
    """The one profile of ``data`` and ``models`` (what they record) and ``given`` (a flag); refuses any
    disagreement in one line. Nothing recorded and nothing given: ``hf``, the pipeline's default."""
    recorded = [(str(data), data_profile(data))] if data is not None else []
    recorded += [(str(m), model_profile(m)) for m in models]
    known = [(where, p) for where, p in recorded if p is not None]
    profiles = {p for _, p in known} | ({given} if given else set())
    if len(profiles) > 1:
        said = ", ".join(f"{where} is {p!r}" for where, p in known)
        flag = f"--profile is {given!r}; " if given else ""
        raise ProfileMismatch(f"codec profiles disagree: {flag}{said}: rebuild and train with one --profile")
    return profiles.pop() if profiles else DEFAULT_PROFILE


def write_provenance(model_dir: Path, profile: str, **extra: Any) -> dict[str, Any]:
    """Write the provenance file of a saved model (its profile and the package versions); returns its content."""
    content = {"profile": profile, "versions": package_versions(), **extra}
    (model_dir / PROVENANCE_FILE).write_text(json.dumps(content, indent=2), encoding="utf-8")
    return content
