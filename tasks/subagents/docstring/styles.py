"""Docstring styles (google, numpy, sphinx): writing one from its parts, recognising one, and checking it
against a function's parameters, return annotation and raised exceptions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["STYLES", "DocParts", "detect_style", "render_docstring", "style_problems"]

Style = Literal["google", "numpy", "sphinx"]
STYLES: tuple[Style, ...] = ("google", "numpy", "sphinx")
_NUMPY_HEADING = re.compile(r"^\s*(Parameters|Returns|Raises)\s*\n\s*-{3,}\s*$", re.M)
_GOOGLE_HEADING = re.compile(r"^\s*(Args|Arguments|Returns|Raises|Yields):\s*$", re.M)
_SPHINX_FIELD = re.compile(r"^\s*:(param|type|returns?|rtype|raises?)\b", re.M)


@dataclass(frozen=True)
class DocParts:
    """What a docstring says: a summary, each parameter (name, type, text), the return value, the exceptions."""

    summary: str
    params: Sequence[tuple[str, str, str]] = ()
    returns: tuple[str, str] | None = None
    raises: Sequence[tuple[str, str]] = field(default_factory=tuple)


def render_docstring(parts: DocParts, style: str) -> str:
    """The docstring text (no quotes, no indentation) of ``parts`` in ``style``."""
    lines = [parts.summary]
    if style == "google":
        if parts.params:
            lines += ["", "Args:"] + [f"    {n} ({t}): {d}" if t else f"    {n}: {d}" for n, t, d in parts.params]
        if parts.returns:
            lines += ["", "Returns:", f"    {parts.returns[0]}: {parts.returns[1]}"]
        if parts.raises:
            lines += ["", "Raises:"] + [f"    {e}: {d}" for e, d in parts.raises]
    elif style == "numpy":
        if parts.params:
            lines += ["", "Parameters", "----------"]
            for n, t, d in parts.params:
                lines += [f"{n} : {t}" if t else n, f"    {d}"]
        if parts.returns:
            lines += ["", "Returns", "-------", parts.returns[0], f"    {parts.returns[1]}"]
        if parts.raises:
            lines += ["", "Raises", "------"]
            for e, d in parts.raises:
                lines += [e, f"    {d}"]
    else:
        if parts.params or parts.returns or parts.raises:
            lines.append("")
        for n, t, d in parts.params:
            lines.append(f":param {n}: {d}")
            if t:
                lines.append(f":type {n}: {t}")
        if parts.returns:
            lines += [f":returns: {parts.returns[1]}", f":rtype: {parts.returns[0]}"]
        lines += [f":raises {e}: {d}" for e, d in parts.raises]
    return "\n".join(lines)


def detect_style(docstring: str) -> str:
    """google, numpy or sphinx by the sections a docstring uses; "plain" for a summary alone."""
    if _NUMPY_HEADING.search(docstring):
        return "numpy"
    if _SPHINX_FIELD.search(docstring):
        return "sphinx"
    if _GOOGLE_HEADING.search(docstring):
        return "google"
    return "plain"


def _documented(docstring: str, style: str) -> set[str]:
    if style == "sphinx":
        return set(re.findall(r"^\s*:param\s+(?:[\w\[\], ]+\s+)?\*{0,2}(\w+)\s*:", docstring, re.M))
    if style == "numpy":
        section = re.search(r"Parameters\s*\n\s*-{3,}\s*\n(.*?)(?:\n\s*\n|\Z)", docstring, re.S)
        text = section.group(1) if section else ""
        return set(re.findall(r"^\*{0,2}(\w+)\s*(?::|$)", text, re.M))
    section = re.search(r"^\s*(?:Args|Arguments):\s*\n(.*?)(?:\n\s*\n|\Z)", docstring, re.S | re.M)
    text = section.group(1) if section else ""
    return set(re.findall(r"^\s+\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:", text, re.M))


def style_problems(docstring: str, style: str, signature: dict[str, Any]) -> list[str]:
    """Why ``docstring`` is not a complete ``style`` docstring for the node ``signature`` describes."""
    problems = []
    if not docstring.strip():
        return ["the docstring is empty"]
    if not docstring.strip().splitlines()[0].strip():
        problems.append("the first line must be a summary")
    found = detect_style(docstring)
    params = [p["name"] for p in signature["parameters"]]
    if found not in (style, "plain"):
        problems.append(f"the docstring is written in {found} style, not {style}")
    elif params and found == "plain":
        problems.append(f"no {style} parameter section")
    else:
        documented = _documented(docstring, style)
        missing = [p for p in params if p not in documented]
        unknown = sorted(documented - set(params))
        if missing:
            problems.append(f"parameters not documented: {', '.join(missing)}")
        if unknown:
            problems.append(f"documents parameters the signature lacks: {', '.join(unknown)}")
    returns = signature.get("returns", "")
    wants_returns = signature.get("kind") == "function" and returns not in ("", "None")
    has_returns = bool(re.search(r"^\s*(Returns:|Returns\s*\n\s*-{3,}|:returns?:)", docstring, re.M))
    if wants_returns and not has_returns and found != "plain":
        problems.append(f"the return value ({returns}) is not documented")
    return problems
