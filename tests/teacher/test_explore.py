"""The exploration program on real code: the jedi server plus the heuristic teacher, then replay without it."""

from __future__ import annotations

import json
from pathlib import Path

import h11
import pytest

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from interpreters.lsp_replay import LspRecorder, LspReplay, LspReplayMiss, read_lsp_records, write_lsp_records
from interpreters.records import LspAnswer
from teacher.explore import Exploration, TeachQuery, explore
from teacher.handlers import interpret, perform
from teacher.operations import Hover
from tests.conftest import SAMPLE_REPO

QUERY = TeachQuery(
    topic="How is the order total computed with discounts?",
    seeds=("order_total", "no_such_symbol"),
    budget=8,
    max_depth=2,
    breadth=3,
)


async def run(query: TeachQuery, root: Path = SAMPLE_REPO) -> tuple[Exploration, LspRecorder]:
    async with LspServer(root) as lsp:
        recorder = LspRecorder(lsp)
        async with interpret(recorder, HeuristicModel()):
            return await explore(query), recorder


async def test_exploration_reaches_the_expected_symbols_within_its_limits() -> None:
    result, _ = await run(QUERY)
    reached = [n.symbol.qualified for n in result.nodes]
    assert reached[0] == "shop.pricing.order_total"
    assert {"shop.models.Order", "shop.models.Money", "shop.models.LineItem"} <= set(reached)
    assert len(reached) <= QUERY.budget and len(set(reached)) == len(reached)
    assert max(n.depth for n in result.nodes) <= QUERY.max_depth
    assert result.skip_counts()["seed_not_found"] == 1  # beyond_max_depth: test_budget_and_depth_are_enforced
    assert all(len(n.selected) <= len(n.candidates.names()) for n in result.nodes)
    root = result.nodes[0]
    assert root.candidates.inputs == ("Order",) and root.candidates.output == ("Money",)
    assert "shop/checkout.py:59" in root.candidates.references  # a call site, 1-based
    assert not any(r.startswith("shop/__init__.py") for r in root.candidates.references)  # re-exports dropped
    edges = {(e.source, e.target): e for e in result.edges}
    assert edges[("shop.pricing.order_total", "shop.models.Order")].edge_type.value == "type_constraint"
    assert all(1 <= e.score.relevance <= 5 for e in result.edges)
    for edge in result.edges:  # every edge joins explored nodes, or one skipped for depth
        assert edge.source in reached
    assert result.document.core == ["shop.pricing.order_total"]
    assert set(result.document.prerequisites) == set(reached[1:])
    assert json.loads(result.model_dump_json())["document"]["topic"] == QUERY.topic


async def test_budget_and_depth_are_enforced() -> None:
    small, _ = await run(QUERY.model_copy(update={"budget": 2}))
    assert len(small.nodes) == 2
    shallow, _ = await run(QUERY.model_copy(update={"max_depth": 0}))
    assert [n.depth for n in shallow.nodes] == [0]
    assert shallow.skip_counts()["beyond_max_depth"] >= 1


async def test_replay_without_a_server_gives_an_identical_result(tmp_path: Path) -> None:
    live, recorder = await run(QUERY)
    path = tmp_path / "lsp.jsonl"
    write_lsp_records(recorder.records, path)
    replay = LspReplay(read_lsp_records(path))
    async with interpret(replay, HeuristicModel()):
        replayed = await explore(QUERY)
    assert replayed.model_dump() == live.model_dump()
    assert replay.hits > 0
    async with interpret(replay):
        with pytest.raises(LspReplayMiss, match="no recorded answer for Hover"):
            await perform(Hover("shop/models.py", 999, 0))


async def test_a_file_that_does_not_parse_is_survived(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(
        "class Money:\n    cents: int\n\n\ndef price(m: Money) -> Money:\n    return m\n", encoding="utf-8"
    )
    (tmp_path / "broken.py").write_text("def broken(:\n    return (\nclass\n", encoding="utf-8")
    query = TeachQuery(topic="money prices", seeds=("price", "broken", "missing"), budget=5, max_depth=2)
    async with LspServer(tmp_path, timeout=20) as lsp, interpret(lsp, HeuristicModel()):
        result = await explore(query)
    assert "good.price" in [n.symbol.qualified for n in result.nodes]
    assert result.skip_counts().get("seed_not_found", 0) >= 1


async def test_a_third_party_package_is_explored_without_errors() -> None:
    root = Path(h11.__file__).parent
    query = TeachQuery(topic="How does a connection handle events?", seeds=("Connection",), budget=6, max_depth=2)
    result, recorder = await run(query, root)
    assert result.nodes and result.nodes[0].symbol.name == "Connection"
    assert "lookup_failed" not in result.skip_counts()
    assert all(not r.error for r in recorder.records)


def test_replay_records_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "lsp", "op": "Hover"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        read_lsp_records(bad)
    with pytest.raises(ValueError, match="unknown operation 'Rename'"):
        LspReplay([LspAnswer(op="Rename", args={}, result=None)])


async def test_python_candidates_members_bases_and_resolved_calls() -> None:
    """A function's body calls (resolved by the server), a class's methods and in-repository bases, private and
    out-of-repository names left out."""
    query = TeachQuery(topic="How is a declined payment reported?", seeds=("PaymentDeclined", "order_total", "Order"),
                       budget=3, max_depth=0)
    result, _ = await run(query)
    nodes = {n.symbol.qualified: n for n in result.nodes}
    declined = nodes["shop.payments.PaymentDeclined"].candidates
    assert declined.bases == ("PaymentResult",) and "PaymentResult" not in declined.inputs
    total = nodes["shop.pricing.order_total"].candidates
    assert {"subtotal", "apply_discount", "shipping_cost"} <= set(total.calls)
    assert not set(total.calls) & {"sum", "len", "int"}  # builtins are never candidates
    order = nodes["shop.models.Order"].candidates
    assert "with_status" in order.methods and not any(m.startswith("_") for m in order.methods + order.fields)


async def test_selected_calls_become_usage_edges() -> None:
    query = TeachQuery(topic="How is a discount applied to the order total?", seeds=("order_total",), budget=4)
    result, _ = await run(query)
    edges = {(e.source, e.target): e.edge_type.value for e in result.edges}
    assert edges[("shop.pricing.order_total", "shop.pricing.apply_discount")] == "usage"


async def test_a_root_that_is_a_package_gives_importable_module_names(tmp_path: Path) -> None:
    import shutil

    from teacher.explore import module_prefix

    root = tmp_path / "shop"
    shutil.copytree(SAMPLE_REPO / "shop", root)
    assert module_prefix(root) == "shop" and module_prefix(SAMPLE_REPO) == ""
    query = TeachQuery(topic="How is the order total computed?", seeds=("order_total",), budget=2, max_depth=1)
    async with LspServer(root) as lsp, interpret(lsp, HeuristicModel()):
        result = await explore(query, module_prefix=module_prefix(root))
    assert result.nodes[0].symbol.qualified == "shop.pricing.order_total"
    assert all(n.symbol.qualified.startswith("shop.") for n in result.nodes)
