"""The one candidate extractor: type names from Python signatures, as the exploration and the teacher see them.

``class_bases`` and ``call_sites`` read a class header and a function body from the source.
``signature_of(hover)`` takes the code line of a hover text; ``signature_types(signature)`` returns the type
names of its parameters (Inputs) and of its return or declared type (Output): generics are opened
(``list[Order]`` gives ``Order``), ``Optional[X]`` and ``X | None`` give ``X``, dotted names stay dotted, string
annotations are read, and builtins and typing primitives are dropped.
"""

from __future__ import annotations

import ast
import builtins
import re

TYPING_PRIMITIVES = frozenset(
    """Any Optional Union List Dict Tuple Set FrozenSet Type Callable Iterable Iterator Sequence Mapping
    MutableMapping MutableSequence MutableSet Generator AsyncGenerator AsyncIterator AsyncIterable Awaitable
    Coroutine Self None NoReturn Never Literal ClassVar Final Annotated TypeVar Generic Protocol object
    TypeAlias TypeGuard ParamSpec Concatenate Unpack Required NotRequired Collection Container Hashable Sized
    Reversible AbstractSet DefaultDict OrderedDict Counter Deque ChainMap typing abc collections""".split()
)
#: Names never offered as candidates: builtins and typing primitives.
SKIPPED_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_")) | TYPING_PRIMITIVES

_FENCE = re.compile(r"```[a-z]*\n(.*?)\n```", re.DOTALL)


def signature_of(hover: str | None) -> str:
    """The code part of a hover text (jedi puts it in the first fenced block), on one line."""
    if not hover:
        return ""
    match = _FENCE.search(hover)
    code = match.group(1) if match else hover.split("\n---", 1)[0]
    return " ".join(line.strip() for line in code.strip().splitlines())


def _parse(signature: str) -> ast.AST | None:
    text = signature.strip()
    if not text:
        return None
    attempts = [text]
    if text.startswith(("def ", "async def ", "class ")):
        attempts.insert(0, text.rstrip(":") + ": ...")
    if text.startswith("class "):  # jedi shows a class with its constructor's parameters: read them as a def
        attempts.append("def " + text.removeprefix("class ").rstrip(":") + ": ...")
    for attempt in attempts:
        try:
            return ast.parse(attempt).body[0]
        except (SyntaxError, IndexError, ValueError):
            continue
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def annotation_names(node: ast.AST | None) -> list[str]:
    """Type names in one annotation, in order, each once, builtins and typing primitives dropped."""
    found: list[str] = []

    def walk(n: ast.AST | None) -> None:
        if n is None:
            return
        name = _dotted(n)
        if name is not None:
            if name.rsplit(".", 1)[-1] not in SKIPPED_NAMES and name not in found:
                found.append(name)
            return
        if isinstance(n, ast.Subscript):
            walk(n.value)
            walk(n.slice)
        elif isinstance(n, ast.Tuple | ast.List):
            for element in n.elts:
                walk(element)
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            try:
                walk(ast.parse(n.value, mode="eval").body)
            except SyntaxError:
                return

    walk(node)
    return found


def _merge(groups: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(name for group in groups for name in group))


def signature_types(signature: str) -> tuple[list[str], list[str]]:
    """(Inputs, Output): the type names of a def's parameters and return, or of a variable's declared type."""
    node = _parse(signature)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        arguments = node.args
        params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        params += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        inputs = _merge([annotation_names(p.annotation) for p in params])
        return inputs, annotation_names(node.returns)
    if isinstance(node, ast.ClassDef):
        return _merge([annotation_names(base) for base in node.bases]), []  # class C(Base, Generic[T])
    if isinstance(node, ast.AnnAssign):
        return [], annotation_names(node.annotation)
    return [], []


def _definition_at(source: str, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    """The def or class whose header is on ``line`` (0-based) of ``source``, or None."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.lineno - 1 == line:
            return node
    return None


def class_bases(source: str, line: int) -> list[str]:
    """The base classes written in the header of the class on ``line``, builtins and typing primitives dropped."""
    node = _definition_at(source, line)
    if not isinstance(node, ast.ClassDef):
        return []
    return _merge([annotation_names(base) for base in node.bases])


def call_sites(source: str, line: int) -> list[tuple[str, int, int]]:
    """What the body of the def on ``line`` calls: (name, line, character) of each callee's name, 0-based, each
    name once, in source order; builtins, typing primitives and private or dunder names are left out."""
    node = _definition_at(source, line)
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    found: dict[str, tuple[str, int, int]] = {}
    calls = [n for statement in node.body for n in ast.walk(statement) if isinstance(n, ast.Call)]
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        func = call.func
        if isinstance(func, ast.Name):
            name, row, column = func.id, func.lineno, func.col_offset
        elif isinstance(func, ast.Attribute) and func.end_lineno is not None and func.end_col_offset is not None:
            name, row, column = func.attr, func.end_lineno, func.end_col_offset - len(func.attr)
        else:
            continue
        if name in SKIPPED_NAMES or name.startswith("_") or name in found:
            continue
        found[name] = (name, row - 1, column)
    return list(found.values())
