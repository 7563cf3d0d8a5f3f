"""teacher.record --queries auto on the sample repository: real jedi server, heuristic backend, recorded proposals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from teacher.propose import doc_summary, python_files
from teacher.record import main
from tests.conftest import SAMPLE_REPO


def _logs(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted((out / "sessions").glob("*.jsonl"))}


def test_proposed_queries_are_recorded_deduplicated_bounded_and_resumable(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--repo", str(SAMPLE_REPO), "--queries", "auto", "--teacher", "heuristic", "--out", str(out),
            "--query-count", "5", "--per-module", "2", "--budget", "4", "--no-invert"]
    assert main(argv) == 0
    logs = _logs(out)
    proposals = {k: v for k, v in logs.items() if k.startswith("propose-")}
    explorations = {k: v for k, v in logs.items() if not k.startswith("propose-")}
    assert proposals and len(explorations) == 5
    turns = [r for log in proposals.values() for r in log if r["kind"] == "model"]
    assert turns and all(r["task"] == "propose_queries" for r in turns)
    topics = [next(r for r in log if r["kind"] == "session_start")["query"]["topic"] for log in explorations.values()]
    assert len(set(topics)) == 5
    proposed = [q["topic"] for log in proposals.values() for r in log if r["kind"] == "session_end"
                for q in r["result"]["queries"]]
    assert set(topics) <= set(proposed)
    assert main(argv) == 2  # an output holding these proposals is refused without --resume
    assert main([*argv, "--resume"]) == 0
    assert _logs(out) == logs  # the same queries, nothing asked again


def test_python_files_and_doc_summaries() -> None:
    files = list(python_files(SAMPLE_REPO))
    assert "shop/pricing.py" in files and not any(f.startswith("tests/") for f in files)
    hover = "```python\ndef send(request: Request) -> Response\n```\n---\nSend a request.  Then wait.\n\nMore."
    assert doc_summary(hover) == "Send a request."
    assert doc_summary("```python\nx: int\n```") == ""
