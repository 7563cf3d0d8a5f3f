"""``finetune eval``: the same metrics for every artifact (the HF checkpoint, each GGUF, an Ollama student) on the
eval split.

Each eval example's completion is the teacher's answer. Every artifact is a model backend
(:class:`interpreters.hf.HfModel`, :class:`interpreters.llamacpp.LlamaCppStudent`,
:class:`interpreters.ollama.OllamaStudent`) asked each example's conversation through the backend protocol, as
``teacher.compare`` asks the questions of an exploration (:mod:`teacher.evaluation`: one path, one "exact"); a
``text`` or ``prompt``/``completion`` line, which holds no conversation, is completed as text by a model folder or
a GGUF. Its calls are compared with the teacher's:

- ``valid_call_rate``: the output parses and makes a call where the teacher made one;
- ``schema_valid_rate``: the calls are accepted by the task (its tool schema and checks on the input) when the
  line names its task and input, else by the declared tools' names and required fields;
- ``exact_match``: :func:`teacher.evaluation.decisions_agree`, the same calls with the same decision fields (a
  task's ``free_text_fields``, such as score_edge's reasoning, never count; lists of plain values compared as sets,
  since the schemas use them as sets);
- ``field_accuracy``: per decision field, how often the predicted value equals the teacher's (``field_n``: over
  how many); ``free_text_f1``: per free-text field, the mean token F1 of the prediction against the teacher's text
  (``free_text_n``: over how many);
- ``latency_ms`` p50/p95;
- ``by_task``: n and the three rates per task; ``confusion``: per task, the tool the teacher called against the
  tool the artifact called; a task's own figures (its ``metrics`` hook) under the task's family name (the part of
  its name before ``:``), with ``n``: how many examples stand behind each of its rates;
- ``conversations`` (multi-turn data, subagents): every assistant turn asked with the teacher's conversation so
  far (teacher-forced); a conversation is right when all its turns are, so its accuracy compounds per turn.

Every figure carries its n. An example that does not name its task takes the one the dataset's ``stats.json`` names.
The base model (before training) is scored beside the tuned artifacts (after), the prior (:mod:`teacher.prior`:
each decision field's most common value in the training split, the answer of a model that learnt only the
majority) and the heuristic baseline on the examples whose task it knows; the report says what that baseline is,
and says plainly when the heuristic is the data's own teacher. Each per-field figure shows the prior's beside it
(the share of the eval examples whose field has the training majority's value), and a figure of an artifact
within 5 points of the prior's is marked. Results go to ``eval.json``, ``eval.md`` and ``eval.png`` (exact
match and valid calls per artifact, n in the labels); every answer to ``predictions.jsonl`` (per example and
model: its id, task, expected and predicted calls, and the fields that differ); the loss curves of the training
stages to ``loss.png``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from converters.dataset_stats import DatasetStatsError, read_stats
from converters.examples import DatasetError, Example, dataset_file, load_examples, prompt_completion
from converters.functiongemma import FunctionGemmaFormatError, Profile, ToolCall, split_output
from converters.schema import nested_value
from interpreters.backends import BackendKind, BackendSpec, build_backend, parse_backend_spec
from interpreters.checkpoints import ModelError
from interpreters.llamacpp import Completion, completion_reply
from tasks.registry import free_text_of
from teacher.cli_args import counts as counts_text
from teacher.evaluation import (
    Answer,
    answer_of,
    ask,
    calls_agree,
    decisions_agree,
    differing_fields,
    free_text_similarity,
    normalise,
    request_from_messages,
)
from teacher.model import ModelBackend, ModelRequest, request_for, student_prompt
from teacher.operations import OperationFailed
from teacher.prior import PRIOR_WHAT, Prior, fit_prior, near_prior
from teacher.provenance import resolve_profile
from teacher.task import FineTrainingTeacher

__all__ = [
    "Case",
    "Scores",
    "baseline_note",
    "calls_agree",
    "conversation_cases",
    "conversation_steps",
    "evaluate",
    "expected_calls",
    "fit_training_prior",
    "free_text_of",
    "heuristic_baseline",
    "normalise",
    "open_backend",
    "plot_losses",
    "plot_scores",
    "prior_scores",
    "recorded_teachers",
    "schema_valid",
    "score",
    "score_backend",
    "score_conversations",
    "task_of",
    "write_report",
]

logger = logging.getLogger(__name__)


def schema_valid(example: Example, calls: Sequence[ToolCall]) -> bool:
    """Whether the calls are accepted by the example's task (its schema and checks on the input), or else by the
    declared tools' names and required fields."""
    if not calls:
        return False
    if example.task and example.input is not None:
        from tasks.registry import TASKS
        from teacher.task import TaskOutputError

        task = TASKS.get(example.task)
        if task is not None:
            try:
                typed = task.input_model.model_validate(example.input)
                for call in calls:
                    task.parse(call, typed)
            except (TaskOutputError, ValueError):
                return False
            return True
    declared = {t["function"]["name"]: t["function"] for t in example.tools if "function" in t}
    if not declared:
        return True  # nothing to check against: parsing is all that can be said
    for call in calls:
        spec = declared.get(call.name)
        if spec is None:
            return False
        parameters = spec.get("parameters") or {}
        required = set(parameters.get("required", []))
        known = set((parameters.get("properties") or {}).keys())
        if not required <= set(call.arguments) or (known and not set(call.arguments) <= known):
            return False
    return True


