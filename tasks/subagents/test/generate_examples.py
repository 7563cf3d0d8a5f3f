"""``python -m tasks.subagents.test.generate_examples --count N --split 0.9 --seed S --out DIR``."""

from __future__ import annotations

import sys

from tasks.subagents.generate import main
from tasks.subagents.test.examples import TestExamples

if __name__ == "__main__":
    sys.exit(main(TestExamples()))
