"""Benchmark: explore 50 symbols of a real installed package with the heuristic teacher over jedi.

Run: ``.venv/bin/python -m benchmarks.explore [--package httpx] [--symbols 50]``. Prints LSP requests issued,
cache hits, seconds per symbol, and the same with the per-session cache disabled (and the ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import time
from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from teacher.cli_args import positive_int
from teacher.explore import Exploration, TeachQuery, explore
from teacher.handlers import interpret


async def measure(root: Path, query: TeachQuery, cache: bool) -> tuple[Exploration, LspServer, float]:
    """One exploration; returns the result, the server (for its stats) and the wall time."""
    lsp = LspServer(root, cache=cache, timeout=60)
    start = time.perf_counter()
    async with lsp, interpret(lsp, HeuristicModel()):
        result = await explore(query)
    return result, lsp, time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="httpx", help="an installed pure-Python package (default httpx)")
    parser.add_argument("--symbols", type=positive_int, default=50, help="symbols to visit (the budget; default 50)")
    args = parser.parse_args()
    module = importlib.import_module(args.package)
    root = Path(module.__file__ or "").parent
    seeds = tuple(getattr(module, "__all__", ()))[: args.symbols] or (args.package,)
    query = TeachQuery(
        topic="How are requests sent and responses read?", seeds=seeds, budget=args.symbols, max_depth=3, breadth=5
    )
    print(f"exploring {root} from {len(seeds)} seeds, budget {args.symbols}")
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


if __name__ == "__main__":
    asyncio.run(main())
