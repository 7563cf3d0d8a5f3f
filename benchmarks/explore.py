"""Benchmark: explore real installed packages with the heuristic teacher over jedi, on auto-proposed queries.

Run: ``.venv/bin/python -m benchmarks.explore [--packages httpx,click,requests,jinja2,urllib3] [--queries 10]``.
For each package, ``propose_queries`` (heuristic, offline) proposes the queries (2 per module), then each is
explored (budget 20, depth 3, breadth 5). Prints per query the symbols visited and the edges scored, then per
package and overall: median symbols and edges per query, queries that ended after their seed, examples (model
turns) per minute of wall time and per hour per core (wall rate halved: the explorer and the language server are
two processes), and the LSP cache hit ratio. ``--cache-compare`` runs the older measure instead: one
exploration of ``--package`` with the per-session cache on and off.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from teacher.cli_args import CommandParser, positive_int
from teacher.explore import Exploration, TeachQuery, explore, module_prefix
from teacher.handlers import interpret
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.propose import propose_all


class Counting(ModelBackend):
    """The heuristic teacher, counting the turns it answers (each is one training example)."""

    def __init__(self) -> None:
        self.inner = HeuristicModel()
        self.turns = 0

    async def complete(self, request: ModelRequest) -> ModelReply:
        self.turns += 1
        return await self.inner.complete(request)


@dataclass
class Figures:
    """One package's run: per-query symbols and edges, turns, times, LSP cache use."""

    symbols: list[int] = field(default_factory=list)
    edges: list[int] = field(default_factory=list)
    turns: int = 0
    wall_s: float = 0.0
    cache_hits: int = 0
    asked: int = 0


async def package_run(name: str, count: int) -> Figures:
    """Propose ``count`` queries for one package and explore each; the figures of that package."""
    root = Path(importlib.import_module(name).__file__ or "").parent
    model = Counting()
    symbols: list[int] = []
    edges: list[int] = []
    wall_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        lsp = LspServer(root, timeout=60)
        async with lsp:
            queries = await propose_all(
                root, Path(out), model, lsp, prefix=module_prefix(root), count=count, per_module=2,
                defaults={"budget": 20, "max_depth": 3, "breadth": 5}, resume=False,
            )
            async with interpret(lsp, model):
                for query in queries:
                    result: Exploration = await explore(query, module_prefix=module_prefix(root))
                    symbols.append(len(result.nodes))
                    edges.append(len(result.edges))
                    print(f"  {name}: {len(result.nodes):2d} symbols, {len(result.edges):2d} edges  "
                          f"{query.seeds[0]}: {query.topic}")
        stats = lsp.stats
    wall = time.perf_counter() - wall_start
    asked = stats.requests + stats.cache_hits
    return Figures(symbols, edges, model.turns, wall, stats.cache_hits, asked)


def _line(label: str, runs: list[Figures]) -> str:
    symbols = [s for r in runs for s in r.symbols]
    edges = [e for r in runs for e in r.edges]
    turns = sum(r.turns for r in runs)
    wall = sum(r.wall_s for r in runs)
    hits = sum(r.cache_hits for r in runs)
    asked = sum(r.asked for r in runs)
    seed_only = sum(1 for s in symbols if s <= 1)
    return (
        f"{label}: {len(symbols)} queries, median {statistics.median(symbols or [0]):g} symbols and "
        f"{statistics.median(edges or [0]):g} scored edges per query, {seed_only} ended after the seed, "
        f"{turns} examples in {wall:.1f} s ({turns / wall * 60:.0f}/min, {turns / wall * 3600 / 2:.0f} per hour per "
        f"core counting the explorer and jedi as two busy cores), cache hit ratio {hits / max(asked, 1):.2f}"
    )


async def auto(packages: list[str], count: int) -> None:
    runs = []
    for name in packages:
        run = await package_run(name, count)
        runs.append(run)
        print(_line(name, [run]))
    print(_line("all", runs))


async def measure(root: Path, query: TeachQuery, cache: bool) -> tuple[Exploration, LspServer, float]:
    """One exploration; returns the result, the server (for its stats) and the wall time."""
    lsp = LspServer(root, cache=cache, timeout=60)
    start = time.perf_counter()
    async with lsp, interpret(lsp, HeuristicModel()):
        result = await explore(query, module_prefix=module_prefix(root))
    return result, lsp, time.perf_counter() - start


async def cache_compare(package: str, budget: int) -> None:
    module = importlib.import_module(package)
    root = Path(module.__file__ or "").parent
    seeds = tuple(getattr(module, "__all__", ()))[:budget] or (package,)
    query = TeachQuery(topic="How are requests sent and responses read?", seeds=seeds, budget=budget, max_depth=3,
                       breadth=5)
    print(f"exploring {root} from {len(seeds)} seeds, budget {budget}")
    timings = {}
    for cache in (True, False):
        result, lsp, seconds = await measure(root, query, cache)
        visited = max(1, len(result.nodes))
        timings[cache] = seconds / visited
        print(
            f"cache={'on ' if cache else 'off'}: {len(result.nodes)} symbols, {len(result.edges)} edges, "
            f"{lsp.stats.requests} LSP requests, {lsp.stats.cache_hits} cache hits, "
            f"{seconds:.1f} s, {timings[cache]:.3f} s/symbol, skipped {result.skip_counts()}"
        )
    print(f"seconds per symbol without the cache / with it: {timings[False] / timings[True]:.2f}")


def main() -> None:
    parser = CommandParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--packages", default="httpx,click,requests,jinja2,urllib3",
                        help="installed pure-Python packages, comma-separated (default: httpx,click,requests,"
                             "jinja2,urllib3)")
    parser.add_argument("--queries", type=positive_int, default=10,
                        help="auto-proposed queries per package")
    parser.add_argument("--cache-compare", action="store_true", help="the cache on/off measure on --package instead")
    parser.add_argument("--package", default="httpx", help="--cache-compare: the package")
    parser.add_argument("--symbols", type=positive_int, default=50, help="--cache-compare: the budget")
    args = parser.parse_args()
    if args.cache_compare:
        asyncio.run(cache_compare(args.package, args.symbols))
    else:
        asyncio.run(auto([p.strip() for p in args.packages.split(",") if p.strip()], args.queries))


if __name__ == "__main__":
    main()
