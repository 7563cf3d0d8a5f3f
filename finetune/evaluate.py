"""``finetune eval``: the same metrics for every artifact (the HF checkpoint and each GGUF) on the eval split.

Each eval example's completion is the teacher's answer. An artifact completes every prompt greedily; its
output is parsed by the codec and compared with the teacher's calls:

- ``valid_call_rate``: the output parses and makes a call where the teacher made one;
- ``schema_valid_rate``: the calls are accepted by the task (its tool schema and checks on the input) when the
  line names its task and input, else by the declared tools' names and required fields;
- ``exact_match``: the same calls with the same typed arguments (reasoning text ignored; lists of plain values
  compared as sets, since the schemas use them as sets);
- ``field_accuracy``: per argument, how often the predicted value equals the teacher's (``field_n``: over how many);
- ``latency_ms`` p50/p95;
- ``by_task``: n and the three rates per task; ``confusion``: per task, the tool the teacher called against the
  tool the artifact called (for CLI intent: ``clarify`` against ``run_command``);
- ``conversations`` (multi-turn data, subagents): every assistant turn asked with the teacher's conversation so
  far (teacher-forced); a conversation is right when all its turns are, so its accuracy compounds per turn.

Every figure carries its n. The base model (before training) is scored beside the tuned artifacts (after), and the
heuristic baseline on the examples whose task it knows; the report says what that baseline is, and says plainly
when the heuristic is the data's own teacher. Results go to ``eval.json``, ``eval.md`` and ``eval.png`` (exact
match and valid calls per artifact, n in the labels); the loss curves of the training stages to ``loss.png``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from converters.functiongemma import FunctionGemmaFormatError, Profile, ToolCall, split_output
from converters.rebuild import prompt_completion
from converters.schema import nested_value
from finetune.data import DatasetError, Example, dataset_file, load_examples
from finetune.generate import Generator, open_generator
from finetune.progress import STDERR
from finetune.provenance import resolve_profile

__all__ = [
    "Scores",
    "baseline_note",
    "calls_agree",
    "conversation_steps",
    "evaluate",
    "expected_calls",
    "normalise",
    "plot_losses",
    "plot_scores",
    "recorded_teachers",
    "schema_valid",
    "score",
    "score_conversations",
    "write_report",
]


def normalise(value: Any) -> Any:
    """A comparable form of call arguments: mappings by key, lists of plain values as sorted sets."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [normalise(v) for v in value]
        if all(isinstance(v, str | int | float | bool) or v is None for v in items):
            return sorted(set(items), key=lambda v: (type(v).__name__, str(v)))
        return items
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def calls_agree(expected: Sequence[ToolCall], predicted: Sequence[ToolCall]) -> bool:
    """Whether two answers make the same calls with the same arguments (in order)."""
    return len(expected) == len(predicted) and all(
        e.name == p.name and normalise(e.arguments) == normalise(p.arguments)
        for e, p in zip(expected, predicted, strict=True)
    )


def schema_valid(example: Example, calls: Sequence[ToolCall]) -> bool:
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


@dataclass
class Scores:
    """Running counts of one artifact's answers."""

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

    def add(self, example: Example, expected: Sequence[ToolCall], output: str | None, latency: float | None) -> None:
        """Score one output (None: the artifact gave no answer)."""
        self.examples += 1
        if latency is not None:
            self.latencies.append(latency)
        predicted: list[ToolCall] = []
        parsed = output is not None
        if output is None:
            self.failures["no_answer"] += 1
        else:
            try:
                predicted = split_output(output)[0]
            except FunctionGemmaFormatError:
                parsed = False
                self.failures["unparsable"] += 1
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
        exact = calls_agree(expected, predicted)
        if exact:
            self.exact += 1
        if output is None:
            called = "(no answer)"
        elif not parsed:
            called = "(unparsable)"
        else:
            called = predicted[0].name if predicted else "(no call)"
        wanted = expected[0].name if expected else "(no call)"
        self.outcomes.append((example.task or "(task not recorded)", wanted, called, valid, accepted, exact))
        if expected:
            got = predicted[0].arguments if predicted and predicted[0].name == expected[0].name else {}
            for key, value in expected[0].arguments.items():
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
            "latency_ms": {"p50": percentile(0.5), "p95": percentile(0.95), "n": len(self.latencies)},
            "failures": dict(self.failures),
            "by_task": self._by_task(),
            "confusion": self._confusion(),
        }
        from tasks.cli_intent.metrics import belongs_to_cli_intent, cli_intent_metrics

        names = sorted({call.name for calls in self.expected for call in calls})
        if names and belongs_to_cli_intent(names):
            metrics["cli_intent"] = cli_intent_metrics(self.expected, self.predicted)
        return metrics


