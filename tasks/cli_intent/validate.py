"""Validation of CLI-intent examples, one function per rule, plus near-duplicate detection and diversity.

Each rule returns the problems it finds as :class:`Problem` (rule name and message); an empty list passes.
:func:`validate_answer` runs the answer rules in order, :func:`validate_example` adds the example rules
(request text, category), and :class:`ValidationReport` counts what was kept and dropped by rule.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from converters.functiongemma import CONTROL_TOKENS
from tasks.cli_intent.schema import CliSchema, SubcommandSpec
from tasks.cli_intent.tools import CLARIFY, RUN_COMMAND, Clarify, CliContext, RunCommand
from teacher.tools import ToolArgumentsError

__all__ = [
    "CATEGORIES",
    "CLARIFY_BELOW",
    "Answer",
    "Problem",
    "ValidationReport",
    "check_arg_types",
    "check_category",
    "check_command",
    "check_confidence",
    "check_enum_values",
    "check_flags",
    "check_json",
    "check_request",
    "check_required_args",
    "check_shape",
    "check_suggestions",
    "diversity_report",
    "near_duplicate_groups",
    "near_duplicate_keys",
    "normalize_request",
    "similarity",
    "validate_answer",
    "validate_example",
]

Answer = RunCommand | Clarify
CATEGORIES = ("with_context", "without_context", "negative")
#: Below this confidence the user is asked to clarify; run_command answers must be at least this sure.
CLARIFY_BELOW = 0.7
NEAR_DUPLICATE = 0.8
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One failed rule: its name and what is wrong."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


# ------------------------------------------------------------------------------------------------ answer rules


def check_json(arguments: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Rule ``json``: the arguments are a JSON object (a dict, or a string holding one)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            return None, [Problem("json", f"arguments are not valid JSON: {error}")]
    if not isinstance(arguments, Mapping):
        return None, [Problem("json", f"arguments must be a JSON object, got {type(arguments).__name__}")]
    return dict(arguments), []


def check_shape(tool: str, arguments: Mapping[str, Any]) -> tuple[Answer | None, list[Problem]]:
    """Rule ``shape``: a known tool (run_command or clarify) whose arguments have the tool's fields and types."""
    if tool not in (RUN_COMMAND.name, CLARIFY.name):
        return None, [Problem("shape", f"unknown tool {tool!r}; expected run_command or clarify")]
    try:
        return (RUN_COMMAND if tool == RUN_COMMAND.name else CLARIFY).validate(arguments), []
    except ToolArgumentsError as error:
        return None, [Problem("shape", "; ".join(error.problems))]


