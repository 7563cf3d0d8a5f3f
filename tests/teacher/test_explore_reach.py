"""How far an exploration gets: breadth counts the edges followed, type variables are no candidates, and the
proposer shows only seeds that lead anywhere (real jedi, heuristic teacher)."""

from __future__ import annotations

from pathlib import Path

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from teacher.explore import TeachQuery, explore, leads_anywhere
from teacher.handlers import interpret
from teacher.propose import module_input

DEPOT = '''"""Orders and how they are shipped."""

from typing import TypeVar

T = TypeVar("T")


class Order:
    """An order of goods."""

    def total(self) -> int:
        """Return the order's total."""
        return 0


def ship(label: "Unknown", order: Order) -> None:
    """Ship an order under a label."""
    order.total()


def identity(value: T) -> T:
    """Return the value unchanged."""
    return value


def lonely(count: int) -> str:
    """Return a count as text."""
    return str(count)


def helper() -> int:
    """Return a number."""
    return 1


def user() -> int:
    """Use the helper."""
    return helper() + 1
'''


def depot(root: Path) -> Path:
    (root / "depot").mkdir(parents=True)
    (root / "depot" / "__init__.py").write_text("", encoding="utf-8")
    (root / "depot" / "orders.py").write_text(DEPOT, encoding="utf-8")
    return root


async def test_breadth_counts_followed_edges_and_type_variables_are_no_candidates(tmp_path: Path) -> None:
    root = depot(tmp_path)
    query = TeachQuery(topic="How does ship work?", seeds=("ship", "identity"), budget=3,
                       max_depth=1, breadth=1)
    async with LspServer(root, timeout=30) as lsp, interpret(lsp, HeuristicModel()):
        result = await explore(query)
        reach = {name: await leads_anywhere(name) for name in ("ship", "Order", "user", "helper", "identity",
                                                               "lonely", "nowhere")}
    nodes = {n.symbol.name: n for n in result.nodes}
    assert nodes["ship"].candidates.inputs == ("Unknown", "Order")
    assert nodes["ship"].selected[0] == "Unknown"  # selected first, resolves to nothing: no edge, breadth not spent
    assert [(e.source, e.target) for e in result.edges if e.source.endswith("ship")] == [
        ("depot.orders.ship", "depot.orders.Order")
    ]
    assert result.skip_counts()["unresolved"] >= 1
    assert nodes["identity"].candidates.inputs == () and nodes["identity"].candidates.output == ()  # T is dropped
    assert reach == {"ship": True, "Order": True, "user": True, "helper": True, "identity": False, "lonely": False,
                     "nowhere": False}


async def test_the_proposer_shows_only_seeds_that_lead_anywhere(tmp_path: Path) -> None:
    root = depot(tmp_path)
    async with LspServer(root, timeout=30) as lsp, interpret(lsp, HeuristicModel()):
        question = await module_input("depot/orders.py", "depot.orders", 3)
    assert question is not None
    assert [s.name for s in question.symbols] == ["Order", "ship", "helper", "user"]