def expected_calls(example: Example) -> list[ToolCall]:
    """The teacher's calls in an example's completion."""
    try:
        return split_output(example.completion)[0]
    except FunctionGemmaFormatError as error:
        raise ValueError(f"{example.where}: the teacher's completion does not parse: {error}") from None


def score(
    examples: Sequence[Example],
    answer: Callable[[Example], tuple[str | None, float | None]],
    progress: IO[str] | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Metrics of one answerer over the examples."""
    scores = Scores()
    for index, example in enumerate(examples, start=1):
        output, latency = answer(example)
        scores.add(example, expected_calls(example), output, latency)
        if progress is not None and (index % 25 == 0 or index == len(examples)):
            print(f"  {label}: {index}/{len(examples)}", file=progress, flush=True)
    return scores.summary()


def heuristic_answer(example: Example) -> tuple[str | None, float | None]:
    """The heuristic baseline's answer as FunctionGemma text, or None when it does not know the task."""
    from converters.functiongemma import render_call
    from interpreters.heuristic import HeuristicModel
    from tasks.registry import TASKS

    if not example.task or example.input is None or example.task not in TASKS:
        return None, None
    typed = TASKS[example.task].input_model.model_validate(example.input)
    call, _ = HeuristicModel.answer(example.task, typed)
    return (render_call(call.name, call.arguments) if call else ""), None


def conversation_steps(path: Path, profile: Profile = "hf") -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """For each multi-turn ``messages`` line (two or more assistant turns): its task and every assistant turn as a
    (prompt, completion) pair, the prompt holding the teacher's conversation so far. Keyed by ``FILE:LINE``."""
    import orjson

    steps: dict[str, tuple[str, list[tuple[str, str]]]] = {}
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
            try:
                tools = nested_value(record.get("tools")) or []  # written as a JSON string
                pairs = [prompt_completion(messages[: i + 1], tools, profile) for i in turns]
            except (FunctionGemmaFormatError, KeyError, TypeError, ValueError) as error:
                raise DatasetError(f"{path}:{number}: field 'messages': {error}") from None
            steps[f"{path}:{number}"] = (str(record.get("task") or "(task not recorded)"), pairs)
    return steps


def score_conversations(
    steps: dict[str, tuple[str, list[tuple[str, str]]]], complete: Callable[[str], str | None]
) -> dict[str, Any]:
    """Turn and whole-conversation accuracy, each turn asked with the teacher's conversation so far."""
    per_task: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for task, pairs in steps.values():
        right = 0
        for prompt, completion in pairs:
            expected = split_output(completion)[0]
            output = complete(prompt)
            try:
                predicted = split_output(output)[0] if output is not None else None
            except FunctionGemmaFormatError:
                predicted = None
            right += predicted is not None and calls_agree(expected, predicted)
        per_task[task].append((right, len(pairs)))

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
    import orjson

    found: Counter[str] = Counter()
    files = [f for p in recordings for f in (sorted(p.rglob("*.jsonl")) if p.is_dir() else [p])]
    for path in files:
        with open(path, "rb") as lines:
            for raw in lines:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("kind") == "model" and record.get("backend"):
                    found[str(record["backend"])] += 1
    return dict(found)


def baseline_note(
    data: Path, baseline: dict[str, Any] | None, teachers: dict[str, int] | None = None
) -> dict[str, Any]:
    """What the heuristic baseline is, and whether it is the data's own teacher (from the recordings' backends, the
    dataset's ``stats.json``, or, failing both, its agreement with every example)."""
    stats_file = data / "stats.json" if data.is_dir() else data.parent / "stats.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else {}
    teacher = None
    if teachers:
        teacher = ", ".join(f"{name} ({n} turns)" for name, n in sorted(teachers.items()))
    elif isinstance(stats, dict) and isinstance(stats.get("teacher"), str):
        teacher = stats["teacher"]
    what = (
        "the offline heuristic teacher (interpreters/heuristic.py: topic words against candidate names, query "
        "keywords and hover-text rules for edges), scored on the examples whose task it knows"
    )
    names = list(teachers) if teachers else [str(stats.get("teacher"))]
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


def _answerer(path: Path, max_tokens: int) -> tuple[Callable[[Example], tuple[str | None, float | None]],
                                                      Callable[[str], str | None]]:
    generator: Generator = open_generator(path, max_tokens)

    def answer(example: Example) -> tuple[str | None, float | None]:
        done = generator.complete(example.prompt)
        return done.text, done.latency_s

    return answer, lambda prompt: generator.complete(prompt).text


def evaluate(
    data: Path,
    artifacts: Sequence[Path],
    out: Path,
    profile: str | None = None,
    limit: int | None = None,
    trainings: Sequence[Path] = (),
    progress: IO[str] | None = STDERR,
    max_tokens: int = 256,
    base: Path | None = None,
    teachers: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Score the base model (before), every artifact (after) and the heuristic baseline on the eval split; write
    eval.json, eval.md, eval.png and (given training stages) loss.png.

    The codec profile is what the data and the artifacts record (``profile`` must agree; none recorded: hf)."""
    profile = resolve_profile(profile, data, artifacts)
    eval_file = dataset_file(data, "eval")
    examples = load_examples(eval_file, profile)  # type: ignore[arg-type]
    if limit is not None:
        examples = examples[:limit]
    wanted = {e.where for e in examples}
    steps = {k: v for k, v in conversation_steps(eval_file, profile).items() if k in wanted}  # type: ignore[arg-type]
    results: dict[str, Any] = {"data": str(data), "profile": profile, "examples": len(examples), "artifacts": {}}

    def run(path: Path, label: str) -> dict[str, Any]:
        answer, complete = _answerer(path, max_tokens)
        metrics = score(examples, answer, progress, label)
        if steps:
            metrics["conversations"] = score_conversations(steps, complete)
        return metrics

    if base is not None:
        results["base"] = {"model": str(base), **run(base, f"base {base.name}")}
    for path in artifacts:
        results["artifacts"][path.name if path.suffix == ".gguf" else str(path)] = run(path, path.name)
    known = [e for e in examples if e.task and e.input is not None]
    if known:
        results["heuristic_baseline"] = score(known, heuristic_answer)
    results["baseline"] = baseline_note(data, results.get("heuristic_baseline"), teachers)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
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
    if "heuristic_baseline" in results:
        rows["heuristic baseline"] = results["heuristic_baseline"]
    return rows


def _pct(rate: float, n: int) -> str:
    return f"{rate:.1%} (n={n})"


def write_report(results: dict[str, Any]) -> str:
    """The evaluation as markdown: every figure with its n, base (before) beside each artifact (after)."""
    rows = _rows(results)
    lines = [
        f"# Evaluation on {results['data']} ({results['examples']} examples)",
        "",
        "| model | n | valid calls | schema-valid | exact match | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        latency = m["latency_ms"]
        lines.append(
            f"| {name} | {m['examples']} | {m['valid_call_rate']:.1%} | {m['schema_valid_rate']:.1%} "
            f"| {m['exact_match']:.1%} "
            f"| {latency['p50'] if latency['p50'] is not None else '-'} "
            f"| {latency['p95'] if latency['p95'] is not None else '-'} |"
        )
    baseline = results.get("baseline")
    if baseline:
        lines += ["", f"Baseline: {baseline['what']}. {baseline['verdict']}"]
    lines += ["", "## Per task", "", "| model | task | n | valid calls | schema-valid | exact match |",
              "|---|---|---|---|---|---|"]
    for name, m in rows.items():
        for task, t in m.get("by_task", {}).items():
            lines.append(
                f"| {name} | {task} | {t['examples']} | {t['valid_call_rate']:.1%} | {t['schema_valid_rate']:.1%} "
                f"| {t['exact_match']:.1%} |"
            )
    lines += ["", "## Per-field accuracy", ""]
    for name, m in rows.items():
        counts = m.get("field_n", {})
        fields = ", ".join(f"{k} {_pct(v, counts.get(k, 0))}" for k, v in m["field_accuracy"].items()) or "-"
        lines.append(f"- {name}: {fields}")
    lines += ["", "## Tool confusion (rows: the teacher's tool; columns: the model's; counts)", ""]
    for name, m in rows.items():
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
    intent = {name: m["cli_intent"] for name, m in rows.items() if "cli_intent" in m}
    if intent:
        lines += [
            "",
            "CLI intent (execute at confidence >= 0.9, confirm 0.7-0.9, clarify below):",
            "",
            "| model | n | exact | command | subcommand | args | flags | invalid | clarify P | clarify R "
            "| execute / confirm / clarify |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, m in intent.items():
            lines.append(
                f"| {name} | {rows[name]['examples']} | {m['exact_match']:.1%} | {m['command_accuracy']:.1%} "
                f"| {m['subcommand_accuracy']:.1%} "
                f"| {m['args_accuracy']:.1%} | {m['flags_accuracy']:.1%} | {m['invalid_output_rate']:.1%} "
                f"| {m['clarification_precision']:.1%} | {m['clarification_recall']:.1%} "
                f"| {m['execute_rate']:.0%} / {m['confirm_rate']:.0%} / {m['clarify_rate']:.0%} |"
            )
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
