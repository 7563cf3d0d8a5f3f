"""FunctionGemma's wire format: the only place in the project where it is written or read.

Two profiles render the same conversation:

* ``hf``: what FunctionGemma's Hugging Face chat template renders, checked byte for byte against renderings of
  that template (``../shared/testdata/functiongemma_hf_renderings.json``); the project ships the same rules as a
  Jinja chat template (``functiongemma_chat_template.jinja``). Declarations carry ``description``, ``enum``,
  nested ``properties``/``items`` and ``required``; object keys are sorted case-insensitively (Jinja's
  ``dictsort``); floats are written as Python writes them; the system message is trimmed, and with tools but no
  system message the developer turn opens with Google's trigger line (:data:`DEVELOPER_PROMPT`); a tool result
  is ``response:NAME{value:<escape>..<escape>}`` for text and ``response:NAME{k:v,..}`` for an object, where the
  tool message's ``content`` is the response itself (named by ``name``, ``tool_call_id`` or position) or, in
  Google's form, ``{"name": .., "response": ..}`` or a list of such dicts (one block each); an assistant turn
  that ends the conversation with calls ends with ``<start_function_response>``, the token the model emits to
  hand over to the tool.
* ``ollama``: byte-identical to Ollama's built-in ``functiongemma`` renderer: it adds its own developer line
  ("You can do function calling with the following functions:") when tools are given, renders only each
  property's ``description`` and first ``type``, sorts keys by byte value, writes integral floats as integers
  and other floats as Go's ``%v`` does, renders a text tool result as ``response:NAME{<escape>..<escape>}``,
  and closes an assistant turn that is not followed by a tool result with ``<end_of_turn>``.

Values the format cannot carry are refused with :class:`FunctionGemmaFormatError` rather than rendered into
text that would parse back differently: ``None``, non-finite floats, strings containing a control token, and
keys or names containing one of ``:,{}[]<>``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, ParamSpec

import orjson

from teacher.errors import FineTrainingError

__all__ = [
    "BOS",
    "CONTROL_TOKENS",
    "DEVELOPER_PROMPT",
    "END_CALL",
    "END_DECLARATION",
    "END_RESPONSE",
    "END_TURN",
    "ESCAPE",
    "OLLAMA_DEVELOPER_LINE",
    "PROFILES",
    "SPECIAL_TOKENS",
    "START_CALL",
    "START_DECLARATION",
    "START_RESPONSE",
    "START_TURN",
    "STOP_SEQUENCES",
    "UNUSED_TOKEN",
    "ArgumentSpan",
    "FunctionGemmaFormatError",
    "Profile",
    "ToolCall",
    "argument_spans",
    "check_text",
    "completion_terminator",
    "has_special_token",
    "hf_chat_template",
    "parse_calls",
    "render_call",
    "render_declaration",
    "render_fields",
    "render_prompt",
    "render_response",
    "render_value",
    "sort_keys",
    "split_output",
]

BOS = "<bos>"
START_TURN = "<start_of_turn>"
END_TURN = "<end_of_turn>"
START_DECLARATION = "<start_function_declaration>"
END_DECLARATION = "<end_function_declaration>"
START_CALL = "<start_function_call>"
END_CALL = "<end_function_call>"
START_RESPONSE = "<start_function_response>"
END_RESPONSE = "<end_function_response>"
ESCAPE = "<escape>"

#: Tokens that are single control tokens in FunctionGemma's vocabulary; text may not contain them.
CONTROL_TOKENS: tuple[str, ...] = (
    START_TURN,
    END_TURN,
    START_DECLARATION,
    END_DECLARATION,
    START_CALL,
    END_CALL,
    START_RESPONSE,
    END_RESPONSE,
    ESCAPE,
)
#: The other tokens Gemma 3's tokenizer treats as special (CONTROL in its vocabulary, besides the turn markers above):
#: text may not contain them either, since a tokenizer that parses special tokens would read them as one. The
#: reserved ``<unusedN>`` slots (where FunctionGemma's own tokens live) are CONTROL too: see :data:`UNUSED_TOKEN`.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<eos>", BOS, "<unk>", "<mask>")
#: The pattern of the reserved ``<unusedN>`` tokens.
UNUSED_TOKEN = r"<unused[0-9]+>"
#: Generation stops at either of these.
STOP_SEQUENCES: tuple[str, ...] = (END_TURN, START_RESPONSE)
#: Google's trigger line for the developer turn (the ``hf`` profile renders the system message as given).
DEVELOPER_PROMPT = "You are a model that can do function calling with the following functions"
#: The line Ollama's renderer adds to the developer turn whenever tools are given.
OLLAMA_DEVELOPER_LINE = "You can do function calling with the following functions:"

Profile = Literal["hf", "ollama"]
PROFILES: tuple[Profile, ...] = ("hf", "ollama")

_FORBIDDEN_IN_NAMES = frozenset(":,{}[]<>")
_NAME_END = re.compile(r"[:,{}\[\]<>]")
_MAX_DEPTH = 64
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INT64_LIMIT = 2**63


class FunctionGemmaFormatError(ValueError, FineTrainingError):
    """Text that is not valid FunctionGemma, or a value the format cannot carry."""

    def __init__(self, message: str, *, text: str | None = None, offset: int | None = None) -> None:
        if text is not None and offset is not None:
            snippet = text[max(0, offset - 20) : offset + 20]
            message = f"{message} (at offset {offset}, near {snippet!r})"
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class ToolCall:
    """One parsed function call: its name and its typed arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArgumentSpan:
    """Where one top-level argument's value lies in model output: ``text[start:end]`` is the value exactly as
    rendered (a string with its ``<escape>`` delimiters, a bare number or boolean, a whole ``[..]`` or ``{..}``)."""

    call: str
    argument: str
    start: int
    end: int


