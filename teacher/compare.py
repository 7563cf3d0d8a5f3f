"""``python -m teacher.compare``: ask a student the questions a teacher recording answered, and measure agreement.

For every answered turn of a compared task in the recordings (the tasks whose ``compared`` hook says so: the
exploration's select_symbols and score_edge), the same input is put to the student (``--student ollama``,
``--student llamacpp --gguf PATH`` or ``--student hf --hf DIR``) through :mod:`teacher.evaluation`, the path
``finetune eval`` takes too; per task it reports how often the student's answer is valid, how often it is exact
(:func:`teacher.evaluation.decisions_agree`, the one definition both use: every decision field right, free text
such as score_edge's reasoning never counting), the token F1 of each free-text field (``reasoning_f1``) and the
task's own agreement figures (its ``agreement`` hook: for select_symbols the mean Jaccard of the selections; for
score_edge the mean absolute difference of relevance and risk and agreement of the three flags). Beside them, the
prior's figures (:mod:`teacher.prior`: each decision field's most common value in the student's training data,
``--train``, or else in the compared turns themselves), and a student's rate within 5 points of the prior's is
marked. A line that cannot be read is reported
(``FILE:LINE: field ...``), skipped and counted, as ``converters.rebuild`` does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from converters.functiongemma import ToolCall
from interpreters.backends import add_backend_flag
from interpreters.records import Line, ModelTurn, read_lines
from teacher.cli_args import CommandParser, add_hidden_alias, output_problem
from teacher.evaluation import ask, decisions_agree, free_text_similarity
from teacher.model import ModelBackend, request_for
from teacher.operations import Ask, OperationFailed
from teacher.prior import Prior, fit_prior, near_prior
from teacher.task import Compared, FineTrainingTeacher, TaskOutputError, free_text_fields

__all__ = ["agreement", "compare", "compared_records", "jaccard", "main", "prior_of_records", "report_lines"]

logger = logging.getLogger(__name__)

def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Size of the intersection over size of the union; two empty selections agree fully."""
    left, right = set(a), set(b)
    return 1.0 if not left | right else len(left & right) / len(left | right)


def _compared(task: FineTrainingTeacher[Any, Any], tasks: Collection[str] | None = None) -> bool:
    """Whether students are compared with the teacher on this task: one of ``tasks`` when they are chosen
    (``--task``), else when its ``compared`` hook says so."""
    return task.name in tasks if tasks is not None else isinstance(task, Compared)


def _agreement(
    task: FineTrainingTeacher[Any, Any], teacher: dict[str, Any], student: dict[str, Any]
) -> dict[str, float]:
    """The task's own per-turn agreement figures (its ``agreement`` hook)."""
    return task.agreement(teacher, student) if isinstance(task, Compared) else {}


