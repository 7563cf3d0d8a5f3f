"""Bounded code excerpts: what score_edge shows of the code at each end of an edge.

* :func:`definition_head`: the head of the definition whose name is on a line: its decorators, its header (the
  signature, however many lines it takes), the first line of its docstring, then the first lines of its body.
  A class's methods show their headers only (``def get(self, key: str) -> T: ...``), so a class head lists its
  fields and methods rather than the body of its first method.
* :func:`use_site`: the header of the def or class whose name is on a line, then the lines around a use site
  inside its body (a call it makes, a reference it holds), elided with ``...`` where lines are left out.

Both are bounded by :data:`CODE_BOUND`: blank lines are dropped, lines are cut at a width, and the excerpt stops at
a number of lines and of characters. The text is dedented, and a line holding a FunctionGemma control token is
elided (the format cannot carry it). A file that does not parse, or a line where no statement starts, gives '' and
the caller falls back to the hover's signature.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from converters.functiongemma import has_special_token

__all__ = ["CODE_BOUND", "CodeBound", "definition_head", "statements", "use_site"]


@dataclass(frozen=True)
class CodeBound:
    """How much code one end of an edge may show: lines, characters in all, and characters per line."""

    lines: int
    chars: int
    width: int


#: The most code shown at one end of an edge. Every prompt token costs the student, which trains on 2 CPU cores.
CODE_BOUND = CodeBound(lines=16, chars=800, width=120)

ELISION = "..."
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class _Parsed:
    lines: list[str]
    statements: tuple[ast.stmt, ...]
    definitions: Mapping[int, ast.stmt]  # by the 0-based line of the name


def _walk(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements and the statements nested in them, outermost first (expressions are not visited: faster)."""
    for node in body:
        yield node
        for name in ("body", "orelse", "finalbody"):
            nested = getattr(node, name, None)
            if isinstance(nested, list):
                yield from _walk(nested)
        for part in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            yield from _walk(part.body)


@lru_cache(maxsize=64)
def _parsed(source: str) -> _Parsed | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    statements = tuple(_walk(tree.body))
    definitions = {n.lineno - 1: n for n in reversed(statements) if isinstance(n, _DEFINITIONS)}
    return _Parsed(source.splitlines(), statements, definitions)


def statements(source: str) -> tuple[ast.stmt, ...]:
    """Every statement of a source, outermost first (the parse the excerpts use, cached); () when it does not
    parse."""
    parsed = _parsed(source)
    return () if parsed is None else parsed.statements


def _statement_at(parsed: _Parsed, line: int) -> ast.stmt | None:
    """The def or class whose name is on ``line`` (0-based), else the innermost statement spanning it."""
    if line in parsed.definitions:
        return parsed.definitions[line]
    best: ast.stmt | None = None
    for node in parsed.statements:
        end = (node.end_lineno or node.lineno) - 1
        inner = best is None or end - node.lineno < (best.end_lineno or 0) - best.lineno
        if node.lineno - 1 <= line <= end and inner:
            best = node
    return best


def _first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, its decorators included."""
    decorators: list[ast.expr] = node.decorator_list if isinstance(node, _DEFINITIONS) else []
    return min([node.lineno, *(d.lineno for d in decorators)]) - 1


def _docstring(node: ast.stmt) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if isinstance(node, _DEFINITIONS) and body:
        first = body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            return first
    return None


def _header(lines: list[str], node: ast.stmt, decorators: bool = True) -> list[str]:
    """The decorators (when asked) and the header lines of a def or class, up to its first body statement."""
    start = _first_line(node) if decorators else node.lineno - 1
    body = getattr(node, "body", None)
    if not isinstance(node, _DEFINITIONS) or not body:
        return lines[start : node.end_lineno or node.lineno]
    return lines[start : max(node.lineno, body[0].lineno - 1)]


def _doc_line(lines: list[str], doc: ast.Expr) -> list[str]:
    """The first line of a docstring, closed on its own line."""
    assert isinstance(doc.value, ast.Constant)
    text = str(doc.value.value).strip()
    first = text.splitlines()[0].strip() if text else ""
    indent = lines[doc.lineno - 1][: doc.col_offset]
    return [f'{indent}"""{first}"""'] if first else []


def _member_lines(lines: list[str], node: ast.stmt) -> list[str]:
    """A class member as a head shows it: a method by its header alone, anything else whole."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        header = _header(lines, node)
        if not header or node.body[0].lineno <= node.lineno:  # a one-line method shows whole
            return header
        return [*header[:-1], header[-1].rstrip() + " ..."]
    return lines[_first_line(node) : node.end_lineno or node.lineno]