# --------------------------------------------------------------------------------------------- rendering

_P = ParamSpec("_P")


def _typed_errors(function: Callable[_P, str]) -> Callable[_P, str]:
    """Make a public renderer total: any input it cannot render raises :class:`FunctionGemmaFormatError`."""

    @functools.wraps(function)
    def render(*args: _P.args, **kwargs: _P.kwargs) -> str:
        try:
            return function(*args, **kwargs)
        except FunctionGemmaFormatError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as error:
            raise FunctionGemmaFormatError(
                f"{function.__name__} cannot render its input: {type(error).__name__}: {str(error)[:200]}"
            ) from None

    return render


def _check_profile(profile: str) -> Profile:
    if profile not in PROFILES:
        raise FunctionGemmaFormatError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


_ANY_CONTROL = re.compile("|".join([*(re.escape(t) for t in (*CONTROL_TOKENS, *SPECIAL_TOKENS)), UNUSED_TOKEN]))
_CONTROL_BUT_ESCAPE = re.compile(
    "|".join([*(re.escape(t) for t in (*CONTROL_TOKENS, *SPECIAL_TOKENS) if t != ESCAPE), UNUSED_TOKEN])
)


def has_special_token(text: str) -> bool:
    """Whether ``text`` holds a token the tokenizer treats as special (those :func:`check_text` refuses)."""
    return _ANY_CONTROL.search(text) is not None


def check_text(text: str, what: str, *, allow_escape: bool = False) -> str:
    """``text`` unchanged, or :class:`FunctionGemmaFormatError` naming ``what`` and the control token it holds
    (FunctionGemma's, or any other the tokenizer treats as special: :data:`SPECIAL_TOKENS`, ``<unusedN>``)."""
    found = (_CONTROL_BUT_ESCAPE if allow_escape else _ANY_CONTROL).search(text)
    if found:
        token = found.group()
        raise FunctionGemmaFormatError(f"{what} contains the control token {token}, which the format cannot carry")
    return text


@lru_cache(maxsize=4096)
def _valid_name(name: str) -> bool:
    return bool(name) and not (set(name) & _FORBIDDEN_IN_NAMES)


def _check_name(name: object, what: str) -> str:
    if isinstance(name, str) and _valid_name(name):
        return name
    if not isinstance(name, str) or not name:
        raise FunctionGemmaFormatError(f"{what} must be a non-empty string, got {name!r}")
    bad = sorted(set(name) & _FORBIDDEN_IN_NAMES)
    if bad:
        raise FunctionGemmaFormatError(f"{what} {name!r} contains {''.join(bad)!r}, which the format cannot carry")
    return name


def _escaped(text: str, what: str = "string value") -> str:
    return ESCAPE + check_text(text, what) + ESCAPE


def sort_keys(keys: Iterable[str], profile: Profile = "hf") -> list[str]:
    """Object keys in the order the profile renders them (``hf``: case-insensitive and stable; ``ollama``: bytes)."""
    return _sorted_keys(dict.fromkeys(keys), _check_profile(profile))


