"""Starts a language server that dies with the process that started it, then becomes that server.

``python lsp_launcher.py SERVER [ARGS...]``: on Linux it asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), which survives ``exec``; a recorder killed with SIGKILL then leaves no orphaned
server spinning behind it. Elsewhere it simply runs the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: lsp_launcher.py SERVER [ARGS...]")
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the server runs without the guard
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the guard was set
            sys.exit(1)
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