def _fit(excerpt: list[str], bound: CodeBound) -> str:
    """Blank lines dropped, control tokens elided, lines cut at the width, then the lines and characters bound."""
    kept: list[str] = []
    for line in excerpt:
        line = line.rstrip()
        if not line.strip():
            continue
        if has_special_token(line):
            line = line[: len(line) - len(line.lstrip())] + ELISION
        if len(line) > bound.width:
            line = line[: bound.width - 1] + "…"
        if kept and line.strip() == ELISION and kept[-1].strip() == ELISION:
            continue
        kept.append(line)
    indent = min((len(line) - len(line.lstrip()) for line in kept), default=0)
    kept = [line[indent:] for line in kept[: bound.lines]]
    text = ""
    for line in kept:
        if len(text) + len(line) + 1 > bound.chars:
            break
        text += ("\n" if text else "") + line
    return text or (kept[0][: bound.chars] if kept else "")


def definition_head(source: str, line: int, bound: CodeBound = CODE_BOUND) -> str:
    """The head of the definition whose name is on ``line`` (0-based) of ``source``, within ``bound``; ''
    when the source does not parse or no statement is there."""
    parsed = _parsed(source)
    node = None if parsed is None else _statement_at(parsed, line)
    return "" if parsed is None or node is None else _head(parsed.lines, node, bound)


def _head(lines: list[str], node: ast.stmt, bound: CodeBound) -> str:
    if not isinstance(node, _DEFINITIONS):
        return _fit(lines[_first_line(node) : node.end_lineno or node.lineno], bound)
    excerpt = _header(lines, node)
    doc = _docstring(node)
    if doc is not None:
        excerpt += _doc_line(lines, doc)
    for statement in node.body[1 if doc is not None else 0 :]:
        if len(excerpt) >= bound.lines:
            break
        if statement.lineno <= node.lineno:
            continue  # a body on the header's line (``def f(): return 1``) is already shown
        if isinstance(node, ast.ClassDef):
            excerpt += _member_lines(lines, statement)
        else:
            excerpt += lines[_first_line(statement) : statement.end_lineno or statement.lineno]
    return _fit(excerpt, bound)


def use_site(source: str, line: int, site: int, bound: CodeBound = CODE_BOUND) -> str:
    """The header of the def or class whose name is on ``line`` (0-based), then the lines around ``site`` (0-based)
    in its body, within ``bound``; the head of the definition when the site is in its header or outside it."""
    parsed = _parsed(source)
    node = None if parsed is None else _statement_at(parsed, line)
    if parsed is None or node is None:
        return ""
    lines = parsed.lines
    if not isinstance(node, _DEFINITIONS) or not node.body:
        return _head(lines, node, bound)
    doc = _docstring(node)
    body = node.body[1:] if doc is not None and len(node.body) > 1 else node.body
    first, last = _first_line(body[0]), (node.end_lineno or node.lineno) - 1
    if not first <= site <= last:
        return _head(lines, node, bound)
    header = _header(lines, node, decorators=False)
    half = bound.lines // 2
    if len(header) > half:  # a long signature: its first lines and the one with the return type
        header = [*header[: half - 1], header[-1]]
    shown = [i for i in range(first, last + 1) if lines[i].strip()]  # non-blank body lines, as _fit keeps them
    at = next(n for n, i in enumerate(shown) if i >= site)
    mark = lines[shown[at]].strip()[: bound.width // 2]
    room = bound.lines - len(header) - 2  # two elision lines at most
    while True:  # fewer lines until the site itself survives the characters bound
        start = max(0, min(at - (room - 1) // 2, len(shown) - room))
        window = shown[start : start + room]
        indent = lines[window[0]][: len(lines[window[0]]) - len(lines[window[0]].lstrip())]
        excerpt = [*header, *([indent + ELISION] if start > 0 else []), *(lines[i] for i in window)]
        if start + room < len(shown):
            excerpt.append(indent + ELISION)
        text = _fit(excerpt, bound)
        if mark in text or room <= 1:
            return text
        room -= 1
