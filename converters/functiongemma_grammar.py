"""The grammar of a FunctionGemma answer to declared tools, built from the codec's own rules.

:func:`call_grammar` turns the tools of a request (OpenAI-style dicts, as :func:`~converters.functiongemma.
render_declaration` takes them) into the language of the answers the codec renders and parses for them:
``<start_function_call>call:NAME{..}<end_function_call>``, then the profile's terminator
(:func:`~converters.functiongemma.completion_terminator`). Inside the braces:

* the declared properties in the order the codec writes keys (:func:`~converters.functiongemma.sort_keys`),
  required ones always, optional ones optionally; a map without properties (``additionalProperties``) takes
  names the parser reads as keys (``:,{}[]<>`` excluded), each at most once;
* enums as the codec renders each value (:func:`~converters.functiongemma.render_value`); an array of enum
  strings (select_symbols' candidates, cli_intent's flags and suggestions) names each value at most once;
* integers with a range of at most :data:`MAX_ENUMERATED_INTEGERS` values (relevance and risk 1 to 5) as
  exactly those numbers, other integers and numbers as the parser reads them (a number in ``[0, 1]``, a
  confidence, only as a number of that range written the way Python writes floats);
* ``true``/``false``; strings inside ``<escape>``, at least ``minLength`` characters long (and, with a
  ``maxLength``, at most that many and no ``<``). A string may not spell a control token as text: it holds no
  ``<`` followed by ``<``, ``s`` or ``e`` (every control token starts ``<s`` or ``<e``);
* control tokens are single units (a control token of the vocabulary, never its text spelt out);
* one call, or one or more where the task allows parallel calls.

The grammar is a small tree of nodes. :class:`Matcher` walks it as llama.cpp walks a GBNF grammar (a set of
stacks, so shared parts are never copied) one unit at a time: a character, or a control token written as one
private-use character (:func:`units`, :func:`wire_text`). It says whether a text can continue the answer
(:meth:`Matcher.feed`), what text the grammar forces next (:meth:`Matcher.forced`, for jump-forward) and which
labelled branch a continuation takes (:meth:`Matcher.branches`: the tool chosen, an empty list or not, a flag).
:meth:`Grammar.gbnf` writes the same grammar for llama.cpp (control tokens in its ``<token>`` syntax); GBNF
cannot forbid a repeated key or item, so that export is that much looser than the matcher.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from converters.functiongemma import (
    CONTROL_TOKENS,
    END_CALL,
    ESCAPE,
    START_CALL,
    FunctionGemmaFormatError,
    Profile,
    completion_terminator,
    render_value,
    sort_keys,
)

__all__ = [
    "MAX_ENUMERATED_INTEGERS",
    "Grammar",
    "Matcher",
    "call_grammar",
    "sample",
    "units",
    "wire_text",
]

#: an integer range of at most this many values is written as its values (so each is a labelled branch)
MAX_ENUMERATED_INTEGERS = 64
#: the longest key of a map without declared properties
MAX_KEY_LENGTH = 64

_TOKEN_UNIT = {token: chr(0xF0000 + index) for index, token in enumerate(CONTROL_TOKENS)}
_UNIT_TOKEN = {unit: token for token, unit in _TOKEN_UNIT.items()}
_CONTROL = re.compile("|".join(re.escape(token) for token in CONTROL_TOKENS))
_KEY_STOP = frozenset(":,{}[]<>")


def units(text: str) -> str | None:
    """Wire text as grammar units (each control token one unit); None when the text holds a unit character."""
    if any(char in _UNIT_TOKEN for char in text):
        return None
    return _CONTROL.sub(lambda found: _TOKEN_UNIT[found.group()], text)


def wire_text(unit_text: str) -> str:
    """Grammar units back as wire text."""
    return "".join(_UNIT_TOKEN.get(char, char) for char in unit_text)


def _is_token(char: str) -> bool:
    return char in _UNIT_TOKEN


# -------------------------------------------------------------------------------------------------- nodes


class Node:
    """A grammar node; nodes compare by identity, so a shared part is one object."""

    __slots__ = ()


@dataclass(eq=False)
class Lit(Node):
    """Literal units."""

    text: str


@dataclass(eq=False)
class Cls(Node):
    """One character in (or, negated, not in) ``chars``; never a control token."""

    chars: str
    negate: bool = False

    def matches(self, char: str) -> bool:
        return not _is_token(char) and (char in self.chars) != self.negate


@dataclass(eq=False)
class Seq(Node):
    items: tuple[Node, ...]


@dataclass(eq=False)
class Alt(Node):
    """Alternatives; a labelled one is a branch point whose choice :meth:`Matcher.branches` reports."""

    options: tuple[Node, ...]
    label: str = ""


@dataclass(eq=False)
class Rep(Node):
    """``item`` repeated ``low`` to ``high`` times (no upper bound when ``high`` is None)."""

    item: Node
    low: int = 0
    high: int | None = None

    def unfold(self) -> Node:
        if self.high == 0:
            return EMPTY
        more = self if self.low == 0 and self.high is None else Rep(
            self.item, max(0, self.low - 1), None if self.high is None else self.high - 1)
        step = Seq((self.item, more))
        return step if self.low > 0 else Alt((EMPTY, step))


@dataclass(eq=False)
class MapKey(Node):
    """The key of a map entry (after ``{`` or ``,``): a name not used yet, then ``:`` and the value."""

    prefix: str
    used: frozenset[str]
    value: Node

    def matches(self, char: str) -> bool:
        if char == ":":
            return bool(self.prefix) and self.prefix not in self.used
        if _is_token(char) or char in _KEY_STOP or len(self.prefix) >= MAX_KEY_LENGTH:
            return False
        # a key at its longest must be new, or nothing could follow it (neither ':' nor another character)
        return len(self.prefix) + 1 < MAX_KEY_LENGTH or self.prefix + char not in self.used


@dataclass(eq=False)
class MapRest(Node):
    """After a map entry: ``}`` or another entry."""

    used: frozenset[str]
    value: Node

    def unfold(self) -> Node:
        return Alt((Lit("}"), Seq((Lit(","), MapKey("", self.used, self.value)))))


@dataclass(eq=False)
class DistinctItems(Node):
    """The rest of an array of enum values after ``[``: each value at most once, ``low`` to ``high`` of them."""

    values: tuple[Node, ...]
    used: frozenset[int] = frozenset()
    low: int = 0
    high: int | None = None
    label: str = ""

    def unfold(self) -> Node:
        first = not self.used
        options: list[Node] = []
        if len(self.used) >= self.low:
            options.append(Lit("]"))
        if self.high is None or len(self.used) < self.high:
            for index, value in enumerate(self.values):
                if index not in self.used:
                    rest = DistinctItems(self.values, self.used | {index}, self.low, self.high)
                    options.append(Seq((value, rest)) if first else Seq((Lit(","), value, rest)))
        return Alt(tuple(options), self.label if first else "")


EMPTY = Lit("")
_Unfolding = (Rep, MapRest, DistinctItems)

# ------------------------------------------------------------------------------------------ from schemas

_STRING_UNIT = Alt((Cls("<", negate=True), Seq((Lit("<"), Cls("<se", negate=True)))))
_TRAILING_LT = Alt((EMPTY, Lit("<")))
_STRING_ANY = Seq((Lit(_TOKEN_UNIT[ESCAPE]), Rep(_STRING_UNIT), _TRAILING_LT, Lit(_TOKEN_UNIT[ESCAPE])))
_STRING_NON_EMPTY = Seq((
    Lit(_TOKEN_UNIT[ESCAPE]),
    Alt((Seq((Rep(_STRING_UNIT, 1), _TRAILING_LT)), Lit("<"))),
    Lit(_TOKEN_UNIT[ESCAPE]),
))
_DIGITS = Rep(Cls("0123456789"))
_NATURAL = Alt((Lit("0"), Seq((Cls("123456789"), _DIGITS))))
_FRACTION = Alt((EMPTY, Seq((Lit("."), Rep(Cls("0123456789"), 1)))))
_EXPONENT = Alt((EMPTY, Seq((Cls("eE"), Alt((EMPTY, Cls("+-"))), Rep(Cls("0123456789"), 1)))))
#: a number in [0, 1] as Python writes it: 0.25, 1.0, 1, 0, 5e-05
_UNIT_INTERVAL = Alt((
    Seq((Lit("0"), _FRACTION)),
    Seq((Lit("1"), Alt((EMPTY, Lit(".0"))))),
    Seq((Cls("123456789"), _FRACTION, Lit("e-"),  # an exponent of two digits or more, never zero
         Alt((Seq((Lit("0"), Cls("123456789"))), Seq((Cls("123456789"), Rep(Cls("0123456789"), 1))))))),
))


def _string(low: int, high: Any) -> Node:
    """A string of ``low`` to ``high`` characters (a bounded one holds no ``<``)."""
    if isinstance(high, int | float):
        body: Node = Rep(Cls("<", negate=True), low, int(high))
    elif low <= 1:
        return _STRING_NON_EMPTY if low == 1 else _STRING_ANY
    else:
        body = Seq((Rep(_STRING_UNIT, low), _TRAILING_LT))
    return Seq((Lit(_TOKEN_UNIT[ESCAPE]), body, Lit(_TOKEN_UNIT[ESCAPE])))


def _literal(value: Any, profile: Profile) -> Lit:
    text = units(render_value(value, profile=profile))
    if text is None:
        raise FunctionGemmaFormatError(f"enum value {value!r} cannot be written")
    return Lit(text)


def _number(schema: Mapping[str, Any], integer: bool, label: str) -> Node:
    low, high = schema.get("minimum"), schema.get("maximum")
    if integer and isinstance(low, int | float) and isinstance(high, int | float):
        first, last = int(-(-low // 1)), int(high // 1)
        if 0 <= last - first < MAX_ENUMERATED_INTEGERS:
            return Alt(tuple(Lit(str(n)) for n in range(first, last + 1)), label)
    sign: Node = EMPTY if isinstance(low, int | float) and low >= 0 else Alt((EMPTY, Lit("-")))
    if integer and isinstance(low, int | float) and low > 0:
        least = int(-(-low // 1))
        one_digit = Seq((Cls("".join(str(d) for d in range(least, 10))), _DIGITS)) if least <= 9 else None
        longer = Seq((Cls("123456789"), Rep(Cls("0123456789"), 1)))  # from 10 up (a larger bound is not kept)
        return Alt((one_digit, longer)) if one_digit is not None else longer
    if integer:
        return Seq((sign, _NATURAL))
    if isinstance(low, int | float) and low >= 0 and isinstance(high, int | float) and high <= 1:
        return _UNIT_INTERVAL
    return Seq((sign, _NATURAL, _FRACTION, _EXPONENT))


def _kinds(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternatives of a schema (``anyOf``/``oneOf``, a list of types), ``null`` left out."""
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return [s for option in schema[key] for s in _kinds(option)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [{**schema, "type": k} for k in kind if k != "null"]
    return [] if kind == "null" else [schema]


@dataclass
class _Builder:
    profile: Profile

    def value(self, schema: Mapping[str, Any], path: str) -> Node:
        options = [self.single(s, path) for s in _kinds(schema)]
        if not options:
            return self.any_value(path)
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def single(self, schema: Mapping[str, Any], path: str) -> Node:
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values = [v for v in schema["enum"] if v is not None]
            return Alt(tuple(_literal(v, self.profile) for v in values), path)
        kind = schema.get("type")
        if kind == "string":
            return _string(int(schema.get("minLength") or 0), schema.get("maxLength"))
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", path)
        if kind == "boolean":
            return Alt((Lit("false"), Lit("true")), path)
        if kind == "array":
            return self.array(schema, path)
        if kind == "object" or "properties" in schema:
            return self.object(schema, path)
        return self.any_value(path)

    def any_value(self, path: str) -> Node:
        """A value whose schema says nothing: a string, a number or a boolean."""
        return Alt((_STRING_ANY, Seq((Alt((EMPTY, Lit("-"))), _NATURAL, _FRACTION, _EXPONENT)),
                    Lit("true"), Lit("false")))

    def array(self, schema: Mapping[str, Any], path: str) -> Node:
        low, high = int(schema.get("minItems") or 0), schema.get("maxItems")
        high = None if high is None else int(high)
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        if high == 0:
            return Lit("[]")
        enum = items.get("enum") if isinstance(items, Mapping) else None
        if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
            values = tuple(_literal(v, self.profile) for v in dict.fromkeys(enum))
            return Seq((Lit("["), DistinctItems(values, frozenset(), low, high, path)))
        item = self.value(items if isinstance(items, Mapping) else {}, path + "[]")
        more = Rep(Seq((Lit(","), item)), max(0, low - 1), None if high is None else high - 1)
        listed = Seq((item, more, Lit("]")))
        return Seq((Lit("["), listed if low else Alt((Lit("]"), listed), path)))

    def object(self, schema: Mapping[str, Any], path: str) -> Node:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            extra = schema.get("additionalProperties", True)
            if extra is False:
                return Lit("{}")
            value = self.value(extra, path + ".*") if isinstance(extra, Mapping) else self.any_value(path)
            return Seq((Lit("{"), Alt((Lit("}"), MapKey("", frozenset(), value)))))
        required = set(schema.get("required") or ())
        keys = sort_keys(properties, self.profile)
        entries = [Seq((Lit(f"{key}:"), self.value(properties[key], f"{path}.{key}" if path else key)))
                   for key in keys]
        # rest[i][first]: the entries from i on, ``first`` when none was written before (no comma)
        rest: list[dict[bool, Node]] = [{} for _ in keys] + [{True: Lit("}"), False: Lit("}")}]
        for index in range(len(keys) - 1, -1, -1):
            for first in (True, False):
                written = Seq(((EMPTY if first else Lit(",")), entries[index], rest[index + 1][False]))
                if keys[index] in required:
                    rest[index][first] = written
                else:
                    rest[index][first] = Alt((rest[index + 1][first], written), f"{path}.{keys[index]}?")
        return Seq((Lit("{"), rest[0][True]))


def _tool_parts(tool: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise FunctionGemmaFormatError('a tool must be {"type": "function", "function": {"name": ..}}')
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return function["name"], parameters


@dataclass(frozen=True, eq=False)
class Grammar:
    """The language of one answer; :meth:`matcher` walks it, :meth:`gbnf` writes it for llama.cpp."""

    root: Node
    tools: tuple[str, ...] = field(default=())

    def matcher(self) -> Matcher:
        """A matcher at the start of the answer."""
        return Matcher.start(self.root)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` (wire text) is a whole answer of this grammar."""
        unit_text = units(text)
        matcher = None if unit_text is None else self.matcher().feed(unit_text)
        return matcher is not None and matcher.done

    def gbnf(self) -> str:
        """The grammar in llama.cpp's GBNF (control tokens as ``<token>``), looser where noted in the module."""
        return _Gbnf().write(self.root)


def call_grammar(tools: Sequence[Mapping[str, Any]], *, profile: Profile = "hf", parallel: bool = False) -> Grammar:
    """The grammar of an answer calling one of ``tools`` (or several, one after another, when ``parallel``)."""
    if not tools:
        raise FunctionGemmaFormatError("a call grammar needs at least one declared tool")
    builder = _Builder(profile)
    named = [_tool_parts(tool) for tool in tools]
    calls = Alt(tuple(Seq((Lit(name), builder.object(parameters, name))) for name, parameters in named), "tool")
    call = Seq((Lit(_TOKEN_UNIT[START_CALL] + "call:"), calls, Lit(_TOKEN_UNIT[END_CALL])))
    terminator = units(completion_terminator(profile).rstrip("\n")) or ""
    body = Rep(call, 1) if parallel else call
    return Grammar(Seq((body, Lit(terminator))), tuple(name for name, _ in named))


# ------------------------------------------------------------------------------------------------ matcher

#: a stack: the node on top and the stack beneath (None: the end of the answer)
Stack: TypeAlias = "tuple[Node, Stack] | None"
#: a labelled branch taken: (label, option index)
Tag: TypeAlias = tuple[str, int]


def _expand(stack: Stack, tag: Tag | None, out: dict[Stack, Tag | None], depth: int = 0) -> None:
    """Every stack reachable from ``stack`` without reading, whose top reads one unit (or the end)."""
    if depth > 10_000:
        raise FunctionGemmaFormatError("grammar too deep to expand")
    if stack is None:
        out.setdefault(None, tag)
        return
    node, rest = stack
    if isinstance(node, Lit):
        if node.text:
            out.setdefault(stack, tag)
        else:
            _expand(rest, tag, out, depth + 1)
    elif isinstance(node, Cls | MapKey):
        out.setdefault(stack, tag)
    elif isinstance(node, Seq):
        for item in reversed(node.items):
            rest = (item, rest)
        _expand(rest, tag, out, depth + 1)
    elif isinstance(node, Alt):
        for index, option in enumerate(node.options):
            _expand((option, rest), tag if tag is not None or not node.label else (node.label, index), out,
                    depth + 1)
    elif isinstance(node, _Unfolding):
        _expand((node.unfold(), rest), tag, out, depth + 1)
    else:  # pragma: no cover - every node type is handled above
        raise TypeError(f"unknown grammar node {node!r}")


def _step(stack: tuple[Node, Stack], unit: str) -> Stack | bool:
    """The stack after reading ``unit`` from an expanded stack, or False when it cannot read it."""
    node, rest = stack
    if isinstance(node, Lit):
        if node.text[0] != unit:
            return False
        return (Lit(node.text[1:]), rest) if len(node.text) > 1 else rest
    if isinstance(node, Cls):
        return rest if node.matches(unit) else False
    assert isinstance(node, MapKey)
    if not node.matches(unit):
        return False
    if unit == ":":
        return (node.value, (MapRest(node.used | {node.prefix}, node.value), rest))
    return (MapKey(node.prefix + unit, node.used, node.value), rest)


@dataclass(frozen=True, eq=False)
class Matcher:
    """Where an answer is in its grammar: the expanded stacks, each with the labelled branch it came through."""

    heads: dict[Stack, Tag | None]

    @classmethod
    def start(cls, root: Node) -> Matcher:
        heads: dict[Stack, Tag | None] = {}
        _expand((root, None), None, heads)
        return cls(heads)

    @property
    def done(self) -> bool:
        """Whether the answer may end here."""
        return None in self.heads

    def _next(self, unit: str) -> dict[Stack, Tag | None]:
        heads: dict[Stack, Tag | None] = {}
        for stack in self.heads:
            if stack is not None:
                after = _step(stack, unit)
                if after is not False:
                    _expand(after, None, heads)  # type: ignore[arg-type]  # a stack or None, never True
        return heads

    def feed(self, unit_text: str) -> Matcher | None:
        """The matcher after ``unit_text``, or None when the grammar does not allow it."""
        matcher = self
        for unit in unit_text:
            heads = matcher._next(unit)
            if not heads:
                return None
            matcher = Matcher(heads)
        return matcher

    def forced(self, limit: int = 4096) -> str:
        """The units the grammar allows as the only continuation from here (empty at a choice or the end)."""
        out: list[str] = []
        matcher = self
        while len(out) < limit and not matcher.done:
            firsts = set()
            for stack in matcher.heads:
                assert stack is not None
                node = stack[0]
                if not isinstance(node, Lit):
                    return "".join(out)
                firsts.add(node.text[0])
                if len(firsts) > 1:
                    return "".join(out)
            (unit,) = firsts
            out.append(unit)
            matcher = Matcher(matcher._next(unit))
        return "".join(out)

    def shortest(self) -> str:
        """The shortest units that end the answer from here (to close an answer that ran out of tokens)."""
        memo: dict[int, tuple[Node, str]] = {}
        endings = []
        for stack in self.heads:
            parts = []
            while stack is not None:
                node, stack = stack
                parts.append(_shortest(node, memo))
            endings.append("".join(parts))
        return min(endings, key=len)

    def branches(self, unit: str) -> set[Tag]:
        """The labelled branches that reading ``unit`` here goes into (empty when none starts here)."""
        return {tag for stack, tag in self.heads.items()
                if tag is not None and stack is not None and _step(stack, unit) is not False}

    def labels(self) -> dict[str, set[int]]:
        """The labelled branch points here: each label with the options still open."""
        found: dict[str, set[int]] = {}
        for tag in self.heads.values():
            if tag is not None:
                found.setdefault(tag[0], set()).add(tag[1])
        return found


_FILLER = "x01e+"


def _shortest(node: Node, memo: dict[int, tuple[Node, str]]) -> str:
    """The shortest units ``node`` matches (the grammar holds no recursion, so this ends). The memo keeps each
    node alive beside its answer: nodes that ``unfold`` makes are temporary, and a freed node's id is reused."""
    if id(node) in memo:
        return memo[id(node)][1]
    if isinstance(node, Lit):
        found = node.text
    elif isinstance(node, Cls):
        found = next(c for c in _FILLER if node.matches(c))
    elif isinstance(node, Seq):
        found = "".join(_shortest(item, memo) for item in node.items)
    elif isinstance(node, Alt):
        found = min((_shortest(option, memo) for option in node.options), key=len)
    elif isinstance(node, Rep):
        found = _shortest(node.item, memo) * node.low
    elif isinstance(node, MapKey):
        suffix = "" if node.prefix and node.prefix not in node.used else "x"
        while node.prefix + suffix in node.used:
            suffix += "x"
        found = suffix + ":" + _shortest(node.value, memo) + "}"
    elif isinstance(node, MapRest):
        found = "}"
    else:
        assert isinstance(node, DistinctItems)
        # directly, not through unfold(): every option leads to another subset of the values (2^n of them)
        need = max(0, node.low - len(node.used))
        items = sorted((_shortest(value, memo) for index, value in enumerate(node.values) if index not in node.used),
                       key=len)[:need]
        found = ("" if not node.used or not items else ",") + ",".join(items) + "]"
    memo[id(node)] = (node, found)
    return found


# ------------------------------------------------------------------------------------------------ sampling


def sample(grammar: Grammar, pick: Callable[[int], int], alphabet: str = "ab Z09.<>s_\n") -> str:
    """One answer of ``grammar`` as wire text, every choice made by ``pick(n)`` (an index below ``n``);
    characters come from ``alphabet`` (and digits where only digits fit). For property tests."""
    out: list[str] = []
    stack: Stack = (grammar.root, None)
    pool = alphabet + "0123456789eE+-"
    while stack is not None:
        node, rest = stack
        if isinstance(node, Lit):
            out.append(node.text)
            stack = rest
        elif isinstance(node, Cls):
            chars = [c for c in dict.fromkeys(pool) if node.matches(c)]
            out.append(chars[pick(len(chars))])
            stack = rest
        elif isinstance(node, MapKey):
            keys = [k for k in ("a", "b", "Key", "z z", "_") if k not in node.used]
            key = keys[pick(len(keys))]
            out.append(key + ":")
            stack = (node.value, (MapRest(node.used | {key}, node.value), rest))
        elif isinstance(node, Seq):
            for item in reversed(node.items):
                rest = (item, rest)
            stack = rest
        elif isinstance(node, MapRest):
            open_keys = [k for k in ("a", "b", "Key", "z z", "_") if k not in node.used]
            stack = (Lit("}") if not open_keys or pick(2) == 0 else Seq((Lit(","), MapKey("", node.used, node.value))),
                     rest)
        elif isinstance(node, Rep) and node.high is None and node.low == 0:
            stack = (node.item, (node, rest)) if pick(3) == 0 else rest  # bounded on average
        elif isinstance(node, _Unfolding):
            stack = (node.unfold(), rest)
        elif isinstance(node, Alt):
            stack = (node.options[pick(len(node.options))], rest)
        else:  # pragma: no cover
            raise TypeError(f"unknown grammar node {node!r}")
    return wire_text("".join(out))


# --------------------------------------------------------------------------------------------------- GBNF


def _gbnf_literal(text: str) -> str:
    parts: list[str] = []
    plain: list[str] = []
    for char in text:
        if _is_token(char):
            if plain:
                parts.append(json.dumps("".join(plain)))
                plain = []
            parts.append(_UNIT_TOKEN[char])
        else:
            plain.append(char)
    if plain:
        parts.append(json.dumps("".join(plain)))
    return " ".join(parts) if parts else '""'


def _gbnf_class(chars: Iterable[str], negate: bool) -> str:
    escaped = "".join("\\" + c if c in "]\\^-[" else {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c, c)
                      for c in chars)
    return f"[{'^' if negate else ''}{escaped}]"


@dataclass
class _Gbnf:
    rules: dict[int, tuple[str, str]] = field(default_factory=dict)

    def write(self, root: Node) -> str:
        body = self.expr(root)
        lines = [f"root ::= {body}"] + [f"{name} ::= {text}" for name, text in self.rules.values()]
        return "\n".join(lines) + "\n"

    def rule(self, node: Node, make: Callable[[], str]) -> str:
        if id(node) not in self.rules:
            name = f"r{len(self.rules)}"
            self.rules[id(node)] = (name, "")
            self.rules[id(node)] = (name, make())
        return self.rules[id(node)][0]

    def expr(self, node: Node) -> str:
        if isinstance(node, Lit):
            return _gbnf_literal(node.text)
        if isinstance(node, Cls):
            return _gbnf_class(node.chars, node.negate)
        if isinstance(node, Seq):
            return "(" + " ".join(self.expr(item) for item in node.items) + ")" if node.items else '""'
        if isinstance(node, Alt):
            return self.rule(node, lambda: " | ".join(self.expr(option) for option in node.options))
        if isinstance(node, Rep):
            bound = "*" if node.high is None and node.low == 0 else "+" if node.high is None and node.low == 1 \
                else f"{{{node.low},{'' if node.high is None else node.high}}}"
            return f"({self.expr(node.item)}){bound}"
        if isinstance(node, MapKey):  # looser: a key may repeat
            entry = f"{_gbnf_class(''.join(sorted(_KEY_STOP)), True)}+ \":\" {self.expr(node.value)}"
            return self.rule(node, lambda: f"{entry} (\",\" {entry})* \"}}\"")
        if isinstance(node, DistinctItems):  # looser: an item may repeat
            def items() -> str:
                value = "(" + " | ".join(self.expr(v) for v in node.values) + ")"
                listed = f"{value} (\",\" {value})* \"]\""
                return f"\"]\" | {listed}" if node.low == 0 else listed
            return self.rule(node, items)
        raise TypeError(f"cannot write {node!r} as GBNF")  # pragma: no cover
