"""Bounded code excerpts at the ends of an edge: the head of a definition and the lines around a use site."""

from __future__ import annotations

from teacher.code_excerpt import CODE_BOUND, CodeBound, definition_head, use_site
from tests.conftest import SAMPLE_REPO

CHECKOUT = (SAMPLE_REPO / "shop" / "checkout.py").read_text(encoding="utf-8")
MODELS = (SAMPLE_REPO / "shop" / "models.py").read_text(encoding="utf-8")


def line_of(source: str, needle: str) -> int:
    """0-based line of the first line that contains ``needle``."""
    return next(n for n, line in enumerate(source.splitlines()) if needle in line)


def test_a_function_head_shows_its_signature_docstring_line_and_first_body_lines() -> None:
    head = definition_head(MODELS, line_of(MODELS, "def describe_status"))
    lines = head.splitlines()
    assert lines[0] == "def describe_status(status: OrderStatus) -> str:"
    assert lines[1] == '    """Return a human-readable description of an order status."""'
    assert "    match status:" in lines and "        case OrderStatus.PENDING:" in lines
    assert "" not in lines  # blank lines are dropped


def test_a_class_head_lists_fields_and_method_headers_not_method_bodies() -> None:
    head = definition_head(MODELS, line_of(MODELS, "class Order:"))
    assert head.startswith("@dataclass(frozen=True)\nclass Order:\n")
    assert "    items: list[LineItem]" in head
    assert '    def with_status(self, status: OrderStatus) -> "Order": ...' in head
    assert "return" not in head  # the method's body is left out


def test_a_method_is_dedented_and_a_variable_shows_its_statement() -> None:
    head = definition_head(CHECKOUT, line_of(CHECKOUT, "def __init__"))
    assert head.startswith("def __init__(self, order: Order, result: PaymentResult) -> None:\n    super().__init__(")
    assert definition_head(CHECKOUT, line_of(CHECKOUT, "_order_ids =")) == "_order_ids = count(1000)"


def test_a_use_site_shows_the_signature_and_the_lines_around_it_elided() -> None:
    checkout = line_of(CHECKOUT, "def checkout(")
    site = line_of(CHECKOUT, "order_total(order)")
    small = CodeBound(lines=6, chars=800, width=120)
    text = use_site(CHECKOUT, checkout, site, small)
    lines = text.splitlines()
    assert lines[0].startswith("def checkout(cart: Cart")
    assert "    result = gateway.charge(order.customer, order_total(order))" in lines
    assert lines[1] == "    ..." and lines[-1] == "    ..."  # lines left out on both sides are marked
    assert len(lines) == small.lines
    assert '"""' not in text  # the docstring is not part of a use site
    # a site in the signature (an annotation) shows the head of the definition
    assert use_site(CHECKOUT, checkout, checkout) == definition_head(CHECKOUT, checkout)


def test_the_bound_holds_on_long_code_and_keeps_the_site() -> None:
    body = "".join(f"    value_{n} = compute_something_rather_long(value_{n - 1}, factor={n})\n" for n in range(1, 200))
    source = "def long(value_0: int) -> int:\n    '''Many steps.'''\n" + body + "    return value_199\n"
    site = line_of(source, "value_150 =")
    for text in (definition_head(source, 0), use_site(source, 0, site)):
        assert len(text) <= CODE_BOUND.chars and len(text.splitlines()) <= CODE_BOUND.lines
    assert "value_150 = compute" in use_site(source, 0, site)
    wide = "def wide() -> None:\n    x = '" + "y" * 500 + "'\n"
    assert all(len(line) <= CODE_BOUND.width for line in definition_head(wide, 0).splitlines())
    tight = CodeBound(lines=16, chars=150, width=120)  # the characters bound drops context, never the site
    assert "value_150 = compute" in use_site(source, 0, site, tight)
    assert len(use_site(source, 0, site, tight)) <= 150


def test_control_tokens_are_elided_and_unparsable_code_gives_nothing() -> None:
    source = "def template() -> str:\n    prefix = 'a'\n    return '<start_of_turn>user'\n"
    assert definition_head(source, 0).splitlines()[-1] == "    ..."
    assert definition_head("def broken(:\n", 0) == ""
    assert definition_head("def f(): return 1\n", 0) == "def f(): return 1"  # a one-line body is shown once
    assert definition_head("class A:\n    def f(self): return 1\n", 0) == "class A:\n    def f(self): return 1"
    assert definition_head("x = 1\n", 5) == ""