def check_command(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``command``: the command and its subcommand exist in the schema."""
    if not isinstance(answer, RunCommand):
        return []
    command = schema.command(answer.command)
    if command is None:
        return [Problem("command", f"unknown command {answer.command!r}")]
    if command.subcommand(answer.subcommand) is None:
        return [Problem("command", f"{answer.command!r} has no subcommand {answer.subcommand!r}")]
    return []


def _command_and_spec(answer: Answer, schema: CliSchema) -> tuple[RunCommand, SubcommandSpec] | None:
    """A ``run_command`` answer and the spec of its subcommand, or None (a clarify, or an unknown command)."""
    if not isinstance(answer, RunCommand):
        return None
    sub = schema.subcommand(answer.command, answer.subcommand)
    return None if sub is None else (answer, sub)


def check_arg_types(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``arg_type``: every argument is declared by the subcommand and has its type (string or integer)."""
    found = _command_and_spec(answer, schema)
    if found is None:
        return []
    answer, sub = found
    problems = []
    for name, value in answer.args.items():
        spec = sub.arg(name)
        if spec is None:
            problems.append(Problem("arg_type", f"{answer.command} {answer.subcommand} has no argument {name!r}"))
        elif spec.type == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append(Problem("arg_type", f"argument {name!r} must be an integer, got {value!r}"))
        elif spec.type in ("string", "enum") and not (isinstance(value, str) and value.strip()):
            problems.append(Problem("arg_type", f"argument {name!r} must be a non-empty string, got {value!r}"))
    return problems


def check_enum_values(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``enum``: every enum argument holds one of its values."""
    found = _command_and_spec(answer, schema)
    if found is None:
        return []
    answer, sub = found
    problems = []
    for name, value in answer.args.items():
        spec = sub.arg(name)
        if spec is not None and spec.type == "enum" and value not in spec.values:
            problems.append(Problem("enum", f"argument {name!r} is {value!r}, not one of {', '.join(spec.values)}"))
    return problems


def check_required_args(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``required``: a command gives every required argument (otherwise the answer must be a clarify)."""
    found = _command_and_spec(answer, schema)
    if found is None:
        return []
    answer, sub = found
    missing = [a.name for a in sub.args if a.required and a.name not in answer.args]
    if missing:
        return [Problem("required", f"missing required argument(s) {', '.join(missing)}; clarify instead")]
    return []


def check_flags(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``flag``: every flag is declared by the subcommand, by its long name, at most once."""
    found = _command_and_spec(answer, schema)
    if found is None:
        return []
    answer, sub = found
    names = {f.name for f in sub.flags}
    problems = [Problem("flag", f"{answer.command} {answer.subcommand} has no flag {f!r}") for f in answer.flags
                if f not in names]
    repeated = sorted(f for f, n in Counter(answer.flags).items() if n > 1)
    if repeated:
        problems.append(Problem("flag", f"flag(s) given twice: {', '.join(repeated)}"))
    return problems


def check_suggestions(answer: Answer, schema: CliSchema) -> list[Problem]:
    """Rule ``suggestion``: a clarification suggests only existing ``command subcommand`` pairs, each once."""
    if not isinstance(answer, Clarify):
        return []
    known = set(schema.pair_names())
    problems = [Problem("suggestion", f"unknown suggestion {s!r}") for s in answer.suggestions if s not in known]
    if len(set(answer.suggestions)) != len(answer.suggestions):
        problems.append(Problem("suggestion", "a suggestion is repeated"))
    return problems


def check_confidence(answer: Answer) -> list[Problem]:
    """Rule ``confidence``: a command is at least 0.7 sure, a clarification less (the thresholds' bands)."""
    if isinstance(answer, RunCommand) and answer.confidence < CLARIFY_BELOW:
        return [Problem("confidence", f"a command with confidence {answer.confidence} should be a clarify")]
    if isinstance(answer, Clarify) and answer.confidence >= CLARIFY_BELOW:
        return [Problem("confidence", f"a clarification with confidence {answer.confidence} should be below 0.7")]
    return []


_SCHEMA_RULES: tuple[Callable[[Answer, CliSchema], list[Problem]], ...] = (
    check_command, check_arg_types, check_enum_values, check_required_args, check_flags, check_suggestions,
)


def validate_answer(tool: str, arguments: Any, schema: CliSchema) -> tuple[Answer | None, list[Problem]]:
    """Run the answer rules in order; the typed answer, or None with the problems of the first failing stage."""
    parsed, problems = check_json(arguments)
    if parsed is None:
        return None, problems
    answer, problems = check_shape(tool, parsed)
    if answer is None:
        return None, problems
    problems = [p for rule in _SCHEMA_RULES for p in rule(answer, schema)] + check_confidence(answer)
    return (None if problems else answer), problems


# ----------------------------------------------------------------------------------------------- example rules


def check_request(request: Any) -> list[Problem]:
    """Rule ``request``: a non-empty request text of at most 500 characters, with no control token."""
    if not isinstance(request, str) or not request.strip():
        return [Problem("request", "the request text is empty")]
    if len(request) > 500:
        return [Problem("request", f"the request is {len(request)} characters long (at most 500)")]
    if any(token in request for token in CONTROL_TOKENS):
        return [Problem("request", "the request contains a FunctionGemma control token")]
    return []


def check_category(category: str, answer: Answer, context: CliContext | None) -> list[Problem]:
    """Rule ``category``: positives run a command (with or without context as named), negatives clarify."""
    if category not in CATEGORIES:
        return [Problem("category", f"unknown category {category!r}")]
    if category == "negative":
        return [] if isinstance(answer, Clarify) else [Problem("category", "a negative example must clarify")]
    problems = []
    if not isinstance(answer, RunCommand):
        problems.append(Problem("category", f"a {category} example must run a command"))
    has_context = context is not None and not context.is_empty()
    if has_context != (category == "with_context"):
        problems.append(Problem("category", f"a {category} example {'lacks' if not has_context else 'has'} context"))
    return problems


def validate_example(
    request: Any, context: CliContext | None, category: str, tool: str, arguments: Any, schema: CliSchema
) -> tuple[Answer | None, list[Problem]]:
    """All rules for one generated example; the answer, or None with every problem found."""
    problems = check_request(request)
    answer, answer_problems = validate_answer(tool, arguments, schema)
    problems += answer_problems
    if answer is not None:
        problems += check_category(category, answer, context)
    return (None if problems else answer), problems


@dataclass
class ValidationReport:
    """How many examples were kept, and how many were dropped by each rule (an example counts once, first rule)."""

    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)

    def add(self, problems: Sequence[Problem]) -> bool:
        """Count one example; True when it passed."""
        if not problems:
            self.kept += 1
            return True
        self.dropped[problems[0].rule] += 1
        self.samples.setdefault(problems[0].rule, problems[0].message[:200])
        return False

    def as_dict(self) -> dict[str, Any]:
        """The report as written to ``stats.json``."""
        return {"kept": self.kept, "dropped": dict(sorted(self.dropped.items())), "examples": self.samples}


# --------------------------------------------------------------------------------- near duplicates, diversity

_NON_WORD = re.compile(r"[^a-z0-9/.\-]+")


def normalize_request(text: str) -> str:
    """Lower-case words with punctuation and repeated spaces removed: equal for trivially different requests."""
    return " ".join(w for w in (w.strip(".-/") for w in _NON_WORD.sub(" ", text.lower()).split()) if w)


def _shingles(text: str) -> frozenset[str]:
    words = normalize_request(text).split()
    return frozenset(words) | frozenset(" ".join(pair) for pair in itertools.pairwise(words))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the words and word pairs of two requests (1.0 for the same normalized text)."""
    left, right = _shingles(a), _shingles(b)
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def near_duplicate_groups(
    texts: Sequence[str], keys: Sequence[Hashable], threshold: float = NEAR_DUPLICATE
) -> list[int]:
    """A group number per text: texts with the same key (the answer) and similarity >= threshold share one."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets: dict[Hashable, list[int]] = {}
    for index, key in enumerate(keys):
        buckets.setdefault(key, []).append(index)
    shingles = [_shingles(t) for t in texts]
    for members in buckets.values():
        for position, i in enumerate(members):
            for j in members[position + 1 :]:
                union = len(shingles[i] | shingles[j])
                if union == 0 or len(shingles[i] & shingles[j]) / union >= threshold:
                    parent[find(j)] = find(i)
    roots = [find(i) for i in range(len(texts))]
    numbering: dict[int, int] = {}
    return [numbering.setdefault(r, len(numbering)) for r in roots]


#: How many shingles a near-duplicate key holds: more makes fewer unrelated requests meet, and more keys.
KEY_SHINGLES = 5


def near_duplicate_keys(
    request: str, tool: str, arguments: Mapping[str, Any], threshold: float = NEAR_DUPLICATE
) -> list[str]:
    """Split keys such that two requests with the same answer (tool, command, subcommand) and similarity >=
    ``threshold`` share one, and so do two run_command answers with the same arguments and flags (paraphrases).

    Prefix filtering: two such requests of ``n`` and ``n'`` shingles share at least ``ceil(threshold * max(n, n'))``
    (so ``n' / n`` lies within ``[threshold, 1 / threshold]``), and in a fixed order the first ``m`` shared ones
    lie within each request's first ``n - ceil(threshold * n) + m``; every combination of ``m`` from there is a
    key, for ``m = min(KEY_SHINGLES, ceil(threshold * smaller size))`` over the sizes a similar request can have."""
    bucket = json.dumps([tool, arguments.get("command"), arguments.get("subcommand")])
    shingles = sorted(_shingles(request), key=lambda s: hashlib.blake2b(s.encode(), digest_size=8).digest())
    t, n = Fraction(str(threshold)), len(shingles)
    partners = range(math.ceil(t * n), math.floor(n / t) + 1) if n else range(1)
    combinations = [c for m in sorted({min(KEY_SHINGLES, math.ceil(t * min(n, other))) for other in partners})
                    for c in itertools.combinations(shingles[: n - math.ceil(t * n) + m], m)]
    keys = [f"cli:{bucket}:" + "|".join(c) for c in combinations]
    if tool == "run_command" and (arguments.get("args") or arguments.get("flags")):
        call = [arguments.get("command"), arguments.get("subcommand"), arguments.get("args"),
                sorted(arguments.get("flags") or [])]
        keys.append("cli:call:" + json.dumps(call, sort_keys=True))
    return keys


def diversity_report(
    texts: Sequence[str], pairs: Sequence[str], schema: CliSchema, groups: Sequence[int]
) -> dict[str, Any]:
    """Vocabulary, distinct openings and word pairs, coverage of the schema's subcommands and near-duplicates.

    ``pairs`` is the ``command subcommand`` each example runs (``""`` for a clarification).
    """
    words = [normalize_request(t).split() for t in texts]
    tokens = sum(len(w) for w in words)
    bigrams = [tuple(w[i : i + 2]) for w in words for i in range(len(w) - 1)]
    per_pair = Counter(p for p in pairs if p)
    all_pairs = schema.pair_names()
    group_sizes = Counter(groups)
    return {
        "examples": len(texts),
        "distinct_requests": len({normalize_request(t) for t in texts}),
        "vocabulary": len({word for w in words for word in w}),
        "mean_words": round(tokens / len(texts), 2) if texts else 0.0,
        "type_token_ratio": round(len({word for w in words for word in w}) / tokens, 4) if tokens else 0.0,
        "distinct_bigram_ratio": round(len(set(bigrams)) / len(bigrams), 4) if bigrams else 0.0,
        "distinct_openings": len({" ".join(w[:2]) for w in words if w}),
        "subcommands_covered": len(per_pair),
        "subcommands_total": len(all_pairs),
        "subcommands_missing": [p for p in all_pairs if p not in per_pair],
        "examples_per_subcommand": {"min": min((per_pair.get(p, 0) for p in all_pairs), default=0),
                                    "max": max(per_pair.values(), default=0)},
        "near_duplicate_groups": sum(1 for n in group_sizes.values() if n > 1),
        "examples_in_near_duplicate_groups": sum(n for n in group_sizes.values() if n > 1),
        "largest_group": max(group_sizes.values(), default=0),
    }
