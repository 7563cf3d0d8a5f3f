"""Quickstart: from a teacher's recorded work to a local student model, end to end, offline.

1. record: the heuristic teacher explores ``examples/sample_repo`` over the real jedi language server for the
   training queries, and every exchange is recorded;
2. rebuild: the recordings become FunctionGemma training data (``training/data/quickstart``);
3. train: a tiny FunctionGemma-compatible model, built on the spot, is fine-tuned (SFT), merged, exported to
   GGUF and quantized to q8_0 (``training/models/quickstart``);
4. run: the same exploration program runs on held-out queries with the GGUF as its model, in-process through
   llama.cpp, and every student answer is checked and compared with the teacher's answer to the same request
   (agreement: every decision field the same; free text such as score_edge's reasoning never counts). Beside
   the student, the prior: the answer made of each decision field's most common value in the training data,
   which a student that learnt only the majority would give; a student figure within 5 points of it is marked.

No API key, GPU or server is needed. Every step is skipped when its output is already there, so an
interrupted run continues where it stopped (``--force`` starts afresh).

The run is quiet by default: each stage says when it starts and how far it got (every tenth recorded session,
the training bar, the evaluation's counts), and what llama.cpp, transformers and torch say is hidden; ``-v``
shows all of it, ``-q`` only warnings and the summary. It ends with a summary that fits one screen and names the
report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from converters.functiongemma import ToolCall
from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from teacher.cli_args import (
    CommandParser,
    Number,
    counts,
    output_problem,
    positive_float,
    positive_int,
)
from teacher.evaluation import decisions_agree
from teacher.explore import TeachQuery, explore
from teacher.handlers import interpret
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.prior import Prior, near_prior
from teacher.task import TaskOutputError, free_text_fields

HERE = Path(__file__).resolve().parent
SAMPLE_REPO = HERE / "sample_repo"
QUERIES = HERE / "sample_queries.jsonl"
HELD_OUT = 4  # the last queries of sample_queries.jsonl are never recorded for training


def _has_items(calls: Sequence[ToolCall], free_text: Collection[str]) -> bool:
    """Whether one of the calls' decision arguments is a non-empty list."""
    return any(isinstance(value, list) and value for call in calls for name, value in call.arguments.items()
               if name not in free_text)


class AgreementCheck(ModelBackend):
    """Answers with the student, and counts how often its answer is valid and agrees with the teacher's.

    A student answer the task refuses is counted and replaced by the teacher's, as a production fallback
    would, so the exploration goes on and every held-out request reaches the student. Given a ``prior``, its
    answer to each request is compared with the teacher's too.
    """

    def __init__(self, student: ModelBackend, teacher: ModelBackend, prior: Prior | None = None) -> None:
        self.student = student
        self.teacher = teacher
        self.prior = prior
        self.counts: Counter[str] = Counter()

    async def complete(self, request: ModelRequest) -> ModelReply:
        reply = await self.student.complete(request)
        expected = await self.teacher.complete(request)
        task, name = request.task, request.task_name
        assert task is not None  # the exploration's requests carry their task
        self.counts[f"{name}/requests"] += 1
        guess = self.prior.answer(name) if self.prior is not None else None
        if guess is not None and decisions_agree(expected.calls, guess, free_text_fields(task)):
            self.counts[f"{name}/prior_agree"] += 1
        tool = {t.name for t in request.tools}
        if len(reply.calls) == 1 and reply.calls[0].name in tool:
            self.counts[f"{name}/calls"] += 1  # a well-formed call of the task's tool
        try:
            if len(reply.calls) != 1:
                raise TaskOutputError(name, f"{len(reply.calls)} calls")
            task.parse(reply.calls[0], request.input)
        except TaskOutputError:
            return expected
        self.counts[f"{name}/valid"] += 1
        if decisions_agree(expected.calls, reply.calls, free_text_fields(task)):
            self.counts[f"{name}/agree"] += 1
        if _has_items(expected.calls, free_text_fields(task)):
            self.counts[f"{name}/teacher_items"] += 1
            self.counts[f"{name}/items_too"] += _has_items(reply.calls, free_text_fields(task))
        return reply

    def rates(self) -> dict[str, dict[str, float | int]]:
        """Requests, valid-call rate and agreement with the teacher (the student's and, given one, the prior's),
        per task and overall."""
        tasks = sorted({key.split("/")[0] for key in self.counts})
        table: dict[str, dict[str, float | int]] = {}
        for name in [*tasks, "all"]:
            keys = tasks if name == "all" else [name]
            n = sum(self.counts[f"{t}/requests"] for t in keys)
            valid = sum(self.counts[f"{t}/valid"] for t in keys)
            calls = sum(self.counts[f"{t}/calls"] for t in keys)
            agree = sum(self.counts[f"{t}/agree"] for t in keys)
            table[name] = {
                "requests": n,
                "valid_calls": calls / n if n else 0.0,
                "schema_valid": valid / n if n else 0.0,
                "agreement": agree / n if n else 0.0,
                "teacher_fallbacks": n - valid,
            }
            listed = sum(self.counts[f"{t}/teacher_items"] for t in keys)
            if listed:  # a decision list the teacher filled (select_symbols' selection): did the student fill it?
                table[name]["teacher_lists"] = listed
                table[name]["nonempty_when_teacher"] = sum(self.counts[f"{t}/items_too"] for t in keys) / listed
            if self.prior is not None:
                table[name]["prior_agreement"] = sum(self.counts[f"{t}/prior_agree"] for t in keys) / n if n else 0.0
        return table


