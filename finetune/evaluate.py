"""``finetune eval``: the same metrics for every artifact (the HF checkpoint and each GGUF) on the eval split.

Each eval example's completion is the teacher's answer. An artifact completes every prompt greedily; its
output is parsed by the codec and compared with the teacher's calls:

- ``valid_call_rate``: the output parses and makes a call where the teacher made one;
- ``schema_valid_rate``: the calls are accepted by the task (its tool schema and checks on the input) when the
  line names its task and input, else by the declared tools' names and required fields;
- ``exact_match``: the same calls with the same typed arguments (reasoning text ignored; lists of plain values
  compared as sets, since the schemas use them as sets);
- ``field_accuracy``: per argument, how often the predicted value equals the teacher's;
- ``latency_ms`` p50/p95.

The heuristic baseline is scored the same way on the examples whose task it knows. Results go to ``eval.json``
and ``eval.md``; the loss curves of the training stages to ``loss.png``.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from converters.functiongemma import FunctionGemmaFormatError, ToolCall, split_output
from finetune.data import Example, dataset_file, load_examples
from finetune.generate import Generator, open_generator
from finetune.provenance import resolve_profile

__all__ = [
    "Scores",
    "calls_agree",
    "evaluate",
    "expected_calls",
    "normalise",
    "plot_losses",
    "schema_valid",
    "score",
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
        if parsed and (predicted or not expected):
            self.parsed_with_call += 1
        elif parsed:
            self.failures["no_call"] += 1
        if schema_valid(example, predicted):
            self.schema_valid += 1
        if calls_agree(expected, predicted):
            self.exact += 1
        if expected:
            got = predicted[0].arguments if predicted and predicted[0].name == expected[0].name else {}
            for key, value in expected[0].arguments.items():
                self.fields[key] += 1
                if key in got and normalise(got[key]) == normalise(value):
                    self.fields_right[key] += 1

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
            "latency_ms": {"p50": percentile(0.5), "p95": percentile(0.95)},
            "failures": dict(self.failures),
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


def evaluate(
    data: Path,
    artifacts: Sequence[Path],
    out: Path,
    profile: str | None = None,
    limit: int | None = None,
    trainings: Sequence[Path] = (),
    progress: IO[str] | None = sys.stderr,
    max_tokens: int = 256,
) -> dict[str, Any]:
    """Score every artifact and the heuristic baseline on the eval split; write eval.json, eval.md, loss.png.

    The codec profile is what the data and the artifacts record (``profile`` must agree; none recorded: hf)."""
    profile = resolve_profile(profile, data, artifacts)
    examples = load_examples(dataset_file(data, "eval"), profile)  # type: ignore[arg-type]
    if limit is not None:
        examples = examples[:limit]
    results: dict[str, Any] = {"data": str(data), "profile": profile, "examples": len(examples), "artifacts": {}}
    for path in artifacts:
        generator: Generator = open_generator(path, max_tokens)

        def answer(example: Example, generator: Generator = generator) -> tuple[str | None, float | None]:
            done = generator.complete(example.prompt)
            return done.text, done.latency_s

        results["artifacts"][path.name if path.suffix == ".gguf" else str(path)] = score(
            examples, answer, progress, path.name
        )
    known = [e for e in examples if e.task and e.input is not None]
    if known:
        results["heuristic_baseline"] = score(known, heuristic_answer)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "eval.md").write_text(write_report(results), encoding="utf-8")
    if trainings:
        plot_losses(trainings, out / "loss.png")
    return results


def write_report(results: dict[str, Any]) -> str:
    """The evaluation as a markdown table."""
    rows = dict(results["artifacts"])
    if "heuristic_baseline" in results:
        rows["heuristic baseline"] = results["heuristic_baseline"]
    lines = [
        f"# Evaluation on {results['data']} ({results['examples']} examples)",
        "",
        "| artifact | valid calls | schema-valid | exact match | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        latency = m["latency_ms"]
        lines.append(
            f"| {name} | {m['valid_call_rate']:.1%} | {m['schema_valid_rate']:.1%} | {m['exact_match']:.1%} "
            f"| {latency['p50'] if latency['p50'] is not None else '-'} "
            f"| {latency['p95'] if latency['p95'] is not None else '-'} |"
        )
    lines += ["", "Per-field accuracy:", ""]
    for name, m in rows.items():
        fields = ", ".join(f"{k} {v:.1%}" for k, v in m["field_accuracy"].items()) or "-"
        lines.append(f"- {name}: {fields}")
    intent = {name: m["cli_intent"] for name, m in rows.items() if "cli_intent" in m}
    if intent:
        lines += [
            "",
            "CLI intent (execute at confidence >= 0.9, confirm 0.7-0.9, clarify below):",
            "",
            "| artifact | exact | command | subcommand | args | flags | invalid | clarify P | clarify R "
            "| execute / confirm / clarify |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, m in intent.items():
            lines.append(
                f"| {name} | {m['exact_match']:.1%} | {m['command_accuracy']:.1%} | {m['subcommand_accuracy']:.1%} "
                f"| {m['args_accuracy']:.1%} | {m['flags_accuracy']:.1%} | {m['invalid_output_rate']:.1%} "
                f"| {m['clarification_precision']:.1%} | {m['clarification_recall']:.1%} "
                f"| {m['execute_rate']:.0%} / {m['confirm_rate']:.0%} / {m['clarify_rate']:.0%} |"
            )
    return "\n".join(lines) + "\n"


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