def task_of(example: Example, expected: Sequence[ToolCall]) -> str | None:
    """The task an example names, else the one its teacher's tool names (score_edge's tool is the task's name)."""
    from tasks.registry import TASKS

    if example.task:
        return example.task
    return expected[0].name if expected and expected[0].name in TASKS else None


@dataclass
class Scores:
    """Running counts of one artifact's answers; with ``label``, each answer is also kept as a line of
    ``predictions.jsonl`` (:attr:`predictions`)."""

    examples: int = 0
    parsed_with_call: int = 0
    schema_valid: int = 0
    exact: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    fields_right: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    expected: list[list[ToolCall]] = field(default_factory=list)
    predicted: list[list[ToolCall] | None] = field(default_factory=list)
    #: per example: (task, expected tool, predicted tool or outcome, valid call, schema-valid, exact)
    outcomes: list[tuple[str, str, str, bool, bool, bool]] = field(default_factory=list)
    free_text: Counter[str] = field(default_factory=Counter)
    free_text_f1: dict[str, float] = field(default_factory=dict)
    label: str | None = None
    predictions: list[dict[str, Any]] = field(default_factory=list)

    def add(self, example: Example, expected: Sequence[ToolCall], output: str | None, latency: float | None) -> None:
        """Score one output as FunctionGemma text (None: the artifact gave no answer)."""
        if output is None:
            self.add_calls(example, expected, None, latency, "no_answer")
            return
        try:
            predicted = split_output(output)[0]
        except FunctionGemmaFormatError:
            self.add_calls(example, expected, None, latency, "unparsable")
            return
        self.add_calls(example, expected, predicted, latency)

    def add_calls(
        self,
        example: Example,
        expected: Sequence[ToolCall],
        calls: Sequence[ToolCall] | None,
        latency: float | None,
        failure: str = "unparsable",
    ) -> None:
        """Score one answer as calls; None: no calls could be read, ``failure`` says why (``unparsable`` or
        ``no_answer``)."""
        self.examples += 1
        if latency is not None:
            self.latencies.append(latency)
        parsed = calls is not None
        predicted = list(calls or [])
        if not parsed:
            self.failures[failure] += 1
        self.expected.append(list(expected))
        self.predicted.append(predicted if parsed else None)
        valid = parsed and bool(predicted or not expected)
        if valid:
            self.parsed_with_call += 1
        elif parsed:
            self.failures["no_call"] += 1
        accepted = schema_valid(example, predicted)
        if accepted:
            self.schema_valid += 1
        task = task_of(example, expected)
        free = free_text_of(task)
        exact = decisions_agree(expected, predicted, free)
        if exact:
            self.exact += 1
        for key, f1 in free_text_similarity(expected, predicted if parsed else None, free).items():
            self.free_text[key] += 1
            self.free_text_f1[key] = self.free_text_f1.get(key, 0.0) + f1
        if self.label is not None:
            decisions, texts = differing_fields(expected, predicted, free) if parsed else (["(no calls)"], [])
            self.predictions.append({
                "id": example.where, "task": task, "model": self.label,
                "expected": [{"name": c.name, "arguments": c.arguments} for c in expected],
                "predicted": [{"name": c.name, "arguments": c.arguments} for c in predicted] if parsed else None,
                "failure": None if parsed else failure, "exact": exact,
                "differ": decisions, "free_text_differ": texts,
            })
        if not parsed:
            called = "(no answer)" if failure == "no_answer" else "(unparsable)"
        else:
            called = predicted[0].name if predicted else "(no call)"
        wanted = expected[0].name if expected else "(no call)"
        self.outcomes.append((example.task or "(task not recorded)", wanted, called, valid, accepted, exact))
        if expected:
            got = predicted[0].arguments if predicted and predicted[0].name == expected[0].name else {}
            for key, value in expected[0].arguments.items():
                if key in free:
                    continue
                self.fields[key] += 1
                if key in got and normalise(got[key]) == normalise(value):
                    self.fields_right[key] += 1

    def _by_task(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[tuple[str, str, str, bool, bool, bool]]] = defaultdict(list)
        for outcome in self.outcomes:
            groups[outcome[0]].append(outcome)
        return {
            task: {
                "examples": len(rows),
                "valid_call_rate": round(sum(r[3] for r in rows) / len(rows), 4),
                "schema_valid_rate": round(sum(r[4] for r in rows) / len(rows), 4),
                "exact_match": round(sum(r[5] for r in rows) / len(rows), 4),
            }
            for task, rows in sorted(groups.items())
        }

    def _confusion(self) -> dict[str, dict[str, dict[str, int]]]:
        table: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for task, wanted, called, *_ in self.outcomes:
            table[task][wanted][called] += 1
        return {t: {w: dict(sorted(c.items())) for w, c in sorted(rows.items())} for t, rows in sorted(table.items())}

    def summary(self) -> dict[str, Any]:
        """The metrics as plain data."""
        n = max(1, self.examples)
        ordered = sorted(self.latencies)

        def percentile(q: float) -> float | None:
            if not ordered:
                return None
            return round(1000 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)

        metrics = {
            "examples": self.examples,
            "valid_call_rate": round(self.parsed_with_call / n, 4),
            "schema_valid_rate": round(self.schema_valid / n, 4),
            "exact_match": round(self.exact / n, 4),
            "field_accuracy": {k: round(self.fields_right[k] / self.fields[k], 4) for k in sorted(self.fields)},
            "field_n": {k: self.fields[k] for k in sorted(self.fields)},
            "free_text_f1": {k: round(self.free_text_f1[k] / self.free_text[k], 4) for k in sorted(self.free_text)},
            "free_text_n": {k: self.free_text[k] for k in sorted(self.free_text)},
            "latency_ms": {"p50": percentile(0.5), "p95": percentile(0.95), "n": len(self.latencies)},
            "failures": dict(self.failures),
            "by_task": self._by_task(),
            "confusion": self._confusion(),
        }
        families = self._task_figures()
        if families:
            metrics["task_figures"] = {family: figures["examples"] for family, figures in families.items()}
            metrics.update(families)
        return metrics

    def _task_figures(self) -> dict[str, dict[str, Any]]:
        """Each task family's own figures (the ``metrics`` hook of its tasks; tasks named ``FAMILY:VARIANT`` are
        one family) over its examples, with ``n``: the examples behind each rate (as the task gives it, else every
        figure between 0 and 1 is a rate over all of them)."""
        from tasks.registry import TASKS

        rows: dict[str, list[int]] = defaultdict(list)
        for index, outcome in enumerate(self.outcomes):
            if outcome[0] in TASKS:
                rows[outcome[0].partition(":")[0]].append(index)
        families: dict[str, dict[str, Any]] = {}
        for family, indexes in sorted(rows.items()):
            task = TASKS[min(self.outcomes[i][0] for i in indexes)]
            figures = _task_metrics(task, [self.expected[i] for i in indexes], [self.predicted[i] for i in indexes])
            if figures:
                given = figures.get("n")
                n = dict(given) if isinstance(given, dict) else {
                    k: len(indexes) for k, v in figures.items() if isinstance(v, float) and 0.0 <= v <= 1.0
                }
                families[family] = {**figures, "n": n, "examples": len(indexes)}
        return families


