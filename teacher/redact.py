"""Credentials out of everything written: :func:`redact` for text, :func:`redact_json` for records.

A credential is the value of an environment variable whose name says it is one (``*API_KEY``, ``*TOKEN*``,
``*SECRET*``, ``*PASSW*``, ``*CREDENTIAL*``; values of 8 characters or more), read at each call so a key set
later is covered too, or anything shaped like an Anthropic key (``sk-ant-...``). Each is replaced by
``[REDACTED]``. Recordings, logs, summaries and error lines all go through here, so a key a server echoes
back in its error message is never written either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "is_secret_name", "redact", "redact_json", "secrets"]

REDACTED = "[REDACTED]"
_SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.IGNORECASE)
_KEY_SHAPE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}")
_MIN_LENGTH = 8


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential (``*API_KEY``, ``*TOKEN*``, ...)."""
    return bool(_SECRET_NAME.search(name))


def secrets(environ: Mapping[str, str] | None = None, min_length: int = _MIN_LENGTH) -> list[str]:
    """The credential values of the environment (``min_length`` characters or more), longest first (so a key
    containing another is replaced whole)."""
    env = os.environ if environ is None else environ
    found = {value for name, value in env.items() if is_secret_name(name) and len(value) >= min_length}
    return sorted(found, key=len, reverse=True)


def _redact(text: str, values: list[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return _KEY_SHAPE.sub(REDACTED, text)


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``[REDACTED]``."""
    return _redact(text, secrets())


def redact_json(value: Any) -> Any:
    """A JSON-ready value with every string (keys included) redacted; the structure is unchanged."""
    values = secrets()

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _redact(item, values)
        if isinstance(item, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value)