def _sorted_keys(mapping: Mapping[str, Any], profile: Profile) -> list[str]:
    keys = list(mapping)
    for key in keys:
        _check_name(key, "key")
    if profile == "hf":  # Jinja's dictsort: case-insensitive, stable
        return sorted(keys, key=str.lower)
    return sorted(keys)


def _go_float(value: float) -> str:
    """Go's ``fmt.Sprintf("%v", float64)``: shortest digits; exponent form below 1e-4 and from 1e6 up."""
    if value == 0:
        return "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # decimal point position relative to the first digit
    sign = "-" if value < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _render_value(value: Any, *, profile: Profile = "hf", _depth: int = 0) -> str:
    if _depth > _MAX_DEPTH:
        raise FunctionGemmaFormatError(f"value nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # beyond Python's int-to-text digit limit, which the parser's int() obeys too
            raise FunctionGemmaFormatError(f"the format cannot carry an integer of {value.bit_length()} bits") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FunctionGemmaFormatError(f"the format cannot carry the non-finite number {value!r}")
        if profile == "ollama":
            if value == int(value) and abs(value) < _INT64_LIMIT:
                return str(int(value))
            return _go_float(value)
        return repr(value)
    if isinstance(value, Mapping):
        inner = ",".join(
            f"{key}:{_render_value(value[key], profile=profile, _depth=_depth + 1)}"
            for key in _sorted_keys(value, profile)
        )
        return "{" + inner + "}"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "[" + ",".join(_render_value(item, profile=profile, _depth=_depth + 1) for item in value) + "]"
    if value is None:
        raise FunctionGemmaFormatError("the format cannot carry null; leave the argument out instead")
    raise FunctionGemmaFormatError(f"the format cannot carry a value of type {type(value).__name__}")


@_typed_errors
def render_value(value: Any, *, profile: Profile = "hf") -> str:
    """Render one argument value (string, number, boolean, list or object) in the given profile."""
    return _render_value(value, profile=_check_profile(profile))


def _tool_function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping):
        raise FunctionGemmaFormatError(
            'a tool must be an OpenAI-style dict {"type": "function", "function": {...}}, got ' + repr(tool)[:80]
        )
    return function


def _type_name(schema: Mapping[str, Any]) -> str:
    """The schema's type, upper-cased; for a list of types, the first (as Ollama does)."""
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = kind[0] if kind else ""
    if not isinstance(kind, str):
        raise FunctionGemmaFormatError(f"schema type must be a string, got {kind!r}")
    return kind.upper()


_HF_STANDARD_KEYS = frozenset({"description", "type", "properties", "required", "nullable"})


def _hf_properties(properties: Mapping[str, Any], depth: int = 0) -> str:
    if depth > _MAX_DEPTH:
        raise FunctionGemmaFormatError(f"schema nested deeper than {_MAX_DEPTH} levels")
    parts = []
    for name in _sorted_keys(properties, "hf"):
        if name in _HF_STANDARD_KEYS:
            # The chat template silently skips such properties; refuse rather than drop them.
            raise FunctionGemmaFormatError(f"a property may not be named {name!r} in the hf profile")
        schema = properties[name]
        if not isinstance(schema, Mapping):
            raise FunctionGemmaFormatError(f"property {name!r} must have a schema object, got {schema!r}")
        kind = _type_name(schema)
        text = f"{name}:{{description:{_escaped(str(schema.get('description', '')), 'description')}"
        if kind == "STRING":
            if schema.get("enum"):
                text += ",enum:" + _render_value(list(schema["enum"]))
        elif kind == "OBJECT":
            nested = schema.get("properties")
            text += ",properties:{" + (_hf_properties(nested, depth + 1) if isinstance(nested, Mapping) else "") + "}"
            if schema.get("required"):
                text += ",required:[" + ",".join(_escaped(str(r)) for r in schema["required"]) + "]"
        elif kind == "ARRAY":
            items = schema.get("items")
            if isinstance(items, Mapping) and items:
                text += ",items:{" + _hf_items(items, depth + 1) + "}"
        parts.append(text + f",type:{_escaped(kind)}}}")
    return ",".join(parts)


