"""``python -m tasks.subagents.lint.generate_examples --count N --split 0.9 --seed S --out DIR``."""

from __future__ import annotations

import sys

from tasks.subagents.generate import main
from tasks.subagents.lint.examples import LintExamples

if __name__ == "__main__":
    sys.exit(main(LintExamples()))
