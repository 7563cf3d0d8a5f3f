"""The heuristic teacher: its rules on hand-made inputs, and as a backend answering Ask."""

from __future__ import annotations

import pytest

from interpreters.heuristic import HeuristicModel
from tasks.score_edge import EdgeType, ScoreEdgeInput, ScoreEdgeTask
from tasks.score_edge.heuristic import defined_name, is_exhaustive, is_exported, is_type_family, score_edge
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from tasks.select_symbols.heuristic import select_symbols
from tasks.subagents.domains import SUBAGENT_TASKS
from teacher.handlers import interpret, perform
from teacher.operations import Ask


@pytest.mark.parametrize(
    ("hover", "expected"),
    [
        ("match shape:\n    case Circle(): ...", True),
        ("if isinstance(s, A):\n    ...\nelif isinstance(s, B):\n    ...", True),
        ("assert_never(value)", True),
        ("def match_names(a: str) -> bool", False),
        ("if isinstance(s, A):\n    return 1", False),
    ],
)
def test_exhaustive_detection(hover: str, expected: bool) -> None:
    assert is_exhaustive(hover) is expected


@pytest.mark.parametrize(
    ("hover", "expected"),
    [
        ("T = TypeVar('T')", True),
        ("class Repo(Protocol[T]): ...", True),
        ("@overload\ndef f(x: int) -> int: ...", True),
        ("type Handler = Callable[[int], None]", True),
        ("class Cache(Generic[K, V]): ...", True),
        ("def protocol_version() -> int", False),
    ],
)
def test_type_family_detection(hover: str, expected: bool) -> None:
    assert is_type_family(hover) is expected


@pytest.mark.parametrize(
    ("path", "hover", "expected"),
    [
        ("shop/orders.py", "def total(o: Order) -> int", True),
        ("shop/__init__.py", "class Shop: ...", True),
        ("shop/orders.py", "def _total(o: Order) -> int", False),
        ("shop/_internal/pricing.py", "def price() -> int", False),
        ("shop/_compat.py", "def price() -> int", False),
        ("shop/orders.py", "def __init__(self) -> None", True),
    ],
)
def test_export_rules(path: str, hover: str, expected: bool) -> None:
    assert is_exported(path, hover) is expected


def edge(query: str, hover: str, kind: EdgeType = EdgeType.reference, path: str = "shop/api.py") -> ScoreEdgeInput:
    return ScoreEdgeInput(
        query=query, source_file="shop/models.py", source_line=1, source_hover="class Status(Enum): ...",
        target_file=path, target_line=2, target_hover=hover, edge_type=kind,
    )


def test_changing_an_exhaustively_matched_type_is_relevant_and_risky() -> None:
    scored = score_edge(edge("What breaks if I add a status variant?", "match status:\n    case Status.PAID: ..."))
    assert scored.is_exhaustive and scored.relevance == 5 and scored.risk >= 4
    calm = score_edge(edge("How is the log formatted?", "def _helper() -> None", path="shop/_util.py"))
    assert (calm.relevance, calm.risk, calm.is_exported) == (1, 1, False)
    assert "Little ties" in calm.reasoning


CODE = """@dataclass(
    frozen=True,
)
class Shape:
    \"\"\"A shape.\"\"\"
    def area(self) -> float: ..."""


def test_flags_and_scores_read_the_code_at_the_target() -> None:
    assert defined_name(CODE) == "Shape"  # a decorator's keyword argument is not what the code defines
    branches = "def area(s: Shape) -> float:\n    if isinstance(s, Circle):\n        return 1.0\n" \
               "    if isinstance(s, Square):\n        return 2.0\n    return 0.0"
    assert is_exhaustive(branches)  # two branches on the type of one subject, no elif needed
    assert is_exhaustive("def f(x):\n    if type(x) is int:\n        ...\n    elif type(x) is str:\n        ...")
    assert not is_exhaustive("def f(x, y):\n    if isinstance(x, int):\n        ...\n    if isinstance(y, str):\n  ...")
    assert not is_exhaustive("def f():\n    case = {1: 2}\n    return case")
    query = "How is the area of a shape computed?"
    named = score_edge(edge(query, "def area(s: Shape) -> float:\n    return 0.0"))
    mentioned = score_edge(edge(query, "def size(s) -> float:\n    return s.area()"))
    unrelated = score_edge(edge(query, "def size(s) -> float:\n    return s.length"))
    assert named.relevance > mentioned.relevance > unrelated.relevance == 1  # the signature counts most
    built_on = score_edge(edge(query, "def size(s) -> float:\n    return s.length", EdgeType.type_constraint))
    assert built_on.risk == unrelated.risk + 1 and "built on it" in built_on.reasoning


def test_definition_queries_favour_definition_edges() -> None:
    query = "Where is the order total defined?"
    hover = "def total(items: list[Item]) -> int"
    assert score_edge(edge(query, hover, EdgeType.definition)).relevance > score_edge(edge(query, hover)).relevance


def test_select_symbols_follows_topic_words_and_skips_builtins() -> None:
    example = SelectSymbolsInput(
        topic="How are payment methods charged?",
        symbol="checkout",
        candidates=Candidates(
            inputs=("Cart", "PaymentMethod", "str"), output=("Receipt",), references=("shop/payments.py:10",)
        ),
    )
    assert select_symbols(example).selected == ["PaymentMethod", "shop/payments.py:10"]
    about = example.model_copy(update={"topic": "What does checkout return?"})
    assert select_symbols(about).selected == ["Cart", "PaymentMethod", "Receipt"]


async def test_heuristic_is_a_backend_for_both_tasks() -> None:
    async with interpret(HeuristicModel()):
        scored = await perform(Ask(ScoreEdgeTask(), edge("Who calls total?", "def total() -> int", EdgeType.usage)))
        chosen = await perform(
            Ask(
                SelectSymbolsTask(),
                SelectSymbolsInput(topic="cart totals", symbol="f", candidates=Candidates(inputs=("Cart", "int"))),
            )
        )
    assert scored.relevance >= 3 and chosen.selected == ["Cart"]
    with pytest.raises(ValueError, match="cannot answer task 'subagent_lint'"):  # a task with no heuristic
        HeuristicModel.answer(SUBAGENT_TASKS["subagent_lint"], None)


def test_select_symbols_follows_a_class_methods_and_else_its_use_sites() -> None:
    client = SelectSymbolsInput(
        topic="How is Client created?", symbol="Client", signature="class Client(timeout: Timeout)",
        candidates=Candidates(methods=("send", "close"), inputs=("Timeout",), references=("app.py:3",)),
    )
    assert select_symbols(client).selected == ["Timeout", "send", "close"]  # about the class: its methods too
    lonely = SelectSymbolsInput(
        topic="How does to_text convert bytes?", symbol="to_text", signature="def to_text(data)",
        candidates=Candidates(references=("app.py:3", "app.py:9")),
    )
    assert select_symbols(lonely).selected == ["app.py:3", "app.py:9"]  # nothing else leads on: where it is used
    elsewhere = lonely.model_copy(update={"topic": "How are pages rendered?"})
    assert select_symbols(elsewhere).selected == []  # not about the symbol: nothing
