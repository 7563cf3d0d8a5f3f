"""Reading and editing Python source for the subagents' tools: find a node, describe its signature, set its
docstring. Everything works on text and :mod:`ast`, so a tool sees exactly the file as it is in the sandbox."""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["Node", "find_node", "node_source", "set_docstring", "signature"]

Node = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def find_node(source: str, name: str) -> Node:
    """The first function or class called ``name`` (``Class.method`` also works); ValueError when absent."""
    tree = ast.parse(source)
    *owners, last = name.split(".")
    scope: list[ast.stmt] = tree.body
    for owner in owners:
        found = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == owner), None)
        if found is None:
            raise ValueError(f"no class {owner!r} in the file")
        scope = found.body
    for node in ast.walk(ast.Module(body=scope, type_ignores=[])):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == last:
            return node
    raise ValueError(f"no function or class {name!r} in the file")


def node_source(source: str, name: str) -> str:
    """The text of a node, decorators included."""
    node = find_node(source, name)
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines()
    return "\n".join(lines[start - 1 : node.end_lineno])


def _parameters(args: ast.arguments) -> list[dict[str, Any]]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    found = []
    for arg, default in zip(positional, defaults, strict=True):
        found.append((arg, default, "positional"))
    if args.vararg:
        found.append((args.vararg, None, "var_positional"))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        found.append((arg, kw_default, "keyword_only"))
    if args.kwarg:
        found.append((args.kwarg, None, "var_keyword"))
    return [
        {"name": arg.arg, "annotation": ast.unparse(arg.annotation) if arg.annotation else "",
         "default": ast.unparse(default) if default is not None else "", "kind": kind}
        for arg, default, kind in found
        if arg.arg not in ("self", "cls")
    ]


def _raises(node: Node) -> list[str]:
    names = []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Raise) and inner.exc is not None:
            exc = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
            text = ast.unparse(exc)
            if text not in names:
                names.append(text)
    return names


def _is_empty(node: Node) -> bool:
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body
    )


def signature(source: str, name: str, module: str) -> dict[str, Any]:
    """What a node looks like from outside: parameters, return annotation, decorators, raised exceptions."""
    node = find_node(source, name)
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        params = _parameters(init.args) if init else []
        returns, is_async = node.name, False
    else:
        params = _parameters(node.args)
        returns = ast.unparse(node.returns) if node.returns else ""
        is_async = isinstance(node, ast.AsyncFunctionDef)
    return {
        "name": name,
        "module": module,
        "kind": "class" if isinstance(node, ast.ClassDef) else "function",
        "parameters": params,
        "returns": returns,
        "decorators": [ast.unparse(d) for d in node.decorator_list],
        "is_async": is_async,
        "raises": _raises(node),
        "has_docstring": ast.get_docstring(node) is not None,
        "empty_body": _is_empty(node),
    }


def set_docstring(source: str, name: str, docstring: str) -> str:
    """The source with the node's docstring replaced (or added), indented like its body."""
    node = find_node(source, name)
    lines = source.splitlines(keepends=True)
    first = node.body[0]
    indent = " " * first.col_offset
    if first.lineno == node.lineno:
        raise ValueError(f"{name}: the body is on the def line; cannot place a docstring")
    text_lines = docstring.strip().splitlines()
    body = [text_lines[0]] + [(indent + line) if line.strip() else "" for line in text_lines[1:]]
    closing = f"\n{indent}" if len(text_lines) > 1 else ""
    block = f'{indent}"""{chr(10).join(body)}{closing}"""\n'
    if ast.get_docstring(node, clean=False) is not None:
        start, end = first.lineno - 1, first.end_lineno or first.lineno
    else:
        start = end = first.lineno - 1
    return "".join([*lines[:start], block, *lines[end:]])
