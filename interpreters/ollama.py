"""The production student: a fine-tuned FunctionGemma served by Ollama, answering ``Ask`` through the official
``ollama`` async client.

The student is prompted exactly as it was trained (``teacher.task.student_conversation``): Google's trigger line
as the system message and the task's tools, or, for a task in the 2-turn minimal layout, the user text alone.
Ollama's ``functiongemma`` renderer and parser turn that into FunctionGemma text and back; the answer is read
from ``message.tool_calls[0].function.arguments`` and validated by the task. An invalid answer either raises
(``on_invalid="raise"``) or, for tasks that define one, takes the task's fallback (``on_invalid="fallback"``),
whose result says so. The host is ``host=`` or else ``OLLAMA_HOST``, as Ollama's own tools read it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from converters.functiongemma import ToolCall
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.operations import Ask, OperationFailed
from teacher.task import HasFallback, TaskOutputError, student_conversation

R = TypeVar("R")

__all__ = ["DEFAULT_OLLAMA_MODEL", "OllamaStudent", "StudentUnavailable"]


#: the Ollama model a student is served as, unless a command says otherwise
DEFAULT_OLLAMA_MODEL = "functiongemma-student"


class StudentUnavailable(OperationFailed):
    """The Ollama server is down or lacks the model; the message says what to run."""

    fatal = True  # no later request can do better: callers that skip failed lookups should stop


@dataclass
class OllamaStudent(ModelBackend):
    """A model backend for a FunctionGemma student served by Ollama."""

    model: str = DEFAULT_OLLAMA_MODEL
    host: str | None = None
    timeout: float = 30.0
    retries: int = 2
    on_invalid: Literal["raise", "fallback"] = "raise"
    stream: bool = False
    client: Any = None

    def __post_init__(self) -> None:
        self.outcomes: dict[str, int] = {}

    def _client(self) -> Any:
        if self.client is None:
            import ollama

            self.client = ollama.AsyncClient(host=self.host, timeout=self.timeout)
        return self.client

    def chat_request(self, request: ModelRequest) -> dict[str, Any]:
        """The ``chat`` arguments for a task request: the student's own prompt and tools."""
        messages, tools = student_conversation(
            request.user, request.tools, request.declare_tools, system=request.system, history=request.history
        )
        return {
            "model": self.model,
            "messages": [_ollama_message(m, messages) for m in messages],
            "tools": tools,
            "options": {"temperature": 0},
        }

    async def complete(self, request: ModelRequest) -> ModelReply:
        import ollama

        params = self.chat_request(request)
        started = time.perf_counter()
        for attempt in range(1, self.retries + 2):
            try:
                message, raw = await self._chat(params)
                break
            except ollama.ResponseError as error:
                if error.status_code == 404 or "not found" in str(error.error).lower():
                    raise StudentUnavailable(
                        f"Ollama has no model {self.model!r}: create it with `ollama create {self.model} -f "
                        "Modelfile` (python -m finetune writes the Modelfile)"
                    ) from None
                if attempt > self.retries or error.status_code < 500:
                    raise StudentUnavailable(f"Ollama answered HTTP {error.status_code}: {error.error}") from None
            except (ConnectionError, OSError) as error:
                if attempt > self.retries:
                    where = self.host or "OLLAMA_HOST or http://127.0.0.1:11434"
                    raise StudentUnavailable(
                        f"Ollama is not reachable at {where}: start it with `ollama serve` ({type(error).__name__})"
                    ) from None
            await asyncio.sleep(0.2 * attempt)
        calls = tuple(
            ToolCall(str(c["function"]["name"]), dict(c["function"].get("arguments") or {}))
            for c in message.get("tool_calls") or []
        )
        meta = {"request": params, "latency_s": time.perf_counter() - started, "attempts": attempt}
        return ModelReply(calls=calls, reasoning=str(message.get("content") or ""), raw=raw, meta=meta)

    async def _chat(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        client = self._client()
        if not self.stream:
            response = await client.chat(**params, stream=False)
            dumped = response.model_dump(mode="json", exclude_none=True)
            return dumped.get("message") or {}, dumped
        content: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        chunks: list[dict[str, Any]] = []
        async for chunk in await client.chat(**params, stream=True):
            dumped = chunk.model_dump(mode="json", exclude_none=True)
            chunks.append(dumped)
            part = dumped.get("message") or {}
            content.append(part.get("content") or "")
            tool_calls.extend(part.get("tool_calls") or [])
        return {"role": "assistant", "content": "".join(content), "tool_calls": tool_calls}, chunks

    def output_of(self, ask: Ask[Any, R], reply: ModelReply) -> R:
        """The task's output, or on an invalid answer (with ``on_invalid="fallback"``) the task's fallback."""
        try:
            result = super().output_of(ask, reply)
        except TaskOutputError:
            call = reply.calls[0] if reply.calls else None
            fallback: tuple[Any, str] | None = None
            if isinstance(ask.task, HasFallback) and self.on_invalid == "fallback":
                fallback = ask.task.fallback(call, ask.input)
            if fallback is None:
                self._count("invalid")
                raise
            repaired, how = fallback
            self._count(f"fallback:{how}")
            return cast(R, repaired)
        self._count("valid")
        return result

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def _ollama_message(message: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A message as Ollama's chat API takes it: call arguments as objects, a tool result with its tool's name."""
    if message.get("tool_calls"):
        calls = [
            {"function": {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}}
            if isinstance(c["function"].get("arguments"), str) else c
            for c in message["tool_calls"]
        ]
        return {**{k: v for k, v in message.items() if k != "tool_calls"}, "tool_calls": calls}
    if message.get("role") == "tool" and "tool_call_id" in message:
        names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or [] if "id" in c}
        name = names.get(message["tool_call_id"])
        return {"role": "tool", "content": message.get("content") or "", **({"tool_name": name} if name else {})}
    return message
