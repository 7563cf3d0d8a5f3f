"""Benchmark: the score_edge flags and scores the heuristic teacher gives on real code, now that edges carry it.

Run: ``.venv/bin/python -m benchmarks.edge_flags [--packages anyio,packaging,pydantic,tomlkit,httpx] [--count 6]
[--budget 12]``. For each installed package, ``propose_queries`` (heuristic, offline) proposes ``--count``
queries (2 per module), each is explored over jedi (``--budget`` symbols, depth 3, breadth 5) with the heuristic
teacher, and every scored edge is kept. Prints per package the share of edges on which each flag is true, the
share of each relevance and risk value, and the targets found exhaustive (a ``match``, an isinstance chain); then
the same over all packages, and whether every flag takes both values. ``--markdown`` prints the table as
Markdown (for ``benchmarks/RESULTS.md``). Progress (one line per query) is logged to standard error.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from tasks.score_edge.task import FLAGS
from teacher.cli_args import CommandParser, positive_int
from teacher.explore import ScoredEdge, explore, module_prefix
from teacher.handlers import interpret
from teacher.propose import propose_all

DEFAULT_PACKAGES = "anyio,packaging,pydantic,tomlkit,httpx"
SCORES = (1, 2, 3, 4, 5)
log = logging.getLogger("benchmarks.edge_flags")


@dataclass
class PackageEdges:
    """One package's scored edges and how long they took."""

    name: str
    edges: list[ScoredEdge] = field(default_factory=list)
    queries: int = 0
    wall_s: float = 0.0

    def flag_share(self, flag: str) -> float:
        return sum(bool(getattr(e.score, flag)) for e in self.edges) / max(len(self.edges), 1)

    def score_shares(self, score: str) -> dict[int, float]:
        counts = Counter(getattr(e.score, score) for e in self.edges)
        return {value: counts[value] / max(len(self.edges), 1) for value in SCORES}

    def exhaustive_targets(self) -> list[str]:
        return sorted({e.target for e in self.edges if e.score.is_exhaustive})


async def package_edges(name: str, count: int, budget: int) -> PackageEdges:
    """Propose ``count`` queries for one installed package, explore each, and keep every scored edge."""
    root = Path(importlib.import_module(name).__file__ or "").parent
    prefix = module_prefix(root)
    model = HeuristicModel()
    found = PackageEdges(name)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        async with LspServer(root, timeout=60) as lsp:
            queries = await propose_all(
                root, Path(out), model, lsp, prefix=prefix, count=count, per_module=2,
                defaults={"budget": budget, "max_depth": 3, "breadth": 5}, resume=False,
            )
            async with interpret(lsp, model):
                for number, query in enumerate(queries, start=1):
                    result = await explore(query, module_prefix=prefix)
                    found.edges += result.edges
                    log.info("%s %d/%d: %d symbols, %d edges (%s: %s)", name, number, len(queries),
                             len(result.nodes), len(result.edges), query.seeds[0], query.topic)
    found.queries = len(queries)
    found.wall_s = time.perf_counter() - start
    return found


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def table(runs: list[PackageEdges], markdown: bool) -> list[str]:
    """One row per package and one for all: edges, each flag's true share, each relevance and risk value's share."""
    head = ["package", "queries", "edges", *FLAGS, *(f"relevance {v}" for v in SCORES), *(f"risk {v}" for v in SCORES)]
    total = PackageEdges("all", [e for r in runs for e in r.edges], sum(r.queries for r in runs))
    rows = []
    for run in [*runs, total]:
        relevance, risk = run.score_shares("relevance"), run.score_shares("risk")
        rows.append([run.name, str(run.queries), str(len(run.edges)), *(_percent(run.flag_share(f)) for f in FLAGS),
                     *(_percent(relevance[v]) for v in SCORES), *(_percent(risk[v]) for v in SCORES)])
    if markdown:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in [head, *rows]]


def main() -> int:
    parser = CommandParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--packages", default=DEFAULT_PACKAGES, help="installed packages, comma-separated")
    parser.add_argument("--count", type=positive_int, default=6, help="auto-proposed queries per package")
    parser.add_argument("--budget", type=positive_int, default=12, help="most symbols visited per query")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    names = [p.strip() for p in args.packages.split(",") if p.strip()]
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing or not names:
        parser.error(f"--packages: not installed: {', '.join(missing)}" if missing else "--packages: none given")
    runs = []
    for name in names:
        run = asyncio.run(package_edges(name, args.count, args.budget))
        runs.append(run)
        log.info("%s: %d edges from %d queries in %.0f s", name, len(run.edges), run.queries, run.wall_s)
    print("\n".join(table(runs, args.markdown)))
    for run in runs:
        targets = run.exhaustive_targets()
        print(f"{run.name}: exhaustive targets ({len(targets)}): {', '.join(targets[:6]) or 'none'}")
    edges = [e for r in runs for e in r.edges]
    both = {flag: len({getattr(e.score, flag) for e in edges}) == 2 for flag in FLAGS}
    print("every flag takes both values:", "yes" if all(both.values()) else f"no ({both})")
    for score in ("relevance", "risk"):
        print(f"{score} values taken: {sorted({getattr(e.score, score) for e in edges})}")
    print(f"wall time: {sum(r.wall_s for r in runs):.0f} s")
    return 0 if all(both.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
