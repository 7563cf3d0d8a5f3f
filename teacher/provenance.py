"""Provenance: the project's version and the versions of the packages that shape its artifacts.

Written into recordings (each session's ``session_start``), ``training.json`` and the GGUF's metadata, so an
artifact says what made it. Only installed packages are listed; nothing is imported to find a version.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["PACKAGES", "PROJECT", "package_versions"]

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
