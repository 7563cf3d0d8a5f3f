"""The teacher: Claude (a current Haiku by default) answering ``Ask`` through the Anthropic Messages API.

The system prompt is a base prompt plus the task's guidance; the tools come from the task; tool choice is left
to the model so that it explains its reasoning before calling the tool (or extended thinking, with
``thinking_tokens``). Tools and system carry ``cache_control`` for prompt caching; tools are sent without their
per-input choices (those are in the user text, and the task refuses an answer outside them), so this prefix is
static per task. It is cached only from the model's minimum cacheable length (``MIN_CACHEABLE_TOKENS``).
Requests run under a concurrency limit and are retried with exponential backoff and jitter on 429, 529, 5xx,
timeouts, connection errors and malformed bodies (not JSON, nested too deeply, wrong types in ``content`` or
``usage``), honouring ``retry-after`` up to ``retry_after_max``. ``timeout`` bounds each attempt as a whole (a
body dripped byte by byte cannot stretch it) and ``turn_timeout`` bounds the whole turn, every attempt and wait
included: a turn never hangs, it answers or fails with a one-line reason. Cost is computed from each response's
usage with a price table the caller can override; a :class:`Budget` stops new requests once it is spent.

The key and endpoint come from the environment as the SDK reads them (``ANTHROPIC_API_KEY``,
``ANTHROPIC_BASE_URL``); the key is never part of a request body or a record, and error messages pass through
:func:`teacher.redact.redact` (a server may echo the key back).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from converters.functiongemma import ToolCall
from teacher.errors import FineTrainingError
from teacher.model import ModelBackend, ModelReply, ModelRequest
from teacher.operations import OperationFailed
from teacher.redact import redact

__all__ = [
    "BASE_PROMPT",
    "DEFAULT_MODEL",
    "MIN_CACHEABLE_TOKENS",
    "PRICES",
    "AnthropicTeacher",
    "Budget",
    "BudgetExhausted",
    "Price",
    "TeacherRequestFailed",
    "anthropic_history",
    "cost_of",
    "min_cacheable_tokens",
    "reply_from_response",
    "response_problem",
    "usage_problem",
]

DEFAULT_MODEL = "claude-haiku-4-5"
BASE_PROMPT = (
    "You are a senior software engineer helping a code-exploration tool understand a code base. You are given "
    "one concrete task about real code. First explain your reasoning in two or three sentences, then call the "
    "task's tool exactly once with your answer. Use only names that appear in the task."
)
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
MAX_RESPONSE_DEPTH = 64  # a real message nests a few levels; anything deeper is refused before it is recorded


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


PRICES: dict[str, Price] = {
    "claude-haiku-4-5": Price(input=1.00, output=5.00, cache_write=1.25, cache_read=0.10),
    "claude-3-5-haiku-latest": Price(input=0.80, output=4.00, cache_write=1.00, cache_read=0.08),
}
BATCH_DISCOUNT = 0.5

#: Anthropic's minimum cacheable prompt length per model family (tokens up to a ``cache_control`` breakpoint;
#: anything shorter is neither written to nor read from the cache, and is billed as plain input). From
#: Anthropic's prompt-caching documentation: 4,096 for Claude Haiku 4.5, 2,048 for Claude Haiku 3.5 and 3.
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-haiku-4-5": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
#: the documented minimum of the other current models (Sonnet 4.x, Opus 4.1 and earlier)
DEFAULT_MIN_CACHEABLE_TOKENS = 1024


def min_cacheable_tokens(model: str) -> int:
    """The minimum cacheable prompt length (tokens) of ``model``, matched on its family prefix."""
    for family, tokens in MIN_CACHEABLE_TOKENS.items():
        if model.startswith(family):
            return tokens
    return DEFAULT_MIN_CACHEABLE_TOKENS


def usage_problem(usage: Any) -> str | None:
    """Why a response's ``usage`` cannot be priced (not an object, a count that is not a non-negative integer)."""
    if not isinstance(usage, dict):
        return f"usage is {type(usage).__name__}, not an object"
    for name in USAGE_FIELDS:
        value = usage.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"usage.{name} is {value!r}, not a non-negative integer"
    return None