def _task_metrics(
    task: FineTrainingTeacher[Any, Any],
    expected: Sequence[Sequence[ToolCall]],
    predicted: Sequence[Sequence[ToolCall] | None],
) -> dict[str, Any]:
    """A task's own evaluation figures for its examples (:class:`teacher.task.HasMetrics`; none without)."""
    from teacher.task import HasMetrics

    return task.metrics(expected, predicted) if isinstance(task, HasMetrics) else {}


def expected_calls(example: Example) -> list[ToolCall]:
    """The teacher's calls in an example's completion."""
    try:
        return split_output(example.completion)[0]
    except FunctionGemmaFormatError as error:
        raise ValueError(f"{example.where}: the teacher's completion does not parse: {error}") from None


def score(
    examples: Sequence[Example],
    answer: Callable[[Example], tuple[str | None, float | None]],
    label: str = "",
) -> dict[str, Any]:
    """Metrics of one answerer over the examples (progress logged every 25 examples, under ``label``)."""
    scores = Scores()
    for index, example in enumerate(examples, start=1):
        output, latency = answer(example)
        scores.add(example, expected_calls(example), output, latency)
        if index % 25 == 0 or index == len(examples):
            logger.info("  %s: %d/%d", label, index, len(examples))
    return scores.summary()


def heuristic_baseline(examples: Sequence[Example]) -> dict[str, Any]:
    """Metrics of the heuristic backend (``build_backend("heuristic")``), asked each example's task input through
    the backend protocol like any artifact; an example whose task it does not know has no answer. No latency is
    reported: its rules are not a model whose speed is measured."""
    from tasks.registry import TASKS

    backend = build_backend("heuristic")
    scores = Scores()
    with asyncio.Runner() as runner:
        for example in examples:
            task = TASKS.get(example.task) if example.task and example.input is not None else None
            if task is None:
                scores.add_calls(example, expected_calls(example), None, None, "no_answer")
                continue
            request = request_for(task, task.input_model.model_validate(example.input))
            answer = runner.run(ask(backend, request))
            scores.add_calls(example, expected_calls(example), answer.calls, None, answer.failure or "no_answer")
    return scores.summary()


