"""Edges carry their code: each score_edge input shows the code at both ends, read over the LSP operations with
the real jedi server, recorded with its exchanges and replayed with no server."""

from __future__ import annotations

from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from interpreters.lsp_replay import LspRecorder, LspReplay, read_lsp_records, write_lsp_records
from tasks.score_edge import ScoreEdgeInput
from teacher.code_excerpt import CODE_BOUND
from teacher.explore import Exploration, TeachQuery, explore
from teacher.handlers import Handler, interpret
from teacher.model import ModelReply, ModelRequest
from tests.conftest import SAMPLE_REPO

QUERY = TeachQuery(
    topic="Which code uses OrderStatus or PaymentDeclined, and what breaks if a variant is added?",
    seeds=("OrderStatus", "PaymentDeclined", "order_total"),
    budget=10,
    max_depth=1,
    breadth=6,
)


class Asked(HeuristicModel):
    """The heuristic teacher, keeping every score_edge input it was asked about."""

    def __init__(self) -> None:
        self.edges: list[ScoreEdgeInput] = []

    async def complete(self, request: ModelRequest) -> ModelReply:
        if isinstance(request.input, ScoreEdgeInput):
            self.edges.append(request.input)
        return await super().complete(request)


async def run(lsp: Handler) -> tuple[Exploration, list[ScoreEdgeInput]]:
    model = Asked()
    async with interpret(lsp, model):
        return await explore(QUERY), model.edges


def by_target(edges: list[ScoreEdgeInput], first_line: str) -> ScoreEdgeInput:
    return next(e for e in edges if e.target_hover.startswith(first_line))


async def test_edges_show_the_code_at_both_ends_and_replay_without_a_server(tmp_path: Path) -> None:
    async with LspServer(SAMPLE_REPO) as server:
        recorder = LspRecorder(server)
        live, edges = await run(recorder)
    assert len(edges) == len(live.edges) >= 5

    # a reference edge: the target holds the use; its code shows the match over the status
    describe = by_target(edges, "def describe_status(status: OrderStatus) -> str:")
    assert "    match status:" in describe.target_hover.splitlines()
    assert describe.source_hover.startswith("class OrderStatus(Enum):\n")
    assert "    PENDING = " in describe.source_hover
    # an isinstance chain in a function that takes the union
    payment = by_target(edges, "def describe_payment(result: PaymentResult) -> str:")
    assert "    elif isinstance(result, PaymentDeclined):" in payment.target_hover.splitlines()
    # a call edge: the source shows its signature and the line of the call, the target the head of its definition
    call = by_target(edges, "def apply_discount(")
    assert call.source_hover.startswith("def order_total(order: Order) -> Money:")
    assert any("apply_discount(" in line for line in call.source_hover.splitlines()[1:])
    assert '"""' in call.target_hover  # the docstring's first line is part of a definition's head

    for edge in edges:  # every end is code, bounded
        for text in (edge.source_hover, edge.target_hover):
            assert text and len(text) <= CODE_BOUND.chars and len(text.splitlines()) <= CODE_BOUND.lines
    flags = {e.target: e.score.is_exhaustive for e in live.edges}
    assert flags["shop.models.describe_status"] and flags["shop.checkout.describe_payment"]
    assert not all(flags.values())
    assert any(r.op == "SourceText" for r in recorder.records)  # the code is read through a recorded operation

    path = tmp_path / "lsp.jsonl"
    write_lsp_records(recorder.records, path)
    replayed, replayed_edges = await run(LspReplay(read_lsp_records(path)))
    assert replayed_edges == edges
    assert replayed.model_dump() == live.model_dump()
