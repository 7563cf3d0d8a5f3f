"""Batch mode: the same teacher requests sent through the Message Batches API (half price), for bulk recording.

Requests from every running session are gathered; when none has arrived for ``wait`` seconds they are
submitted as one batch (custom id = the request's turn key), polled until the batch ends, and each result is
handed back to the request that asked for it. Submitted batch ids are appended to a state file, so a run that
stopped before its batch ended resumes by fetching that batch's results instead of submitting again.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interpreters.anthropic import (
    AnthropicTeacher,
    TeacherRequestFailed,
    cost_of,
    reply_from_response,
    response_problem,
)
from interpreters.recording import turn_key
from teacher.model import ModelBackend, ModelReply, ModelRequest

__all__ = ["MAX_BATCH_WAIT", "AnthropicBatchTeacher", "BatchOptions"]

MAX_BATCH_WAIT = 25 * 3600.0  # seconds: the Message Batches API expires a batch after 24 hours


class AnthropicBatchTeacher(ModelBackend):
    """Answers requests through message batches, built with ``teacher``'s parameters, client and prices."""

    def __init__(
        self,
        teacher: AnthropicTeacher,
        state: str | Path,
        *,
        wait: float = 2.0,
        poll_interval: float = 5.0,
        max_wait: float = MAX_BATCH_WAIT,
    ) -> None:
        if not (math.isfinite(max_wait) and max_wait > 0):
            raise ValueError(f"max_wait must be a finite number of seconds above 0, got {max_wait!r}")
        self.teacher = teacher
        self.state = Path(state)
        self.wait = wait
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.results: dict[str, dict[str, Any]] = {}  # custom id -> result entry, from finished batches
        self.submitted: list[str] = []
        self._pending: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = {}
        self._last_arrival = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._resumed = False
        self._resume_lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the wrapped teacher's connections (call before the event loop ends)."""
        await self.teacher.aclose()

    def _note(self, entry: dict[str, Any]) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    def unfinished_batches(self) -> list[str]:
        """Batch ids submitted earlier (per the state file) whose results were never fetched."""
        if not self.state.exists():
            return []
        submitted, ended = [], set()
        for line in self.state.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line: that batch was not fully noted, so it is not trusted
            if "submitted" in entry:
                submitted.append(entry["batch"])
            if "ended" in entry:
                ended.add(entry["batch"])
        return [b for b in submitted if b not in ended]

    async def _resume(self) -> None:
        async with self._resume_lock:
            if self._resumed:
                return
            self._resumed = True
            for batch in self.unfinished_batches():
                await self._collect(batch)

    async def complete(self, request: ModelRequest) -> ModelReply:
        await self._resume()
        params = self.teacher.request_params(request)
        key = turn_key(request)
        if key not in self.results:
            if key not in self._pending:
                self.teacher.budget.check()
                self._pending[key] = (params, asyncio.get_running_loop().create_future())
            self._last_arrival = time.monotonic()
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_when_quiet())
            await asyncio.shield(self._pending[key][1])
        entry = self.results[key]
        result = entry["result"]
        if result.get("type") != "succeeded":
            raise TeacherRequestFailed(f"batch_{result.get('type')}", json.dumps(result)[:300], 1)
        body = result.get("message")
        problem = response_problem(body)
        if problem:  # wrong types in a result (usage a string, negative counts): it cannot be priced or used
            raise TeacherRequestFailed("malformed_response", problem, 1)
        assert self.teacher.price is not None
        cost = cost_of(body.get("usage") or {}, self.teacher.price, batch=True)
        self.teacher.budget.add(cost)
        return reply_from_response(body, request=params, cost_usd=cost, attempts=1, batch=entry["batch"])

    async def _flush_when_quiet(self) -> None:
        while True:
            quiet_for = time.monotonic() - self._last_arrival
            if quiet_for < self.wait:
                await asyncio.sleep(self.wait - quiet_for)
                continue
            waiting = {k: v for k, v in self._pending.items() if not v[1].done()}
            if not waiting:
                return
            try:
                await self._submit(waiting)
            except Exception as error:  # the whole batch failed: every request in it fails with the reason
                failure = TeacherRequestFailed("batch_failed", f"{type(error).__name__}: {error}", 1)
                for _, future in waiting.values():
                    if not future.done():
                        future.set_exception(failure)
            for key in waiting:
                self._pending.pop(key, None)

    async def _submit(self, waiting: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]]) -> None:
        client = self.teacher.api_client()
        batch = await client.messages.batches.create(
            requests=[{"custom_id": key, "params": params} for key, (params, _) in waiting.items()]
        )
        self.submitted.append(batch.id)
        self._note({"batch": batch.id, "submitted": time.time(), "custom_ids": list(waiting)})
        await self._collect(batch.id)
        for key, (_, future) in waiting.items():
            if future.done():
                continue
            if key in self.results:
                future.set_result(self.results[key])
            else:
                future.set_exception(TeacherRequestFailed("batch_missing_result", f"no result for {key}", 1))

    async def _collect(self, batch_id: str) -> None:
        client = self.teacher.api_client()
        deadline = time.monotonic() + self.max_wait
        while True:
            batch = await client.messages.batches.retrieve(batch_id)
            if batch.processing_status == "ended":
                break
            if time.monotonic() >= deadline:  # the API expires a batch after 24 h; never poll without end
                raise TeacherRequestFailed(
                    "batch_timeout", f"batch {batch_id} had not ended after {self.max_wait:g} s of polling", 1
                )
            await asyncio.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
        async for item in await client.messages.batches.results(batch_id):
            self.results[item.custom_id] = {"batch": batch_id, "result": item.result.to_dict()}
        self._note({"batch": batch_id, "ended": time.time()})


@dataclass(frozen=True)
class BatchOptions:
    """How a teacher's requests are sent as Message Batches (``teacher.record --batch``): the state file of the
    batches submitted, the quiet seconds before a batch is sent, and the seconds between status polls."""

    state: Path
    wait: float = 2.0
    poll_interval: float = 5.0

    def wrap(self, teacher: AnthropicTeacher) -> AnthropicBatchTeacher:
        """``teacher``'s requests sent in batches."""
        return AnthropicBatchTeacher(teacher, self.state, wait=self.wait, poll_interval=self.poll_interval)


def haiku_teacher(value: str = "", *, batch: BatchOptions | None = None, **options: Any) -> ModelBackend:
    """The backend of the spec ``haiku[:MODEL]`` (its row of :data:`~interpreters.backends.BACKENDS`): an
    :class:`~interpreters.anthropic.AnthropicTeacher`, whose requests are sent as Message Batches (half price) when
    ``batch`` is given (``teacher.record --batch``)."""
    teacher = AnthropicTeacher.from_spec(value, **options)
    return teacher if batch is None else batch.wrap(teacher)