def fit_training_prior(train: Path, profile: Profile = "hf", task: str | None = None) -> Prior:
    """The prior of a training split (:func:`teacher.prior.fit_prior` over its teacher's answers); an example
    that names no task takes ``task`` (default: the one the dataset's ``stats.json`` names), else the one its
    tool names."""
    task = task or _data_task(train)
    answers = []
    for example in load_examples(train, profile):
        calls = expected_calls(example)
        answers.append((_prior_key(replace(example, task=example.task or task), calls), calls))
    return fit_prior(answers, source=str(train))


def _prior_key(example: Example, expected: Sequence[ToolCall]) -> str:
    return task_of(example, expected) or "(task not recorded)"


def prior_scores(
    prior: Prior, examples: Sequence[Example], predictions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The metrics of the prior's answer on the examples (an example of a task the training data lacks gets no
    answer), with what the prior is and where it was fitted; its answers join ``predictions`` when given."""
    scores = Scores(label="prior" if predictions is not None else None)
    for example in examples:
        expected = expected_calls(example)
        scores.add_calls(example, expected, prior.answer(_prior_key(example, expected)), None, "no_answer")
    if predictions is not None:
        predictions.extend(scores.predictions)
    return {"what": PRIOR_WHAT, "source": prior.source, "trained_on": dict(sorted(prior.trained_on.items())),
            "answers": prior.summary()["answers"], **scores.summary()}


@dataclass(frozen=True)
class Case:
    """One question of the eval: where it is, its prompt text, the teacher's answer, and the request a backend is
    asked (None for a line that holds no conversation, or whose conversation no request renders to the prompt)."""

    where: str
    prompt: str
    completion: str
    request: ModelRequest | None = None

    @property
    def expected(self) -> list[ToolCall]:
        """The teacher's calls."""
        try:
            return split_output(self.completion)[0]
        except FunctionGemmaFormatError as error:
            raise ValueError(f"{self.where}: the teacher's completion does not parse: {error}") from None


def _request(
    messages: list[dict[str, Any]] | None, tools: list[dict[str, Any]], task: str | None, input: Any, prompt: str,
    profile: Profile,
) -> ModelRequest | None:
    """The request for a conversation before an answer, if it renders to exactly ``prompt`` (the dataset's bytes);
    with the task's typed input and guidance where the line names a known task."""
    if messages is None:
        return None
    from tasks.registry import TASKS

    known = TASKS.get(task) if task else None
    typed: BaseModel | None = None
    if known is not None and isinstance(input, dict):
        try:
            typed = known.input_model.model_validate(input)
        except ValidationError:
            typed = None
    request = request_from_messages(
        messages, tools, task=task or "", input=typed, guidance=known.guidance if known is not None else "",
        known=known,
    )
    return request if request is not None and student_prompt(request, profile) == prompt else None


def example_case(example: Example, profile: Profile = "hf") -> Case:
    """An eval example as a question for any backend."""
    request = _request(example.messages, example.tools, example.task, example.input, example.prompt, profile)
    return Case(example.where, example.prompt, example.completion, request)


def conversation_cases(path: Path, profile: Profile = "hf") -> dict[str, tuple[str, list[Case]]]:
    """For each multi-turn ``messages`` line (two or more assistant turns): its task and every assistant turn as a
    question whose conversation is the teacher's so far. Keyed by ``FILE:LINE``."""
    import orjson

    conversations: dict[str, tuple[str, list[Case]]] = {}
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            record = orjson.loads(raw)
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list):
                continue
            turns = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"]
            if len(turns) < 2:
                continue
            where = f"{path}:{number}"
            task = record.get("task")
            try:
                tools = nested_value(record.get("tools")) or []  # written as a JSON string
                input = nested_value(record.get("input"))
                cases = []
                for i in turns:
                    prompt, completion = prompt_completion(messages[: i + 1], tools, profile)
                    request = _request(messages[:i], tools, task, input, prompt, profile)
                    cases.append(Case(f"{where} turn {i}", prompt, completion, request))
            except (FunctionGemmaFormatError, KeyError, TypeError, ValueError) as error:
                raise DatasetError(f"{where}: field 'messages': {error}") from None
            conversations[where] = (str(task or "(task not recorded)"), cases)
    return conversations


def conversation_steps(path: Path, profile: Profile = "hf") -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """:func:`conversation_cases` as (prompt, completion) pairs."""
    return {
        key: (task, [(case.prompt, case.completion) for case in cases])
        for key, (task, cases) in conversation_cases(path, profile).items()
    }