def agreement(task: str, teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
    """Per-turn agreement figures between a teacher's and a student's arguments for one task: ``exact`` (every
    decision field agrees, :func:`teacher.evaluation.decisions_agree`) and the task's own figures."""
    from tasks.registry import task_named

    known = task_named(task)
    exact = decisions_agree([ToolCall(task, teacher)], [ToolCall(task, student)], free_text_fields(known))
    return {**_agreement(known, teacher, student), "exact": float(exact)}


def _teacher_calls(record: ModelTurn) -> list[ToolCall]:
    return [ToolCall(c.name, c.arguments) for c in record.calls or ()]


def _compared_turns(
    records: Sequence[Line], tasks: Collection[str] | None = None
) -> Iterator[tuple[ModelTurn, FineTrainingTeacher[Any, Any]]]:
    """The answered model turns of ``records`` whose task is compared (one of ``tasks`` when given), each with its
    task."""
    from tasks.registry import TASKS

    for record in records:
        if not isinstance(record, ModelTurn) or record.error:
            continue
        task = TASKS.get(record.task)
        if task is not None and _compared(task, tasks):
            yield record, task


def prior_of_records(records: Sequence[Line], source: str, tasks: Collection[str] | None = None) -> Prior:
    """The prior fitted on the compared teacher turns of ``records`` themselves (when no training data is given);
    ``tasks``: the compared tasks' names (default: those whose ``compared`` hook says so)."""
    answers = [(record.task, _teacher_calls(record)) for record, _ in _compared_turns(records, tasks)]
    return fit_prior(answers, source=source)


def _prior_figures(
    task: FineTrainingTeacher[Any, Any], teacher_calls: list[ToolCall], prior: Prior
) -> dict[str, float] | None:
    answer = prior.answer(task.name)
    if not answer or not teacher_calls:
        return None
    return {**_agreement(task, teacher_calls[0].arguments, answer[0].arguments),
            "exact": float(decisions_agree(teacher_calls, answer, free_text_fields(task)))}


async def compare(
    records: Sequence[Line], student: ModelBackend, prior: Prior | None = None,
    tasks: Collection[str] | None = None,
) -> dict[str, Any]:
    """Ask ``student`` every compared teacher turn in ``records`` (of ``tasks``, by name, when given); returns the
    report per task, with the prior's figures on the same turns under ``prior`` (when given)."""
    totals: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    prior_totals: dict[str, dict[str, float]] = {}
    for record, task in _compared_turns(records, tasks):
        task_name = record.task
        count = counts.setdefault(task_name, {"turns": 0, "valid": 0, "invalid": 0, "failed": 0})
        count["turns"] += 1
        input = task.input_model.model_validate(record.input)
        teacher_calls = _teacher_calls(record)
        prior_figures = _prior_figures(task, teacher_calls, prior) if prior is not None else None
        if prior_figures is not None:
            sums = prior_totals.setdefault(task_name, {})
            for name, value in prior_figures.items():
                sums[name] = sums.get(name, 0.0) + value
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
        free = free_text_fields(task)
        figures = {
            **_agreement(task, teacher_calls[0].arguments, own),
            "exact": float(decisions_agree(teacher_calls, answer.calls or (), free)),
            **{f"{key}_f1": f1 for key, f1 in free_text_similarity(teacher_calls, answer.calls, free).items()},
        }
        sums = totals.setdefault(task_name, {})
        for name, value in figures.items():
            sums[name] = sums.get(name, 0.0) + value
    report: dict[str, Any] = {}
    for task_name, count in counts.items():
        means = {name: round(value / count["valid"], 4) for name, value in totals.get(task_name, {}).items()}
        report[task_name] = {**count, **means}
        if task_name in prior_totals:
            report[task_name]["prior"] = {
                "source": prior.source if prior is not None else "",
                "turns": count["turns"],
                **{name: round(value / count["turns"], 4) for name, value in prior_totals[task_name].items()},
            }
    return report


def _is_rate(name: str) -> bool:
    """Whether a figure is a rate to set against the prior's (not a difference, a count or a text similarity)."""
    return not name.endswith(("_diff", "_f1")) and name not in ("turns", "valid", "invalid", "failed")


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as text: per task the student's figures, each rate within 5 points of the prior's marked
    ``≈prior``, then the prior's row."""
    lines = []
    for task, figures in report.items():
        prior = figures.get("prior") or {}
        shown = []
        for name, value in figures.items():
            if name == "prior":
                continue
            mark = " ≈prior" if _is_rate(name) and name in prior and near_prior(value, prior[name]) else ""
            shown.append(f"{name} {value}{mark}")
        lines.append(f"{task}: " + ", ".join(shown))
        if prior:
            lines.append(f"{task} prior (most common training value of each decision field, from {prior['source']}): "
                         + ", ".join(f"{k} {v}" for k, v in prior.items() if k != "source"))
    return lines


def _problem(record: Line, tasks: Collection[str] | None = None) -> str | None:
    """Why a compared teacher turn cannot be put to the student, or None (also for lines that are not compared)."""
    from converters.rebuild import validation_problem

    compared = next(_compared_turns([record], tasks), None)
    if compared is None:
        return None
    turn, task = compared
    try:
        task.input_model.model_validate(turn.input)
    except ValidationError as error:
        return validation_problem("input", error)
    if not turn.calls:
        return "field 'calls' must be a non-empty list of {name, arguments} objects"
    return None


def compared_records(logs: Sequence[Path], tasks: Collection[str] | None = None) -> tuple[list[Line], int]:
    """The lines of session logs that :func:`compare` can use (comparing ``tasks`` when given), and how many were
    skipped: each skipped line is logged as a warning, ``FILE:LINE: field ...``."""
    records: list[Line] = []
    skipped = 0
    for log in logs:
        for read in read_lines(log, keyed=False):  # a turn is put to the student by its input, not its key
            problem = read.error.words() if read.error is not None else None
            if read.line is not None:
                problem = _problem(read.line, tasks)
            if problem is None:
                if read.line is not None:
                    records.append(read.line)
            else:
                skipped += 1
                logger.warning("teacher.compare: %s:%d: %s; skipped", log, read.number, problem)
    return records, skipped


def _training_prior(data: Path) -> Prior:
    """The prior of a training dataset (a folder's ``train.jsonl``, or the file given)."""
    from finetune.evaluate import fit_training_prior

    train = data / "train.jsonl" if data.is_dir() else data
    if not train.is_file():
        raise ValueError(f"{train}: no such training file")
    return fit_training_prior(train)


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m teacher.compare", description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, help="a teacher's recordings (a directory or a session log)")
    student_flag = add_backend_flag(parser, "student", required=True, companions=("gguf", "hf", "ollama"),
                                    help="ollama[:NAME], gguf:PATH (or llamacpp, --gguf), hf:DIR (or hf, --hf)")
    add_hidden_alias(parser, "--model", dest="ollama_model")  # the older spellings
    add_hidden_alias(parser, "--host", dest="ollama_host")
    parser.add_argument("--train", type=Path, metavar="DATA",
                        help="the student's training data (a dataset folder or its train.jsonl): the prior row's "
                             "majorities come from it (default: from the compared turns themselves)")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    parser.add_argument("--task", action="append",
                        help="compare this task (repeatable; default: every task whose compared hook says so): a "
                             "name, or module:Class of a task anywhere")
    args = parser.parse_args(argv)
    from tasks.registry import TaskNotFound, resolve_task

    try:
        tasks = frozenset(resolve_task(text).name for text in args.task) if args.task else None
    except TaskNotFound as error:
        parser.error(f"--task: {error}")

    from interpreters.backends import BackendSpecError, build_backend
    from interpreters.replay import session_logs

    spec = student_flag.spec(parser, args)
    assert spec is not None  # --student is required

    problem = output_problem(args.out, directory=False) if args.out else None
    if problem is not None:
        print(f"teacher.compare: --out {args.out}: {problem}", file=sys.stderr)
        return 1
    try:
        logs = [log for log in session_logs(args.recordings) if log.is_file()]  # not a folder named *.jsonl
        records, skipped = compared_records(logs, tasks)
    except OSError as error:
        print(f"teacher.compare: {error}", file=sys.stderr)
        return 1
    try:
        prior = _training_prior(args.train) if args.train else prior_of_records(
            records, f"the compared turns of {args.recordings} (no --train given)", tasks)
    except (OSError, ValueError) as error:
        print(f"teacher.compare: --train {args.train}: {error}", file=sys.stderr)
        return 1
    try:
        student: ModelBackend = build_backend(spec, {"host": args.ollama_host})
        report = asyncio.run(compare(records, student, prior, tasks))
    except BackendSpecError as error:  # e.g. a backend whose library is not installed here
        print(f"teacher.compare: --student {args.student}: {error}", file=sys.stderr)
        return error.exit_code
    except OperationFailed as error:
        if not error.fatal:
            raise
        print(f"teacher.compare: {error}", file=sys.stderr)
        return 2
    for line in report_lines(report):
        print(line)
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
