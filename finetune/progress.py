"""Where the training stages report progress by default: the ``finetune.progress`` logger, one INFO record a line
(a command line shows them on stderr with :func:`teacher.cli_args.configure_logging`). A stage's ``progress``
parameter takes any text stream instead, or None for silence."""

from __future__ import annotations

import logging

from teacher.cli_args import log_stream

__all__ = ["PROGRESS"]

PROGRESS = log_stream(logging.getLogger(__name__))