def score_conversations(
    steps: dict[str, tuple[str, list[tuple[str, str]]]], complete: Callable[[str], str | None]
) -> dict[str, Any]:
    """Turn and whole-conversation accuracy of a text answerer, each turn asked with the teacher's conversation so
    far."""

    def answer(case: Case) -> Answer:
        output = complete(case.prompt)
        try:
            return Answer(tuple(split_output(output)[0]) if output is not None else None)
        except FunctionGemmaFormatError:
            return Answer(None)

    cases = {k: (task, [Case(k, p, c) for p, c in pairs]) for k, (task, pairs) in steps.items()}
    return score_conversation_cases(cases, answer)


def score_conversation_cases(
    conversations: dict[str, tuple[str, list[Case]]], answer: Callable[[Case], Answer]
) -> dict[str, Any]:
    """Turn and whole-conversation accuracy: a turn is right when its calls agree with the teacher's, a
    conversation when all its turns are."""
    per_task: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for task, cases in conversations.values():
        right = 0
        free = free_text_of(task)
        for case in cases:
            calls = answer(case).calls
            right += calls is not None and decisions_agree(case.expected, calls, free)
        per_task[task].append((right, len(cases)))

    def rates(rows: list[tuple[int, int]]) -> dict[str, Any]:
        turns = sum(n for _, n in rows)
        return {
            "conversations": len(rows),
            "turns": turns,
            "turn_accuracy": round(sum(r for r, _ in rows) / turns, 4),
            "conversation_accuracy": round(sum(r == n for r, n in rows) / len(rows), 4),
        }

    every = [row for rows in per_task.values() for row in rows]
    return {**rates(every), "by_task": {task: rates(rows) for task, rows in sorted(per_task.items())}}


def recorded_teachers(recordings: Sequence[Path]) -> dict[str, int]:
    """How many recorded model turns each backend answered (``backend`` of the session logs' model lines)."""
    from interpreters.records import ModelTurn, read_lines

    found: Counter[str] = Counter()
    files = [f for p in recordings for f in (sorted(p.rglob("*.jsonl")) if p.is_dir() else [p])]
    for path in files:
        for read in read_lines(path, fast=True, kinds=("model",), keyed=False):  # unreadable lines are not counted
            if isinstance(read.line, ModelTurn) and read.line.backend:
                found[read.line.backend] += 1
    return dict(found)


def baseline_note(
    data: Path, baseline: dict[str, Any] | None, teachers: dict[str, int] | None = None
) -> dict[str, Any]:
    """What the heuristic baseline is, and whether it is the data's own teacher (from the recordings' backends, the
    dataset's ``stats.json``, or, failing both, its agreement with every example)."""
    stats = read_stats(data)
    teacher = None
    if teachers:
        teacher = ", ".join(f"{name} ({n} turns)" for name, n in sorted(teachers.items()))
    elif stats is not None and stats.teacher is not None:
        teacher = stats.teacher
    what = (
        "the offline heuristic teacher (interpreters/heuristic.py, asking each task's heuristic_answer hook: topic "
        "words against candidate names, query keywords and hover-text rules for edges), scored on the examples whose "
        "task has a heuristic"
    )
    names = list(teachers) if teachers else [str(stats.teacher if stats is not None else None)]
    is_teacher = all(name in ("HeuristicModel", "heuristic") for name in names) if teacher is not None else None
    if is_teacher:
        verdict = (f"The heuristic IS the data's teacher ({teacher}): its row agrees with the data by construction; "
                   "it is the ceiling the data sets, not a competitor.")
    elif is_teacher is False:
        verdict = f"The data's teacher is {teacher}; the heuristic is an independent offline baseline."
    elif baseline is not None and baseline["exact_match"] == 1.0:
        verdict = ("The data's teacher is not recorded here, but the heuristic agrees with it on every example: the "
                   "data was most likely recorded with the heuristic teacher, so this row is not a competitor.")
    else:
        verdict = "The data's teacher is not recorded here."
    return {"name": "heuristic", "what": what, "teacher": teacher, "is_teacher": is_teacher, "verdict": verdict}


@runtime_checkable
class TextStudent(Protocol):
    """A backend that also completes FunctionGemma text (a model folder, a GGUF): it can answer a line that holds
    no conversation."""

    def complete_text(self, prompt: str) -> Completion:
        """The greedy completion of ``prompt``."""
        ...


_LOCAL_KINDS: tuple[BackendKind, ...] = ("hf", "gguf")


def _spec(artifact: Path | str) -> tuple[BackendKind, str]:
    """The kind (``hf``, ``gguf`` or ``ollama``) and value of an artifact: ``KIND:VALUE``, or a path (a ``.gguf``
    file is a GGUF, anything else a model folder)."""
    text = str(artifact)
    kind, _, value = text.partition(":")
    if kind in (*_LOCAL_KINDS, "ollama") and value and not Path(text).exists():
        spec = parse_backend_spec(text)
        return spec.kind, spec.value
    return ("gguf" if Path(text).suffix == ".gguf" else "hf"), text