def cost_of(usage: dict[str, Any], price: Price, *, batch: bool = False) -> float:
    """The USD cost of one response's usage (input, output, cache write, cache read); never negative.

    Raises ValueError when :func:`usage_problem` finds the usage malformed.
    """
    problem = usage_problem(usage)
    if problem:
        raise ValueError(problem)
    dollars = (
        (usage.get("input_tokens") or 0) * price.input
        + (usage.get("output_tokens") or 0) * price.output
        + (usage.get("cache_creation_input_tokens") or 0) * price.cache_write
        + (usage.get("cache_read_input_tokens") or 0) * price.cache_read
    ) / 1_000_000
    return dollars * (BATCH_DISCOUNT if batch else 1.0)


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def response_problem(body: Any) -> str | None:
    """Why a Messages API response body cannot be used (shape, block types, nesting, usage); None when it can."""
    if not isinstance(body, dict):
        return f"the response is {type(body).__name__}, not an object"
    content = body.get("content")
    if not isinstance(content, list):
        return "the response has no content list"
    if _depth_exceeds(body, MAX_RESPONSE_DEPTH):
        return f"the response nests deeper than {MAX_RESPONSE_DEPTH} levels"
    for index, block in enumerate(content):
        if not isinstance(block, dict):
            return f"content[{index}] is {type(block).__name__}, not an object"
        if block.get("type") == "tool_use" and not isinstance(block.get("input"), dict | None):
            return f"content[{index}].input is {type(block.get('input')).__name__}, not an object"
        for name in ("text", "thinking", "name"):
            if name in block and not isinstance(block[name], str | None):
                return f"content[{index}].{name} is {type(block[name]).__name__}, not a string"
    return usage_problem(body.get("usage"))


class BudgetExhausted(OperationFailed):
    """The USD budget is spent: no new request is sent (so recorders write no failed turn for it)."""

    sent = False


class TeacherRequestFailed(OperationFailed):
    """A request failed for good (not retryable, or out of attempts); ``reason`` says why."""

    def __init__(self, reason: str, message: str, attempts: int) -> None:
        super().__init__(redact(f"{reason} after {attempts} attempt(s): {message}"))
        self.reason = reason
        self.attempts = attempts


@dataclass
class Budget:
    """A USD limit shared by every request of a run; ``None`` means no limit."""

    limit_usd: float | None = None
    spent_usd: float = 0.0

    def __post_init__(self) -> None:
        if self.limit_usd is not None and not (math.isfinite(self.limit_usd) and self.limit_usd >= 0):
            raise ValueError(f"a budget must be a finite number of dollars >= 0, not {self.limit_usd!r}")

    @property
    def spent(self) -> bool:
        """Whether nothing more may be spent."""
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd

    def check(self) -> None:
        """Raise :class:`BudgetExhausted` when nothing more may be spent."""
        if self.spent:
            raise BudgetExhausted(f"the budget of ${self.limit_usd:.2f} is spent (${self.spent_usd:.4f})")

    def add(self, usd: float) -> None:
        """Count a response's cost (a cost that is negative or not finite is refused: it would undo the limit)."""
        if not (math.isfinite(usd) and usd >= 0):
            raise ValueError(f"a cost must be a finite number of dollars >= 0, not {usd!r}")
        self.spent_usd += usd