def summary_lines(rates: dict[str, dict[str, float | int]], evaluation: dict[str, Any]) -> list[str]:
    """The quickstart's summary: on the held-out exploration, per task the student's agreement beside the prior's
    (marked ``≈prior`` when within 5 points of it); on the eval split, exact match of the base, each tuned
    artifact and the prior."""
    lines = []
    for task, row in rates.items():
        prior = row.get("prior_agreement")
        mark = " ≈prior" if prior is not None and near_prior(float(row["agreement"]), float(prior)) else ""
        lines.append(
            f"   {task:>15}: {row['requests']:>4} requests, {row['valid_calls']:.1%} valid calls, "
            f"{row['schema_valid']:.1%} accepted by the task, {row['agreement']:.1%} agree with the teacher{mark}"
            + (f" (prior {prior:.1%})" if prior is not None else "")
        )
    models = {**({"base": evaluation["base"]} if "base" in evaluation else {}),
              **{f"tuned {Path(name).name}": m for name, m in evaluation.get("artifacts", {}).items()},
              **({"prior": evaluation["prior"]} if "prior" in evaluation else {})}
    prior_exact = evaluation.get("prior", {}).get("exact_match")
    figures = []
    for name, m in models.items():
        mark = " ≈prior" if name.startswith("tuned") and prior_exact is not None and near_prior(
            m["exact_match"], prior_exact) else ""
        figures.append(f"{name} {m['exact_match']:.1%}{mark}")
    if figures:
        lines.append(f"   eval split ({evaluation.get('examples', '?')} examples), exact match: " + ", ".join(figures))
    return lines


class EveryTenthSession(logging.Filter):
    """Lets through every tenth of ``teacher.record``'s per-session lines, and the last: a count, not a list."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("[%d/%d sessions") or not isinstance(record.args, tuple):
            return True
        done, total = record.args[0], record.args[1]
        return not isinstance(done, int) or done % 10 == 0 or done == total


def record(queries: Path, out: Path, flags: Sequence[str] = ()) -> None:
    """Record the heuristic teacher exploring the sample repository (resumed when partly done); ``flags`` are the
    output flags (``-v``, ``-q``) passed on to ``teacher.record``."""
    from teacher.record import main as record_main

    argv = ["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "heuristic", "--out", str(out),
            *flags]
    if (out / "sessions").is_dir():
        argv.append("--resume")
    if record_main(argv) != 0:
        raise SystemExit(f"quickstart: recording the teacher into {out} failed (see above)")


async def held_out_run(gguf: Path, queries: list[TeachQuery], prior: Prior | None = None) -> AgreementCheck:
    """Explore the held-out queries with the GGUF student, checking each answer (and the prior's, given one)
    against the teacher."""
    from interpreters.backends import build_backend

    check = AgreementCheck(build_backend(f"gguf:{gguf}"), HeuristicModel(), prior)
    async with LspServer(SAMPLE_REPO) as lsp, interpret(lsp, check):
        for query in queries:
            result = await explore(query)
            print(
                f"  {query.topic}: {len(result.nodes)} symbols, {len(result.edges)} edges, "
                f"skipped {counts(result.skip_counts())}"
            )
    return check


#: what turns off the progress bars of Hugging Face's libraries (loading weights, writing shards, mapping datasets),
#: read when they are imported
HF_BARS_OFF = ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """For the block, without ``-v``: hide the Python warnings torch, transformers, trl, peft and accelerate give
    about their own internals and the progress bars of Hugging Face's libraries (the stages report their own
    progress), and show ``teacher.record``'s progress every tenth session. (llama.cpp's messages and transformers'
    log are already hidden by the command line's logging set-up, :func:`teacher.cli_args.configure_logging`.)"""
    every_tenth, logger = EveryTenthSession(), logging.getLogger("teacher.record")
    saved = {name: os.environ.get(name) for name in HF_BARS_OFF}
    os.environ.update(dict.fromkeys(HF_BARS_OFF, "1"))
    if "transformers" in sys.modules:  # imported already (a test): its switch is read at import
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(torch|transformers|trl|peft|accelerate|datasets)(\.|$)")
        logger.addFilter(every_tenth)
        try:
            yield
        finally:
            logger.removeFilter(every_tenth)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="python -m examples.quickstart", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("training"), help="where data and models go")
    parser.add_argument("--epochs", type=positive_float, default=2.0, help="SFT epochs")
    parser.add_argument("--max-steps", type=Number(int, minimum=-1), default=-1,
                        help="stop SFT after this many steps (for a smoke run; -1: the epochs decide)")
    parser.add_argument("--hidden-size", type=Number(int, minimum=4), default=128,
                        help="the tiny student's hidden size, at least 4")
    parser.add_argument("--layers", type=positive_int, default=4, help="the tiny student's decoder layers")
    parser.add_argument("--eval-limit", type=positive_int, help="evaluate only the first N eval examples")
    parser.add_argument("--force", action="store_true", help="discard earlier results and start afresh")
    args = parser.parse_args(argv)
    flags = ["-v"] * getattr(args, "verbose", 0) + ["-q"] * getattr(args, "quiet", False)
    with contextlib.nullcontext() if flags else quiet_libraries():
        return run(args, flags)