def artifact_label(artifact: Path | str) -> str:
    """How the report names an artifact: a GGUF by its file name, a model folder by its path, a served student by
    its spec."""
    kind, value = _spec(artifact)
    return Path(value).name if kind == "gguf" else f"ollama:{value}" if kind == "ollama" else value


def open_backend(artifact: Path | str, max_tokens: int = 256, profile: str = "hf") -> ModelBackend:
    """The backend an artifact names, built by :func:`interpreters.backends.build_backend`: a model folder
    (``hf:DIR`` or a directory), a GGUF (``gguf:PATH`` or a ``.gguf`` file) or an Ollama student (``ollama:NAME``,
    served at ``OLLAMA_HOST``). A missing model is a one-line :class:`~interpreters.checkpoints.ModelError`."""
    kind, value = _spec(artifact)
    if kind == "gguf" and not Path(value).is_file():
        raise ModelError(f"GGUF {value} not found (make one with `python -m finetune export`)")
    options: dict[str, Any] = {"max_tokens": max_tokens, "profile": profile} if kind in _LOCAL_KINDS else {}
    if kind == "gguf":
        options["n_ctx"] = 0  # llama.cpp's 0: the context length the GGUF records
    try:
        return build_backend(BackendSpec(kind, value), **options)
    except OperationFailed as error:
        raise ModelError(str(error)) from None


class _Asker:
    """Puts questions to one backend on one event loop: a case's request through the backend protocol, a text
    line's prompt through ``complete_text``."""

    def __init__(self, backend: ModelBackend, label: str) -> None:
        self.backend = backend
        self.label = label
        self.runner = asyncio.Runner()

    def __call__(self, case: Case) -> Answer:
        if case.request is not None:
            return self.runner.run(ask(self.backend, case.request))
        if isinstance(self.backend, TextStudent):
            done = self.backend.complete_text(case.prompt)
            return answer_of(completion_reply(done, case.prompt), done.latency_s)
        raise DatasetError(
            f"{case.where}: this line holds no conversation that {self.label} can be asked (only a model folder or "
            "a GGUF completes text): rebuild the data with --format messages"
        )

    def close(self) -> None:
        self.runner.close()


def score_backend(
    backend: ModelBackend,
    examples: Sequence[Example],
    profile: Profile = "hf",
    conversations: dict[str, tuple[str, list[Case]]] | None = None,
    label: str = "",
    predictions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics of one backend over the examples (and, given, the multi-turn conversations turn by turn); each
    answer joins ``predictions`` when given (a line of ``predictions.jsonl``). A fatal backend failure (the
    student is not there) is a :class:`~interpreters.checkpoints.ModelError`."""
    asker = _Asker(backend, label or type(backend).__name__)
    scores = Scores(label=(label or type(backend).__name__) if predictions is not None else None)
    try:
        for index, example in enumerate(examples, start=1):
            case = example_case(example, profile)
            answer = asker(case)
            scores.add_calls(example, case.expected, answer.calls, answer.latency_s, answer.failure or "no_answer")
            if index % 25 == 0 or index == len(examples):
                logger.info("  %s: %d/%d", label, index, len(examples))
        metrics = scores.summary()
        if conversations:
            metrics["conversations"] = score_conversation_cases(conversations, asker)
        if predictions is not None:
            predictions.extend(scores.predictions)
    except OperationFailed as error:
        if not error.fatal:
            raise
        raise ModelError(f"{label}: {error}") from None
    finally:
        asker.close()
    return metrics


def _data_task(data: Path) -> str | None:
    """The one task a dataset's ``stats.json`` names (``"task"``), if any."""
    try:
        stats = read_stats(data)
    except DatasetStatsError:
        return None
    return stats.task if stats is not None else None


def evaluate(
    data: Path,
    artifacts: Sequence[Path | str],
    out: Path,
    profile: str | None = None,
    limit: int | None = None,
    trainings: Sequence[Path] = (),
    max_tokens: int = 256,
    base: Path | None = None,
    teachers: dict[str, int] | None = None,
    train: Path | None = None,
) -> dict[str, Any]:
    """Score the base model (before), every artifact (after), the prior and the heuristic baseline on the eval
    split; write eval.json, eval.md, eval.png, predictions.jsonl and (given training stages) loss.png.

    An artifact is a model folder, a GGUF, or a spec (``hf:DIR``, ``gguf:PATH``, ``ollama:NAME``). The codec
    profile is what the data and the local artifacts record (``profile`` must agree; none recorded: hf). The
    prior is fitted on ``train`` (default: the dataset's train split; none there: no prior row)."""
    if train is not None and not train.is_file():
        raise DatasetError(f"{train}: no such training file (the prior's data)")
    local = [Path(v) for k, v in map(_spec, artifacts) if k in _LOCAL_KINDS]
    profile = resolve_profile(profile, data, local)
    eval_file = dataset_file(data, "eval")
    examples = load_examples(eval_file, profile)  # type: ignore[arg-type]
    if limit is not None:
        examples = examples[:limit]
    named = _data_task(data)
    if named is not None:
        examples = [example if example.task else replace(example, task=named) for example in examples]
    wanted = {e.where for e in examples}
    steps = {k: v for k, v in conversation_cases(eval_file, profile).items() if k in wanted}  # type: ignore[arg-type]
    results: dict[str, Any] = {"data": str(data), "profile": profile, "examples": len(examples), "artifacts": {}}
    predictions: list[dict[str, Any]] = []

    def run(artifact: Path | str, label: str) -> dict[str, Any]:
        backend = open_backend(artifact, max_tokens, profile)
        return score_backend(backend, examples, profile, steps, label, predictions)  # type: ignore[arg-type]

    if base is not None:
        results["base"] = {"model": str(base), **run(base, f"base {base.name}")}
    for artifact in artifacts:
        label = artifact_label(artifact)
        results["artifacts"][label] = run(artifact, Path(label).name)
    train_file = train if train is not None else data / "train.jsonl" if data.is_dir() else None
    if train_file is not None and train_file.is_file():
        prior = fit_training_prior(train_file, profile, named)  # type: ignore[arg-type]
        results["prior"] = prior_scores(prior, examples, predictions)
    known = [e for e in examples if e.task and e.input is not None]
    if known:
        results["heuristic_baseline"] = heuristic_baseline(known)
    results["baseline"] = baseline_note(data, results.get("heuristic_baseline"), teachers)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as lines:
        lines.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions)
    (out / "eval.md").write_text(write_report(results), encoding="utf-8")
    plot_scores(results, out / "eval.png")
    if trainings:
        plot_losses(trainings, out / "loss.png")
    return results


