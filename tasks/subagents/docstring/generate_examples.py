"""``python -m tasks.subagents.docstring.generate_examples --count N --split 0.9 --seed S --out DIR``."""

from __future__ import annotations

import sys

from tasks.subagents.docstring.examples import DocstringExamples
from tasks.subagents.generate import main

if __name__ == "__main__":
    sys.exit(main(DocstringExamples()))