def run(args: argparse.Namespace, flags: Sequence[str]) -> int:
    """The quickstart's steps, for the flags parsed by :func:`main` (``flags``: the output flags, for the recorder)."""
    problem = output_problem(args.root, directory=True)
    if problem is not None:
        print(f"quickstart: --root {args.root}: {problem}", file=sys.stderr)
        return 1
    from finetune.pipeline import PipelineSettings, run_pipeline
    from finetune.tiny import TinySpec

    started = time.perf_counter()
    name = "quickstart"
    lines = [line for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    train_queries, held_out = (
        lines[:-HELD_OUT],
        [TeachQuery.model_validate(json.loads(line)) for line in lines[-HELD_OUT:]],
    )
    recordings = args.root / "recordings" / name
    if args.force:
        for path in (recordings, args.root / "data" / name, args.root / "models" / name):
            shutil.rmtree(path, ignore_errors=True)
    recordings.mkdir(parents=True, exist_ok=True)
    (recordings / "queries.jsonl").write_text("\n".join(train_queries) + "\n", encoding="utf-8")

    print(f"1. recording the teacher on {len(train_queries)} queries over examples/sample_repo", flush=True)
    record(recordings / "queries.jsonl", recordings, flags)
    print("2-3. rebuilding the data, training the tiny student, exporting q8_0", flush=True)
    settings = PipelineSettings(
        name=name,
        root=args.root,
        recordings=[recordings / "sessions"],
        dpo=False,
        quantizations=["q8_0"],
        sft_settings={"epochs": args.epochs, "max_steps": args.max_steps},
        tiny=TinySpec(hidden_size=args.hidden_size, intermediate_size=4 * args.hidden_size, layers=args.layers,
                      heads=4, kv_heads=1, head_dim=args.hidden_size // 4),
    )
    evaluation = run_pipeline(settings)
    gguf = settings.models / f"{name}-q8_0.gguf"
    print(f"4. exploring {len(held_out)} held-out queries with the student ({gguf})", flush=True)
    from finetune.evaluate import fit_training_prior

    prior = fit_training_prior(settings.data / "train.jsonl")
    check = asyncio.run(held_out_run(gguf, held_out, prior))
    rates = check.rates()
    summary = {"held_out": rates, "eval_split": evaluation["artifacts"], "prior": evaluation.get("prior"),
               "wall_seconds": time.perf_counter() - started}
    figures = settings.models / "quickstart.json"
    figures.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"\ndone in {summary['wall_seconds']:.0f} s. The student on the held-out queries, against the teacher:")
    for line in summary_lines(rates, evaluation):
        print(line)
    print(f"report: {settings.models / 'eval' / 'eval.md'} (figures: {figures}; model: {gguf})")
    print("the same loop on the real Gemma 3 270M: python -m benchmarks.real_student --root DIR (the 'real' extra)")
    return 0 if rates["all"]["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