def _hf_items(items: Mapping[str, Any], depth: int) -> str:
    parts = []
    for key in _sorted_keys(items, "hf"):
        value = items[key]
        if value is None:
            continue
        if key == "properties":
            inner = _hf_properties(value, depth + 1) if isinstance(value, Mapping) else ""
            parts.append("properties:{" + inner + "}")
        elif key == "required":
            parts.append("required:[" + ",".join(_escaped(str(r)) for r in value) + "]")
        elif key == "type":
            kind = [str(v).upper() for v in value] if isinstance(value, list) else str(value).upper()
            parts.append("type:" + _render_value(kind))
        else:
            parts.append(f"{key}:{_render_schema_value(value)}")
    return ",".join(parts)


def _render_schema_value(value: Any, depth: int = 0) -> str:
    """Schema values are rendered like arguments, with keys inside objects escaped (the template's default)."""
    if depth > _MAX_DEPTH:
        raise FunctionGemmaFormatError(f"schema nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        pairs = (f"{_escaped(k)}:{_render_schema_value(value[k], depth + 1)}" for k in _sorted_keys(value, "hf"))
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render_schema_value(v, depth + 1) for v in value) + "]"
    return _render_value(value)


def _ollama_properties(properties: Mapping[str, Any]) -> str:
    parts = []
    for name in _sorted_keys(properties, "ollama"):
        schema = properties[name]
        if not isinstance(schema, Mapping):
            raise FunctionGemmaFormatError(f"property {name!r} must have a schema object, got {schema!r}")
        text = f"{name}:{{description:{_escaped(str(schema.get('description', '')), 'description')}"
        kind = _type_name(schema)
        if kind:
            text += f",type:{_escaped(kind)}"
        parts.append(text + "}")
    return ",".join(parts)


@_typed_errors
def render_declaration(tool: Mapping[str, Any], *, profile: Profile = "hf") -> str:
    """Render one OpenAI-style tool as a ``<start_function_declaration>`` block."""
    profile = _check_profile(profile)
    function = _tool_function(tool)
    name = _check_name(function.get("name"), "function name")
    description = _escaped(str(function.get("description") or ""), "description")
    text = f"{START_DECLARATION}declaration:{name}{{description:{description}"
    params = function.get("parameters")
    if params is not None and not isinstance(params, Mapping):
        raise FunctionGemmaFormatError(f"parameters of {name!r} must be an object schema")
    properties = (params or {}).get("properties") or {}
    required = list((params or {}).get("required") or [])
    if not isinstance(properties, Mapping):
        raise FunctionGemmaFormatError(f"properties of {name!r} must be an object")
    if profile == "hf":
        if params:
            if not params.get("type"):
                raise FunctionGemmaFormatError(f"parameters of {name!r} need a type (the template requires one)")
            text += ",parameters:{"
            if properties:
                text += "properties:{" + _hf_properties(properties) + "},"
            if required:
                text += "required:[" + ",".join(_escaped(str(r)) for r in required) + "],"
            text += f"type:{_escaped(_type_name(params))}}}"
    elif params is not None and ("properties" in params or params.get("type")):
        pieces = []
        if properties:
            pieces.append("properties:{" + _ollama_properties(properties) + "}")
        if required:
            pieces.append("required:[" + ",".join(_escaped(str(r)) for r in required) + "]")
        if params.get("type"):
            pieces.append(f"type:{_escaped(_type_name(params))}")
        text += ",parameters:{" + ",".join(pieces) + "}"
    return text + "}" + END_DECLARATION


