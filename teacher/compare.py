"""``python -m teacher.compare``: ask a student the questions a teacher recording answered, and measure agreement.

For every answered turn of a compared task in the recordings (the tasks whose ``compared`` hook says so: the
exploration's select_symbols and score_edge), the same input is put to the student (``--student ollama``,
``--student llamacpp --gguf PATH`` or ``--student hf --hf DIR``) through :mod:`teacher.evaluation`, the path
``finetune eval`` takes too; per task it reports how often the student's answer is valid, how often it is exact
(:func:`teacher.evaluation.calls_agree`, the one definition both use) and the task's own agreement figures (its
``agreement`` hook: for select_symbols the mean Jaccard of the selections; for score_edge the mean absolute
difference of relevance and risk and agreement of the three flags). A line that cannot be read is reported
(``FILE:LINE: field ...``), skipped and counted, as ``converters.rebuild`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from converters.functiongemma import ToolCall
from teacher.cli_args import HelpFormatter, add_hidden_alias, add_ollama_flags, configure_logging, output_problem
from teacher.evaluation import ask, calls_agree
from teacher.model import ModelBackend, request_for
from teacher.operations import Ask, OperationFailed
from teacher.task import FineTrainingTeacher, TaskOutputError

__all__ = ["agreement", "compare", "compared_records", "jaccard", "main"]

logger = logging.getLogger(__name__)

def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Size of the intersection over size of the union; two empty selections agree fully."""
    left, right = set(a), set(b)
    return 1.0 if not left | right else len(left & right) / len(left | right)


def _compared(task: FineTrainingTeacher[Any, Any]) -> bool:
    """Whether students are compared with the teacher on this task (its ``compared`` hook)."""
    return task.compared


def _agreement(
    task: FineTrainingTeacher[Any, Any], teacher: dict[str, Any], student: dict[str, Any]
) -> dict[str, float]:
    """The task's own per-turn agreement figures (its ``agreement`` hook)."""
    return task.agreement(teacher, student)


