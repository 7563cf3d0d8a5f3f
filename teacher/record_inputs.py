"""Recording any single-question task on inputs from a file (``python -m teacher.record --task X --inputs FILE``).

``FILE`` is JSONL, one typed input of the task (its ``input_model``) per line. Each input is one session,
``OUT/sessions/<id>.jsonl`` (the id is derived from the task and the input, so ``--resume`` finds it again): a
``session_start`` line naming the task and the input, the model turn the chosen backend answered, and a
``session_end`` line with the task's output. It goes through the same :class:`interpreters.recording.RecordedSession`
as every other recording, so ``converters.rebuild`` turns it into data.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from teacher.model import ModelBackend
from teacher.record_shared import FailureStreak, Refused, SessionOutcome, jsonl_objects
from teacher.task import FineTrainingTeacher, TaskOutputError

__all__ = ["input_session_id", "load_inputs", "record_inputs", "single_question_problem"]

logger = logging.getLogger(__name__)


def input_session_id(task: FineTrainingTeacher[Any, Any], input: BaseModel) -> str:
    """A stable id: the same input of the same task always records to the same session log."""
    return hashlib.sha256(f"{task.name}:{input.model_dump_json()}".encode()).hexdigest()[:16]


def single_question_problem(task: FineTrainingTeacher[Any, Any]) -> str | None:
    """Why ``task`` cannot be recorded one question per input (a multi-turn task), or None."""
    from teacher.task import HasConversation

    if isinstance(task, HasConversation):
        return f"task {task.name} is a conversation of several turns, not one question per input"
    return None


def load_inputs(path: Path, task: FineTrainingTeacher[Any, Any]) -> list[BaseModel]:
    """The task's typed inputs from a JSONL file; a bad line raises :class:`Refused` naming file, line and field."""
    inputs = []
    for number, entry in jsonl_objects(path, "--inputs", f"an input of {task.name}"):
        try:
            inputs.append(task.input_model.model_validate(entry))
        except ValidationError as error:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(the line)'}: {e['msg']}" for e in error.errors())
            raise Refused(f"{path}:{number}: {fields}") from None
    if not inputs:
        raise Refused(f"{path}: no inputs")
    return inputs


async def _one(
    task: FineTrainingTeacher[Any, Any], input: BaseModel, out: Path, model: ModelBackend, *, resume: bool,
    teacher: str, source: str,
) -> SessionOutcome:
    from interpreters.recording import RecordedSession
    from interpreters.records import SessionEnd, SessionStart
    from teacher.handlers import perform
    from teacher.operations import Ask

    sid = input_session_id(task, input)
    given = {"task": task.name, "inputs": source, "input": input.model_dump(mode="json")}
    start = SessionStart(session=sid, source=given, teacher=teacher, started=time.time())
    with RecordedSession(out / "sessions" / f"{sid}.jsonl", start, resume=resume) as session:
        if session.ended is not None:
            return SessionOutcome(sid, "already_finished")
        refused: list[str] = []

        async def program() -> Any:
            try:
                return await perform(Ask(task, input))
            except TaskOutputError as error:  # recorded as answered; the rebuild refuses to learn from it
                refused.append(str(error))
                return None

        result = await session.run(program, model)
        if session.failures:
            return SessionOutcome(sid, "failed", session.failures)
        output = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        session.end(SessionEnd(result=output, stopped=f"invalid answer: {refused[0]}" if refused else None))
        return SessionOutcome(sid, "finished")


async def record_inputs(
    task: FineTrainingTeacher[Any, Any],
    inputs: Sequence[BaseModel],
    out: Path,
    model: ModelBackend,
    *,
    concurrency: int = 4,
    resume: bool = False,
    teacher: str = "",
    source: str = "",
    budget_spent: Callable[[], bool] = lambda: False,
    max_failures: int | None = None,
) -> list[SessionOutcome]:
    """Ask ``model`` each input of ``task`` (``concurrency`` at a time), one recorded session per input; the outcome
    of each session started (none once the budget is spent or ``max_failures`` sessions in a row failed)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, not {concurrency}")
    limit = asyncio.Semaphore(concurrency)
    streak = FailureStreak(max_failures)
    done = 0

    async def one(input: BaseModel) -> SessionOutcome | None:
        nonlocal done
        async with limit:
            if budget_spent() or streak.stopped:
                return None
            outcome = streak.saw(await _one(task, input, out, model, resume=resume, teacher=teacher, source=source))
            done += 1
            logger.info("[%d/%d inputs] %s: %s", done, len(inputs), outcome.session, outcome.state)
            return outcome

    return [o for o in await asyncio.gather(*(one(i) for i in inputs)) if o is not None]
