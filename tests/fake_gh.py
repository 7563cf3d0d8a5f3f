"""A fake ``gh`` program for the CLI-intent runtime: it logs each run's argv (one JSON list a line) and answers
``gh pr view --json number`` with a PR number, so context providers and executions can be checked.

Environment: ``FAKE_GH_LOG`` (the log, required to run commands), ``FAKE_GH_PR`` (the PR number, default 42),
``FAKE_GH_EXIT`` (the exit code of a run), ``FAKE_GH_SLEEP`` (seconds to wait first, for timeouts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["install_fake_gh", "logged_runs"]

FAKE_GH = """#!{python}
import json, os, sys, time
args = sys.argv[1:]
if os.environ.get("FAKE_GH_SLEEP"):
    time.sleep(float(os.environ["FAKE_GH_SLEEP"]))
if args[:2] == ["pr", "view"] and "--json" in args:
    print(os.environ.get("FAKE_GH_PR", "42"))
    sys.exit(0)
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
sys.exit(int(os.environ.get("FAKE_GH_EXIT", "0")))
"""


def install_fake_gh(bin_dir: Path) -> Path:
    """Write the fake ``gh`` into ``bin_dir`` (created) and return its path; put ``bin_dir`` first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / "gh"
    program.write_text(FAKE_GH.format(python=sys.executable))
    program.chmod(0o755)
    return program


def logged_runs(log: Path) -> list[list[str]]:
    """The argv of every run the fake logged, in order."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
