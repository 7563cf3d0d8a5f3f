"""Estimate: teacher cost per 1,000 examples for the shipped prompts, with and without caching and batches.

Run: ``.venv/bin/python -m benchmarks.cost``. Records explorations of ``examples/sample_repo`` with the real
prompts and tools against the local fake of the Messages API, then prices the recorded usage four ways.
The fake counts tokens as characters / 4 (it has no Claude tokenizer), answers with short reasoning, and caches
a prefix only from the model's documented minimum cacheable length (4,096 tokens for Haiku 4.5), so the figures
are estimates of the prompt side; a real run's ``summary.json`` gives the real figure. "no caching" reprices the
cached tokens as plain input. The cacheable prefix of each task (tools and system) is printed beside the minimum.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import anthropic

from interpreters.anthropic import (
    BATCH_DISCOUNT,
    DEFAULT_MODEL,
    PRICES,
    AnthropicTeacher,
    cost_of,
    min_cacheable_tokens,
)
from interpreters.lsp import LspServer
from interpreters.recording import read_log
from interpreters.records import ModelTurn
from teacher.cli_args import CommandParser
from teacher.explore import TeachQuery
from teacher.record import record
from tests.fake_anthropic import FakeAnthropic
from tests.teacher.test_record import Choosing

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    TeachQuery(topic="How is the order total computed with discounts?", seeds=("order_total",), budget=10),
    TeachQuery(topic="What breaks if an order status is added?", seeds=("describe_status",), budget=10),
    TeachQuery(topic="How does checkout charge the customer?", seeds=("checkout",), budget=10),
    TeachQuery(topic="How are payment results reported?", seeds=("describe_payment",), budget=10),
]


def usages(out: Path, prefixes: dict[str, set[int]] | None = None) -> list[dict[str, Any]]:
    """The usage of every successful model turn recorded under ``out`` (and each task's prefix sizes, in tokens)."""
    found = []
    for path in (out / "sessions").glob("*.jsonl"):
        for r in read_log(path)[0]:
            if isinstance(r, ModelTurn) and not r.error:
                found.append(r.response["usage"])
                if prefixes is not None:
                    request = r.request or {}
                    prefix = [*request["tools"], *request["system"]]
                    prefixes.setdefault(r.task, set()).add(len(json.dumps(prefix, sort_keys=True)) // 4)
    return found


async def main() -> None:
    CommandParser(description=__doc__.splitlines()[0]).parse_args()
    price = PRICES["claude-haiku-4-5"]
    with tempfile.TemporaryDirectory() as scratch, FakeAnthropic(responder=Choosing()) as fake:
        out = Path(scratch)
        client = anthropic.AsyncAnthropic(api_key="estimate", base_url=fake.base_url, max_retries=0)
        async with LspServer(ROOT / "examples" / "sample_repo") as lsp:
            await record(QUERIES, out, AnthropicTeacher(client=client), lsp, concurrency=1)
        prefixes: dict[str, set[int]] = {}
        used = usages(out, prefixes)
    uncached = [
        {"input_tokens": u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"],
         "output_tokens": u["output_tokens"]}
        for u in used
    ]
    per_1000 = {
        "no caching": sum(cost_of(u, price) for u in uncached),
        "caching": sum(cost_of(u, price) for u in used),
        "batches": sum(cost_of(u, price) for u in uncached) * BATCH_DISCOUNT,
        "caching and batches": sum(cost_of(u, price) for u in used) * BATCH_DISCOUNT,
    }
    tokens = {k: sum(u[k] for u in used) for k in used[0]}
    print(f"{len(used)} examples recorded; tokens {json.dumps(tokens)}")
    print(f"cacheable prefix (tools + system) per task, tokens; {DEFAULT_MODEL}'s minimum is "
          f"{min_cacheable_tokens(DEFAULT_MODEL)}:")
    for task, sizes in sorted(prefixes.items()):
        print(f"  {task}: {min(sizes)}-{max(sizes)} ({len(sizes)} distinct prefix sizes)")
    for name, total in per_1000.items():
        print(f"{name:>20}: ${total / len(used) * 1000:.2f} per 1,000 examples")


if __name__ == "__main__":
    asyncio.run(main())