def _rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if "base" in results:
        rows[f"base (before): {Path(results['base']['model']).name}"] = results["base"]
    rows.update({f"{name} (after)" if "base" in results else name: m for name, m in results["artifacts"].items()})
    if "prior" in results:
        rows[PRIOR_ROW] = results["prior"]
    if "heuristic_baseline" in results:
        rows["heuristic baseline"] = results["heuristic_baseline"]
    return rows


PRIOR_ROW = "prior (majority answer)"
#: the mark beside a tuned figure within 5 points of the prior's (``teacher.prior.near_prior``)
NEAR = " ≈prior"


def _pct(rate: float, n: int) -> str:
    return f"{rate:.1%} (n={n})"


def _mark(name: str, figure: float, prior: float | None) -> str:
    """The mark for a tuned artifact's figure within 5 points of the prior's ("" for any other row)."""
    tuned = name not in (PRIOR_ROW, "heuristic baseline") and not name.startswith("base (before)")
    return NEAR if tuned and prior is not None and near_prior(figure, prior) else ""


def _title(family: str) -> str:
    """A task family's name as a heading, words of up to three letters read as acronyms (as in "CLI intent")."""
    words = [w.upper() if len(w) <= 3 else w for w in family.replace("_", " ").split()]
    return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else family


def _figures(figures: dict[str, Any]) -> str:
    """A task's figures in one line: each rate with its n, then the counts."""
    n = figures.get("n", {})
    rates = [f"{k.replace('_', ' ')} {_pct(v, n[k])}" for k, v in figures.items() if k in n]
    counts = [f"{k.replace('_', ' ')} {v:g}" for k, v in figures.items()
              if k not in n and k not in ("n", "examples") and isinstance(v, int | float)]
    return ", ".join(rates + counts) or "-"


