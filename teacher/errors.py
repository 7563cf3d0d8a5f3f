"""The root of the library's exceptions: every error the library raises derives from :class:`FineTrainingError`.

Callers read what an error means from its declared attributes instead of probing with ``getattr``: whether it
ends the whole run (``fatal``), whether the same request may succeed later (``transient``), whether a request
went out at all (``sent``), a short machine-readable ``reason`` and the ``exit_code`` a command line ends with.
Each library class keeps its builtin base as well (``ValueError``, ``OSError``, ...), so ``except ValueError``
still catches it.
"""

from __future__ import annotations

__all__ = ["FineTrainingError"]


class FineTrainingError(Exception):
    """Base class of the library's errors, with the attributes callers may read on any of them."""

    #: no later request can do better (a student's server is down): a walk stops instead of skipping a symbol
    fatal: bool = False
    #: the failure may pass (a language server's timeout): its answer is not cached, a resume asks again
    transient: bool = False
    #: a request was sent (False: refused before asking, e.g. the budget is spent, so there is no turn to record)
    sent: bool = True
    #: a short reason recorded with a failed turn ('' when none: the class name is used)
    reason: str = ""
    #: the exit code a command line returns for this error (2 for usage, 1 for data)
    exit_code: int = 1
