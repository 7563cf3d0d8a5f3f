"""The prior: what a model scores by always giving each decision field its most common value in the training data.

Every evaluation (``finetune eval``, ``teacher.compare``, ``benchmarks.real_student``, the quickstart) shows it
beside the base and the tuned student, so that a figure is read against what learning nothing but the majority
answer gives. Per task the prior answers one call: the tool most often called in training, and for each of that
tool's decision fields (every argument but the task's ``free_text_fields``) its most common value there (lists of
plain values compared as sets). For select_symbols, whose one decision is the selected set, that is the most common
whole answer. Free text is no decision: the prior carries the first training text, so that its call is complete.

:func:`near_prior` says when a figure is within :data:`NEAR_PRIOR` of the prior's: such a figure is marked in
the reports.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from converters.functiongemma import ToolCall
from tasks.registry import free_text_of
from teacher.evaluation import normalise

__all__ = ["NEAR_PRIOR", "PRIOR_WHAT", "Prior", "fit_prior", "near_prior"]

#: a figure at most this far above the prior (or below it) is marked: the student may have learnt only the majority
NEAR_PRIOR = 0.05
PRIOR_WHAT = "always the most common training value of each decision field (per task)"
_NO_CALL = "(no call)"
_ABSENT = "(absent)"


def _key(value: Any) -> str:
    return json.dumps(normalise(value), sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Prior:
    """Per task: the prior's calls, how many training answers it was fitted on, and each decision field's training
    majority share (``(tool)``: the majority tool's)."""

    answers: dict[str, tuple[ToolCall, ...]] = field(default_factory=dict)
    trained_on: dict[str, int] = field(default_factory=dict)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""

    def answer(self, task: str) -> tuple[ToolCall, ...] | None:
        """The prior's calls for an example of ``task``; None when the training data holds no such task."""
        return self.answers.get(task)

    def summary(self) -> dict[str, Any]:
        """What the prior is, as plain data."""
        return {
            "what": PRIOR_WHAT,
            "source": self.source,
            "trained_on": dict(sorted(self.trained_on.items())),
            "answers": {task: [{"name": c.name, "arguments": c.arguments} for c in calls]
                        for task, calls in sorted(self.answers.items())},
            "training_shares": {task: dict(sorted(s.items())) for task, s in sorted(self.shares.items())},
        }


def fit_prior(
    answers: Iterable[tuple[str, Sequence[ToolCall]]],
    free_text: Mapping[str, Collection[str]] | None = None,
    source: str = "",
) -> Prior:
    """The prior of training ``answers`` (each example's task and its teacher's calls); ``free_text``: each task's
    free-text fields (by default the registered task's ``free_text_fields``, none for an unknown task)."""
    tools: dict[str, Counter[str]] = {}
    values: dict[tuple[str, str], dict[str, Counter[str]]] = {}
    kept: dict[str, Any] = {}  # a value by its comparable text
    texts: dict[tuple[str, str], dict[str, Any]] = {}  # the first free text of each field, by task and tool
    counts: Counter[str] = Counter()
    for task, calls in answers:
        counts[task] += 1
        name = calls[0].name if calls else _NO_CALL
        tools.setdefault(task, Counter())[name] += 1
        if not calls:
            continue
        arguments = calls[0].arguments
        free = _free_text(task, free_text)
        fields = values.setdefault((task, name), {})
        for key, value in arguments.items():
            if key in free:
                texts.setdefault((task, name), {}).setdefault(key, value)
            elif key not in fields:
                fields[key] = Counter()
        for key, seen in fields.items():
            text = _key(arguments[key]) if key in arguments else _ABSENT
            kept.setdefault(text, arguments.get(key))
            seen[text] += 1
    prior = Prior(source=source)
    for task, named in tools.items():
        name, times = named.most_common(1)[0]
        prior.trained_on[task] = counts[task]
        shares = {"(tool)": times / counts[task]}
        prior.shares[task] = shares
        if name == _NO_CALL:
            prior.answers[task] = ()
            continue
        answer: dict[str, Any] = {}
        for key, seen in sorted(values.get((task, name), {}).items()):
            seen[_ABSENT] += times - sum(seen.values())  # the calls before the field was first met lacked it
            text, count = seen.most_common(1)[0]
            shares[key] = count / times
            if text != _ABSENT:
                answer[key] = kept[text]
        answer.update(texts.get((task, name), {}))
        prior.answers[task] = (ToolCall(name, dict(sorted(answer.items()))),)
    return prior


def _free_text(task: str, given: Mapping[str, Collection[str]] | None) -> Collection[str]:
    return given.get(task, frozenset()) if given is not None else free_text_of(task)


def near_prior(figure: float, prior: float) -> bool:
    """Whether a rate is no more than :data:`NEAR_PRIOR` above the prior's (below it counts too): the mark."""
    return figure - prior <= NEAR_PRIOR + 1e-9