def anthropic_history(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-style messages (assistant tool calls, tool results) as Messages API turns (tool_use, tool_result)."""
    turns: list[dict[str, Any]] = []
    for message in history:
        role = message.get("role")
        if role == "assistant":
            text = message.get("content")
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            for call in message.get("tool_calls") or []:
                arguments = call["function"].get("arguments") or {}
                blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                               "input": json.loads(arguments) if isinstance(arguments, str) else dict(arguments)})
            turns.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        else:
            turns.append({"role": "user", "content": str(message.get("content") or "")})
    return turns


def reply_from_response(body: dict[str, Any], **meta: Any) -> ModelReply:
    """Calls and reasoning (text and thinking blocks) from a Messages API response body."""
    calls, reasoning = [], []
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "tool_use":
            calls.append(ToolCall(str(block.get("name")), dict(block.get("input") or {})))
        elif kind == "text" and block.get("text"):
            reasoning.append(str(block["text"]))
        elif kind == "thinking" and block.get("thinking"):
            reasoning.append(str(block["thinking"]))
    return ModelReply(calls=tuple(calls), reasoning="\n\n".join(reasoning), raw=body, meta=dict(meta))


class _Retry(FineTrainingError):
    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class AnthropicTeacher(ModelBackend):
    """Answers tasks with Claude through the official async client."""

    model: str = DEFAULT_MODEL
    max_tokens: int = 1024
    concurrency: int = 8
    budget: Budget = field(default_factory=Budget)
    price: Price | None = None
    thinking_tokens: int | None = None
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    turn_timeout: float = 600.0
    client: Any = None
    seed: int | None = None

    @classmethod
    def from_spec(cls, value: str = "", **options: Any) -> AnthropicTeacher:
        """The backend of the spec ``haiku`` or ``haiku:MODEL`` (its row of :data:`~interpreters.backends.BACKENDS`):
        the default model when none is named."""
        return cls(model=value or DEFAULT_MODEL, **options)

    def __post_init__(self) -> None:
        for name in ("timeout", "turn_timeout", "retry_after_max"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
        if self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError(f"concurrency and max_attempts must be >= 1 (got {self.concurrency}, {self.max_attempts})")
        if self.thinking_tokens is not None and self.thinking_tokens < 1024:
            raise ValueError(f"thinking_tokens must be >= 1024 (the API's minimum), not {self.thinking_tokens}")
        if self.price is None:
            if self.model not in PRICES:
                raise ValueError(f"no price known for model {self.model!r}: pass price=Price(...)")
            self.price = PRICES[self.model]
        self._limit = asyncio.Semaphore(self.concurrency)
        self._random = random.Random(self.seed)

    def api_client(self) -> Any:
        """The async Anthropic client (made on first use from the environment: key, base URL)."""
        if self.client is None:
            import anthropic

            self.client = anthropic.AsyncAnthropic(max_retries=0, timeout=self.timeout)
        return self.client

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The Messages API request for one task request, exactly as sent (no credentials in it)."""
        system = (request.system or BASE_PROMPT) + ("\n\n" + request.guidance if request.guidance else "")
        # the cacheable prefix (tools, then system) is the same for every input of a task: per-input choices (such
        # as select_symbols' candidate names) stay out of it, in the user text; the task still checks the answer
        tools = [tool.unrestricted().anthropic() for tool in request.tools]
        if tools:
            tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral"}}
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": request.user}, *anthropic_history(request.history)],
            "tools": tools,
            "tool_choice": {"type": "auto"},
        }
        if self.thinking_tokens:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_tokens}
            params["max_tokens"] = max(self.max_tokens, self.thinking_tokens + 512)
        return params

    async def complete(self, request: ModelRequest) -> ModelReply:
        params = self.request_params(request)
        async with self._limit:
            self.budget.check()
            body, attempts, retried = await self._send(params)
        assert self.price is not None
        cost = cost_of(body.get("usage") or {}, self.price)  # checked by response_problem in _once
        self.budget.add(cost)
        return reply_from_response(body, request=params, cost_usd=cost, attempts=attempts, retried=retried)

    async def aclose(self) -> None:
        """Close the client's connections (call before the event loop ends)."""
        if self.client is not None:
            await self.client.close()

    async def _send(self, params: dict[str, Any]) -> tuple[dict[str, Any], int, list[str]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.turn_timeout
        retried: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            limit = min(self.timeout, deadline - loop.time())
            try:
                return await asyncio.wait_for(self._once(params), limit), attempt, retried
            except TimeoutError:  # the whole attempt, not each read: a dripped body cannot stretch it
                retry = _Retry("timeout", f"no complete answer within {limit:.3g} s")
            except _Retry as caught:
                retry = caught
            retried.append(retry.reason)
            if attempt == self.max_attempts:
                raise TeacherRequestFailed(retry.reason, str(retry), attempt) from None
            delay = retry.retry_after
            if delay is None:
                delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                delay *= 0.5 + self._random.random() / 2  # jitter
            delay = min(delay, self.retry_after_max)
            left = deadline - loop.time()
            if delay >= left:
                turn = f"the turn's {self.turn_timeout:g} s"
                if left <= 0:
                    why = f"{turn} are spent"
                else:
                    why = f"a wait of {delay:.3g} s would pass the {left:.3g} s left of {turn}"
                raise TeacherRequestFailed("turn_timeout", f"{why} (last: {retry.reason}: {retry})", attempt) from None
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _once(self, params: dict[str, Any]) -> dict[str, Any]:
        import anthropic

        try:
            raw = await self.api_client().messages.with_raw_response.create(**params)
            text = raw.http_response.text
        except anthropic.APIStatusError as error:
            status = error.status_code
            message = f"HTTP {status}: {_error_message(error)}"
            if status in RETRYABLE_STATUS or status >= 500:
                raise _Retry(f"http_{status}", message, _retry_after(error)) from None
            raise TeacherRequestFailed(f"http_{status}", message, 1) from None
        except anthropic.APITimeoutError:
            raise _Retry("timeout", f"no answer within {self.timeout:g} s") from None
        except anthropic.APIConnectionError as error:
            raise _Retry("connection", f"connection failed: {type(error).__name__}") from None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            raise _Retry("malformed_response", f"the response body is not JSON: {error}") from None
        except RecursionError:
            raise _Retry("malformed_response", "the response body is nested too deeply to read") from None
        problem = response_problem(body)
        if problem:
            raise _Retry("malformed_response", problem)
        return cast(dict[str, Any], body)


def _retry_after(error: Any) -> float | None:
    """The server's ``retry-after`` in seconds; None when absent or not a number (NaN, a date): back off instead.

    An infinite or huge value is returned as is: the caller caps it."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                seconds = float(value) * scale
            except ValueError:
                return None
            return None if math.isnan(seconds) else max(0.0, seconds)
    return None


def _error_message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return redact(f"{inner.get('type', 'error')}: {inner['message']}")[:300]
    return type(error).__name__