def _arguments_dict(arguments: Any, what: str) -> Mapping[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            try:  # orjson refuses integers beyond 64 bits; the standard library reads them
                arguments = json.loads(arguments)
            except (json.JSONDecodeError, RecursionError, ValueError) as error:
                raise FunctionGemmaFormatError(f"{what}: arguments are not valid JSON: {error}") from None
    if not isinstance(arguments, Mapping):
        raise FunctionGemmaFormatError(f"{what}: arguments must be an object, got {type(arguments).__name__}")
    return arguments


@_typed_errors
def render_call(name: str, arguments: Mapping[str, Any] | str, *, profile: Profile = "hf") -> str:
    """Render one call as ``<start_function_call>call:NAME{k:v,..}<end_function_call>``."""
    profile = _check_profile(profile)
    _check_name(name, "function name")
    args = _arguments_dict(arguments, f"call to {name}")
    return f"{START_CALL}call:{name}{_render_value(args, profile=profile)}{END_CALL}"


@_typed_errors
def render_response(name: str, response: Any, *, profile: Profile = "hf") -> str:
    """Render a tool result as ``<start_function_response>response:NAME{..}<end_function_response>``."""
    profile = _check_profile(profile)
    _check_name(name, "function name")
    if isinstance(response, Mapping):
        body = _render_value(response, profile=profile)
    elif profile == "hf":
        body = "{value:" + _render_value(response, profile=profile) + "}"
    else:
        body = "{" + _render_value(response, profile=profile) + "}"
    return f"{START_RESPONSE}response:{name}{body}{END_RESPONSE}"


@_typed_errors
def render_fields(heading: str, fields: Sequence[tuple[str, str]]) -> str:
    """A user text of labelled fields, each value wrapped in ``<escape>`` (the 2-turn minimal layout)."""
    text = heading + "".join(f"\n{label}: {ESCAPE}{value}{ESCAPE}" for label, value in fields)
    if _ANY_CONTROL.search(heading + "".join(label + value for label, value in fields)):  # one search, then who
        check_text(heading, "heading")
        for label, value in fields:
            check_text(label, "label")
            check_text(value, label)
    return text


def hf_chat_template() -> str:
    """The Jinja chat template of the ``hf`` profile, the text every tokenizer the project writes carries."""
    return resources.files(__package__).joinpath("functiongemma_chat_template.jinja").read_text(encoding="utf-8")


def completion_terminator(profile: Profile = "hf") -> str:
    """What follows the calls when an assistant turn with calls ends the rendered text."""
    return START_RESPONSE if _check_profile(profile) == "hf" else END_TURN + "\n"


def _content_text(message: Mapping[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return check_text(content, f"message {index} content", allow_escape=True)
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        texts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise FunctionGemmaFormatError(f"message {index}: only text content parts can be rendered")
            texts.append(check_text(part["text"], f"message {index} content", allow_escape=True))
        return "".join(texts)
    raise FunctionGemmaFormatError(f"message {index}: content must be a string or a list of text parts")


def _calls_of(message: Mapping[str, Any], index: int) -> list[tuple[str, str | None, Mapping[str, Any]]]:
    calls = []
    for number, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            raise FunctionGemmaFormatError(f"message {index}, tool call {number}: missing 'function'")
        name = _check_name(function.get("name"), f"message {index}, tool call {number}: name")
        args = _arguments_dict(function.get("arguments", {}), f"message {index}, tool call {number}")
        calls.append((name, call.get("id"), args))
    return calls


_NAMED_RESPONSE_KEYS = frozenset({"name", "response"})


def _is_named_response(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == _NAMED_RESPONSE_KEYS


def _named_responses(message: Mapping[str, Any], index: int) -> list[tuple[str, Any]] | None:
    """Google's tool-result form: ``content`` is ``{"name", "response"}`` or a list of such dicts; else None."""
    content = message.get("content")
    entries: list[Mapping[str, Any]]
    if isinstance(content, Mapping) and _is_named_response(content):
        entries = [content]
    elif isinstance(content, list) and content and any(_is_named_response(item) for item in content):
        if not all(_is_named_response(item) for item in content):
            raise FunctionGemmaFormatError(
                f"message {index}: a tool result list must hold only {{name, response}} entries or only text parts"
            )
        entries = content
    else:
        return None
    return [(_check_name(entry["name"], f"message {index}: tool result name"), entry["response"]) for entry in entries]


def _tool_result(message: Mapping[str, Any], index: int) -> Any:
    content = message.get("content")
    if isinstance(content, Mapping):
        return content
    return _content_text(message, index)


class _ToolNames:
    """Finds the function a tool message answers: its ``name``, its ``tool_call_id``, else its position."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.pending: list[str] = []

    def called(self, calls: list[tuple[str, str | None, Mapping[str, Any]]]) -> None:
        self.pending = [name for name, _, _ in calls]
        self.by_id.update({call_id: name for name, call_id, _ in calls if call_id})

    def answer(self, message: Mapping[str, Any], index: int) -> list[tuple[str, Any]]:
        """The (name, response) pairs a tool message renders, each answering the next pending call."""
        named = _named_responses(message, index)
        if named is not None:
            del self.pending[: len(named)]
            return named
        name = message.get("name")
        if not name and message.get("tool_call_id") in self.by_id:
            name = self.by_id[message["tool_call_id"]]
        if not name and self.pending:
            name = self.pending[0]
        if self.pending:
            self.pending.pop(0)
        if not name:
            raise FunctionGemmaFormatError(f"message {index}: a tool result that answers no call")
        return [(str(name), _tool_result(message, index))]


@_typed_errors
def render_prompt(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    profile: Profile = "hf",
    add_generation_prompt: bool = True,
) -> str:
    """Render an OpenAI-style conversation (and its tools) as the exact text the model reads."""
    profile = _check_profile(profile)
    tools = list(tools or [])
    for index, message in enumerate(messages):
        if not (type(message) is dict or isinstance(message, Mapping)) or not isinstance(message.get("role"), str):
            raise FunctionGemmaFormatError(f"message {index} must be a dict with a string 'role'")
    out = [BOS]
    loop = list(enumerate(messages))
    system: str | None = None
    if loop and loop[0][1]["role"] in ("system", "developer"):
        system = _content_text(loop[0][1], 0).strip()
        loop = loop[1:]
    declarations = "".join(render_declaration(tool, profile=profile) for tool in tools)
    if profile == "hf":
        if tools or system is not None:
            # With tools and no system message the template writes Google's trigger line itself.
            text = DEVELOPER_PROMPT if system is None else system
            out.append(f"{START_TURN}developer\n{text}{declarations}{END_TURN}\n")
    elif system or tools:
        text = system or ""
        if tools:
            text += ("\n" if system else "") + ("" if system == OLLAMA_DEVELOPER_LINE else OLLAMA_DEVELOPER_LINE)
        out.append(f"{START_TURN}developer\n{text}{declarations}{END_TURN}\n")

    names = _ToolNames()
    previous: str | None = None  # "tool_call" | "tool_response" | None
    for position, (index, message) in enumerate(loop):
        role = message["role"]
        last = position == len(loop) - 1
        if role == "tool":
            for name, result in names.answer(message, index):
                response = render_response(name, result, profile=profile)
                if profile == "ollama" and previous == "tool_call":
                    response = response[len(START_RESPONSE) :]  # the call already opened it
                out.append(response)
                previous = "tool_response"
            continue
        turn_role = "model" if role == "assistant" else role
        if previous != "tool_response":
            out.append(f"{START_TURN}{turn_role}\n")
        previous = None
        out.append(_content_text(message, index).strip())
        calls = _calls_of(message, index) if role == "assistant" else []
        if calls:
            names.called(calls)
            out.extend(render_call(name, args, profile=profile) for name, _, args in calls)
            next_is_tool = not last and loop[position + 1][1]["role"] == "tool"
            if profile == "hf":
                if last:
                    out.append(START_RESPONSE)
                previous = "tool_call"
            elif next_is_tool:
                out.append(START_RESPONSE)
                previous = "tool_call"
            else:
                out.append(END_TURN + "\n")
        else:
            out.append(END_TURN + "\n")
    # After a tool result the model turn is still open; after trailing calls it awaits a tool result.
    if add_generation_prompt and previous is None:
        out.append(f"{START_TURN}model\n")
    return "".join(out)


# ----------------------------------------------------------------------------------------------- parsing


class _Reader:
    """A cursor over the body of one call; every failure is a :class:`FunctionGemmaFormatError`."""

    def __init__(self, body: str, whole: str, base: int) -> None:
        self.text = body
        self.pos = 0
        self.whole = whole  # the whole model output, and where the body starts in it, for error messages
        self.base = base

    def fail(self, message: str) -> FunctionGemmaFormatError:
        return FunctionGemmaFormatError(message, text=self.whole, offset=self.base + self.pos)

    def expect(self, literal: str) -> None:
        if not self.text.startswith(literal, self.pos):
            raise self.fail(f"expected {literal!r}")
        self.pos += len(literal)

    def name(self, what: str, stop: str) -> str:
        found = _NAME_END.search(self.text, self.pos)
        end = found.start() if found else len(self.text)
        if end == self.pos or end >= len(self.text) or self.text[end] != stop:
            raise self.fail(f"expected a {what} followed by {stop!r}")
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"value nested deeper than {_MAX_DEPTH} levels")
        text, pos = self.text, self.pos
        if text.startswith(ESCAPE, pos):
            end = text.find(ESCAPE, pos + len(ESCAPE))
            if end < 0:
                raise self.fail("unterminated <escape> string")
            inside = _CONTROL_BUT_ESCAPE.search(text, pos + len(ESCAPE), end)
            if inside:  # the renderer refuses such a string, so the parser does too
                self.pos = inside.start()
                raise self.fail(f"a string holds the control token {inside.group()}")
            self.pos = end + len(ESCAPE)
            return text[pos + len(ESCAPE) : end]
        if text.startswith("{", pos):
            return self.object(depth + 1)
        if text.startswith("[", pos):
            return self.array(depth + 1)
        for literal, result in (("true", True), ("false", False)):
            if text.startswith(literal, pos) and self._at_delimiter(pos + len(literal)):
                self.pos = pos + len(literal)
                return result
        match = _NUMBER.match(text, pos)
        if match and self._at_delimiter(match.end()):
            self.pos = match.end()
            number = match.group()
            try:
                if any(c in number for c in ".eE"):
                    parsed = float(number)
                    if not math.isfinite(parsed):
                        raise self.fail(f"number {number} is out of range")
                    return parsed
                return int(number)
            except ValueError:
                raise self.fail(f"number {number[:20]} cannot be read") from None
        raise self.fail("expected a value: <escape>string<escape>, a number, true, false, [..] or {..}")

    def _at_delimiter(self, pos: int) -> bool:
        return pos == len(self.text) or self.text[pos] in ",}]"

    def object(self, depth: int, spans: list[tuple[str, int, int]] | None = None) -> dict[str, Any]:
        """An object; with ``spans``, each key's value position (offsets into the whole text) is appended."""
        self.expect("{")
        result: dict[str, Any] = {}
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return result
        while True:
            key_at = self.pos
            key = self.name("key", ":")
            if key in result:
                self.pos = key_at
                raise self.fail(f"duplicate key {key!r}")
            value_at = self.pos
            result[key] = self.value(depth)
            if spans is not None:
                spans.append((key, self.base + value_at, self.base + self.pos))
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            self.expect(",")

    def array(self, depth: int) -> list[Any]:
        self.expect("[")
        result: list[Any] = []
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return result
        while True:
            result.append(self.value(depth))
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            self.expect(",")


def _parse_call_body(whole: str, start: int, end: int, spans: list[ArgumentSpan] | None = None) -> ToolCall:
    body = whole[start:end]
    reader = _Reader(body, whole, start)
    reader.expect("call:")
    name = reader.name("function name", "{")
    reader.pos -= 1
    found: list[tuple[str, int, int]] | None = [] if spans is not None else None
    arguments = reader.object(0, found)
    if reader.pos != len(body):
        raise reader.fail("unexpected text after the arguments")
    if spans is not None and found is not None:
        spans.extend(ArgumentSpan(name, key, value_start, value_end) for key, value_start, value_end in found)
    return ToolCall(name=name, arguments=arguments)


def split_output(text: str) -> tuple[list[ToolCall], str]:
    """Split model output into its calls and the text around them; a final stop token is dropped."""
    return _split(text, None)


def argument_spans(text: str) -> list[ArgumentSpan]:
    """Where each call's top-level argument values lie in model output (offsets into ``text``), call by call
    and in the order written; the text is parsed as :func:`split_output` parses it, with the same errors."""
    spans: list[ArgumentSpan] = []
    _split(text, spans)
    return spans


def _split(text: str, spans: list[ArgumentSpan] | None) -> tuple[list[ToolCall], str]:
    if not isinstance(text, str):
        raise FunctionGemmaFormatError(f"model output must be a string, got {type(text).__name__}")
    for terminator in (END_TURN + "\n", END_TURN, START_RESPONSE):
        if text.endswith(terminator):
            text = text[: -len(terminator)]
            break
    calls: list[ToolCall] = []
    content: list[str] = []
    pos = 0
    while True:
        start = text.find(START_CALL, pos)
        segment = text[pos:] if start < 0 else text[pos:start]
        for token in CONTROL_TOKENS:
            if token in segment:
                raise FunctionGemmaFormatError(
                    f"unexpected {token} outside a call", text=text, offset=pos + segment.index(token)
                )
        content.append(segment)
        if start < 0:
            break
        body_start = start + len(START_CALL)
        end = text.find(END_CALL, body_start)
        if end < 0:
            raise FunctionGemmaFormatError("a call is not closed by <end_function_call>", text=text, offset=start)
        calls.append(_parse_call_body(text, body_start, end, spans))
        pos = end + len(END_CALL)
    return calls, "".join(content)


def parse_calls(text: str) -> list[ToolCall]:
    """Parse every ``<start_function_call>`` block of model output into a :class:`ToolCall`."""
    return split_output(text)[0]
