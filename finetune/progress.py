"""Where the training stages report progress by default: the standard error stream current at the time of writing."""

from __future__ import annotations

import sys
from typing import IO, cast

__all__ = ["STDERR"]


class _CurrentStderr:
    """Writes to ``sys.stderr`` as it is when written to; a default bound at import time goes stale when the
    stream is replaced (pytest's capture, a redirected CLI) and then writes to a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR = cast(IO[str], _CurrentStderr())