def agreement(task: str, teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
    """Per-turn agreement figures between a teacher's and a student's arguments for one task: ``exact`` (the calls
    agree, :func:`teacher.evaluation.calls_agree`) and the task's own figures."""
    from tasks.registry import task_named

    exact = calls_agree([ToolCall(task, teacher)], [ToolCall(task, student)])
    return {**_agreement(task_named(task), teacher, student), "exact": float(exact)}


async def compare(records: Sequence[dict[str, Any]], student: ModelBackend) -> dict[str, Any]:
    """Ask ``student`` every compared teacher turn in ``records``; returns the report per task."""
    from tasks.registry import TASKS

    totals: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        task_name = str(record.get("task"))
        task = TASKS.get(task_name)
        if record.get("kind") != "model" or record.get("error") or task is None or not _compared(task):
            continue
        count = counts.setdefault(task_name, {"turns": 0, "valid": 0, "invalid": 0, "failed": 0})
        count["turns"] += 1
        input = task.input_model.model_validate(record["input"])
        teacher_calls = [ToolCall(c["name"], c["arguments"]) for c in record["calls"]]
        answer = await ask(student, request_for(task, input))
        if answer.reply is None:
            count["failed"] += 1
            continue
        try:
            output = student.output_of(Ask(task, input), answer.reply)
        except TaskOutputError:
            count["invalid"] += 1
            continue
        count["valid"] += 1
        own = output.model_dump() if isinstance(output, BaseModel) else dict(answer.reply.calls[0].arguments)
        figures = {
            **_agreement(task, teacher_calls[0].arguments, own),
            "exact": float(calls_agree(teacher_calls, answer.calls or ())),
        }
        sums = totals.setdefault(task_name, {})
        for name, value in figures.items():
            sums[name] = sums.get(name, 0.0) + value
    report: dict[str, Any] = {}
    for task_name, count in counts.items():
        means = {name: round(value / count["valid"], 4) for name, value in totals.get(task_name, {}).items()}
        report[task_name] = {**count, **means}
    return report


def _problem(record: dict[str, Any]) -> str | None:
    """Why a compared teacher turn cannot be put to the student, or None (also for lines that are not compared)."""
    from converters.rebuild import schema_problem, validation_problem
    from tasks.registry import TASKS

    problem = schema_problem(record)
    if problem is not None or record.get("kind") != "model" or record.get("error"):
        return problem
    task = TASKS.get(str(record.get("task")))
    if task is None or not _compared(task):
        return None
    try:
        task.input_model.model_validate(record.get("input"))
    except ValidationError as error:
        return validation_problem("input", error)
    calls = record.get("calls")
    if not (isinstance(calls, list) and calls and isinstance(calls[0], dict)
            and isinstance(calls[0].get("name"), str) and isinstance(calls[0].get("arguments"), dict)):
        return "field 'calls' must be a non-empty list of {name, arguments} objects"
    return None


def _lines(log: Path) -> Iterator[tuple[int, Any]]:
    with open(log, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                try:
                    yield number, json.loads(raw)
                except (ValueError, RecursionError) as error:  # also bytes that are not UTF-8, or nesting too deep
                    yield number, ValueError(str(error) or type(error).__name__)


def compared_records(logs: Sequence[Path]) -> tuple[list[dict[str, Any]], int]:
    """The lines of session logs that :func:`compare` can use, and how many were skipped: each skipped line is
    logged as a warning, ``FILE:LINE: field ...``."""
    records: list[dict[str, Any]] = []
    skipped = 0
    for log in logs:
        for number, record in _lines(log):
            if isinstance(record, ValueError):
                problem: str | None = f"not a JSON object ({record})"
            elif not isinstance(record, dict):
                problem = "not a JSON object"
            else:
                problem = _problem(record)
            if problem is None:
                records.append(record)
            else:
                skipped += 1
                logger.warning("teacher.compare: %s:%d: %s; skipped", log, number, problem)
    return records, skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m teacher.compare", description=__doc__.splitlines()[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("recordings", type=Path, help="a teacher's recordings (a directory or a session log)")
    parser.add_argument("--student", required=True, metavar="SPEC",
                        help="ollama[:NAME], gguf:PATH (or llamacpp, --gguf), hf:DIR (or hf, --hf)")
    parser.add_argument("--gguf", type=Path, help="the student's GGUF (--student llamacpp)")
    parser.add_argument("--hf", type=Path, metavar="DIR", help="the student's model folder (--student hf)")
    add_ollama_flags(parser)
    add_hidden_alias(parser, "--model", dest="ollama_model")  # the older spellings
    add_hidden_alias(parser, "--host", dest="ollama_host")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    configure_logging()

    from interpreters.backends import BackendSpecError, build_backend, spec_from_flags
    from interpreters.replay import session_logs

    try:
        spec = spec_from_flags(args.student, gguf=args.gguf, ollama_model=args.ollama_model, hf=args.hf)
    except BackendSpecError as error:
        parser.error(str(error) if str(error).startswith("--student") else f"--student {args.student}: {error}")

    problem = output_problem(args.out, directory=False) if args.out else None
    if problem is not None:
        print(f"teacher.compare: --out {args.out}: {problem}", file=sys.stderr)
        return 1
    try:
        logs = [log for log in session_logs(args.recordings) if log.is_file()]  # not a folder named *.jsonl
        records, skipped = compared_records(logs)
    except OSError as error:
        print(f"teacher.compare: {error}", file=sys.stderr)
        return 1
    try:
        student: ModelBackend = build_backend(spec, **({"host": args.ollama_host} if spec.kind == "ollama" else {}))
        report = asyncio.run(compare(records, student))
    except BackendSpecError as error:  # e.g. a backend whose library is not installed here
        print(f"teacher.compare: --student {args.student}: {error}", file=sys.stderr)
        return error.exit_code
    except OperationFailed as error:
        if not error.fatal:
            raise
        print(f"teacher.compare: {error}", file=sys.stderr)
        return 2
    for task, figures in report.items():
        print(f"{task}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    if skipped:
        print(f"skipped {skipped} unreadable line(s) (see above)")
    if args.out:
        try:
            args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        except OSError as error:
            print(f"teacher.compare: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