def write_report(results: dict[str, Any]) -> str:
    """The evaluation as markdown: every figure with its n, base (before) beside each artifact (after)."""
    rows = _rows(results)
    lines = [
        f"# Evaluation on {results['data']} ({results['examples']} examples)",
        "",
        "| model | n | valid calls | schema-valid | exact match | p50 ms | p95 ms | timed n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    prior = results.get("prior")
    for name, m in rows.items():
        latency = m["latency_ms"]
        mark = _mark(name, m["exact_match"], prior["exact_match"] if prior else None)
        lines.append(
            f"| {name} | {m['examples']} | {m['valid_call_rate']:.1%} | {m['schema_valid_rate']:.1%} "
            f"| {m['exact_match']:.1%}{mark} "
            f"| {latency['p50'] if latency['p50'] is not None else '-'} "
            f"| {latency['p95'] if latency['p95'] is not None else '-'} | {latency.get('n', '-')} |"
        )
    lines += ["", "Exact match: every decision field right (free text such as score_edge's reasoning never counts)."]
    if prior:
        lines += ["", f"Prior: {prior['what']}, fitted on {prior['source']} "
                  f"({counts_text(prior['trained_on'])} training examples): what a model that learnt only the "
                  f"majority answer scores. `{NEAR.strip()}`: a tuned figure at most 5 points above the prior's."]
    else:
        lines += ["", "Prior: no training split found beside the eval split, so no prior row."]
    baseline = results.get("baseline")
    if baseline:
        lines += ["", f"Baseline: {baseline['what']}. {baseline['verdict']}"]
    lines += ["", "## Per task", "", "| model | task | n | valid calls | schema-valid | exact match |",
              "|---|---|---|---|---|---|"]
    prior_tasks = prior.get("by_task", {}) if prior else {}
    for name, m in rows.items():
        for task, t in m.get("by_task", {}).items():
            p = prior_tasks.get(task)
            mark = _mark(name, t["exact_match"], p["exact_match"] if p else None)
            lines.append(
                f"| {name} | {task} | {t['examples']} | {t['valid_call_rate']:.1%} | {t['schema_valid_rate']:.1%} "
                f"| {t['exact_match']:.1%}{mark} |"
            )
    lines += ["", "## Per-field accuracy (decision fields; in brackets the prior's: the eval share of the training "
              "majority value)", ""]
    shares = prior.get("field_accuracy", {}) if prior else {}
    for name, m in rows.items():
        counts = m.get("field_n", {})
        fields = ", ".join(
            f"{k} {_pct(v, counts.get(k, 0))}"
            + (f" [prior {shares[k]:.1%}]{_mark(name, v, shares[k])}" if k in shares and m is not prior else "")
            for k, v in m["field_accuracy"].items()
        ) or "-"
        lines.append(f"- {name}: {fields}")
    texts = {name: m for name, m in rows.items() if m.get("free_text_f1") and m is not prior}
    if texts:
        lines += ["", "## Free text (token F1 against the teacher's text; never part of exact match)", ""]
        for name, m in texts.items():
            n = m.get("free_text_n", {})
            lines.append(f"- {name}: " + ", ".join(f"{k} F1 {v:.3f} (n={n.get(k, 0)})"
                                                   for k, v in m["free_text_f1"].items()))
    lines += ["", "## Tool confusion (rows: the teacher's tool; columns: the model's; counts)", ""]
    for name, m in rows.items():
        if m is prior:
            continue  # the prior always calls its one majority tool
        for task, table in m.get("confusion", {}).items():
            called = sorted({c for row in table.values() for c in row})
            lines += [f"{name}, {task}:", "", "| teacher \\ model | " + " | ".join(called) + " |",
                      "|---|" + "---|" * len(called)]
            for wanted, row in table.items():
                lines.append(f"| {wanted} | " + " | ".join(str(row.get(c, 0)) for c in called) + " |")
            lines.append("")
    talks = {name: m["conversations"] for name, m in rows.items() if "conversations" in m}
    if talks:
        lines += ["## Whole conversations (multi-turn; each turn asked with the teacher's conversation so far)", "",
                  "| model | task | conversations | turns | turn accuracy | conversation accuracy |",
                  "|---|---|---|---|---|---|"]
        for name, c in talks.items():
            for task, t in {"all": c, **c["by_task"]}.items():
                lines.append(f"| {name} | {task} | {t['conversations']} | {t['turns']} | {t['turn_accuracy']:.1%} "
                             f"| {t['conversation_accuracy']:.1%} |")
        lines.append("")
    families = sorted({family for m in rows.values() for family in m.get("task_figures", {})})
    for family in families:
        lines += ["", f"## {_title(family)}: the task's own figures (n: the examples behind each)", ""]
        for name, m in rows.items():
            if family in m.get("task_figures", {}):
                lines.append(f"- {name}: {_figures(m[family])}")
    return "\n".join(lines) + "\n"


def plot_scores(results: dict[str, Any], png: Path) -> Path:
    """Valid calls and exact match per model (base, artifacts, baseline) as a bar chart, n in each label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows(results)
    names = [f"{name}\nn={m['examples']}" for name, m in rows.items()]
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(rows)), 4))
    width = 0.38
    bars = ((-width / 2, "valid_call_rate", "valid calls"), (width / 2, "exact_match", "exact match"))
    for offset, key, label in bars:
        axes.bar([i + offset for i in range(len(rows))], [100 * m[key] for m in rows.values()], width, label=label)
    axes.set_xticks(range(len(rows)), names, fontsize=7)
    axes.set_ylabel("% of eval examples")
    axes.set_ylim(0, 105)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png


def plot_losses(trainings: Sequence[Path], png: Path) -> Path:
    """Training and eval loss against steps for each stage's ``training.json``, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for training in trainings:
        summary = json.loads((training / "training.json").read_text(encoding="utf-8"))
        history = summary.get("log_history", [])
        for key in ("loss", "eval_loss"):
            points = [(h["step"], h[key]) for h in history if key in h]
            if points:
                steps, values = zip(*points, strict=True)
                axes.plot(
                    steps,
                    values,
                    marker="." if key == "eval_loss" else None,
                    label=f"{summary.get('stage', training.name)} {key.replace('_', ' ')}",
                )
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    if axes.get_legend_handles_labels()[0]:
        axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png
