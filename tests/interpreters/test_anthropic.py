"""The Anthropic teacher with the real anthropic client against a local fake of the Messages API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from interpreters.anthropic import (
    AnthropicTeacher,
    Budget,
    BudgetExhausted,
    Price,
    TeacherRequestFailed,
    cost_of,
    min_cacheable_tokens,
)
from tasks.score_edge import EdgeType, ScoreEdgeInput, ScoreEdgeTask
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from teacher.handlers import interpret, perform
from teacher.model import request_for
from teacher.operations import Ask
from tests.fake_anthropic import DefaultResponder, FakeAnthropic, Faults, Hostile

KEY = "sk-ant-test-DO-NOT-LEAK-4242"
EDGE = ScoreEdgeInput(
    query="What breaks if I add a status?", source_file="shop/models.py", source_line=7, source_hover="class S(Enum)",
    target_file="shop/models.py", target_line=107, target_hover="match status:", edge_type=EdgeType.reference,
)
SELECT = SelectSymbolsInput(topic="order totals", symbol="order_total", candidates=Candidates(inputs=("Order",)))


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def teacher(server: FakeAnthropic, **options: object) -> AnthropicTeacher:
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=2.0)
    return AnthropicTeacher(client=client, seed=1, backoff_base=0.01, **options)  # type: ignore[arg-type]


async def test_requests_carry_guidance_tools_and_cache_control(fake: FakeAnthropic) -> None:
    model = teacher(fake)
    async with interpret(model):
        scored = await perform(Ask(ScoreEdgeTask(), EDGE))
        chosen = await perform(Ask(SelectSymbolsTask(), SELECT))
    assert 1 <= scored.relevance <= 5 and chosen.selected == []
    body = fake.message_requests()[0]["body"]
    assert body["model"] == "claude-haiku-4-5" and body["tool_choice"] == {"type": "auto"}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert ScoreEdgeTask.guidance in body["system"][0]["text"]
    assert body["tools"][-1]["name"] == "score_edge" and body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"] == [{"role": "user", "content": ScoreEdgeTask().render(EDGE)}]
    assert KEY not in str(body)


async def test_reply_keeps_the_raw_response_reasoning_and_cost(fake: FakeAnthropic) -> None:
    model = teacher(fake, thinking_tokens=1024)
    request = request_for(ScoreEdgeTask(), EDGE)
    first = await model.complete(request)
    second = await model.complete(request)
    assert first.raw["id"].startswith("msg_") and first.raw["stop_reason"] == "tool_use"
    kinds = [block["type"] for block in first.raw["content"]]
    assert kinds[0] == "thinking" and "tool_use" in kinds and first.raw["content"][0]["signature"]
    assert first.reasoning and first.calls[0].name == "score_edge"
    assert first.meta["request"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    usage_1, usage_2 = first.raw["usage"], second.raw["usage"]
    # the shipped prefix (tools and system, a few hundred tokens) is below Haiku 4.5's 4,096-token minimum
    assert usage_1["cache_creation_input_tokens"] == usage_2["cache_read_input_tokens"] == 0
    assert first.meta["cost_usd"] == pytest.approx(cost_of(usage_1, Price(1.0, 5.0, 1.25, 0.10)))
    assert model.budget.spent_usd == pytest.approx(first.meta["cost_usd"] + second.meta["cost_usd"])


@pytest.mark.parametrize(("model", "words", "cached"), [
    ("claude-haiku-4-5", 2500, False),  # about 3,100 tokens of prefix: under 4,096
    ("claude-haiku-4-5", 4000, True),  # about 4,600
    ("claude-3-5-haiku-latest", 2500, True),  # over 2,048
    ("claude-3-5-haiku-latest", 1200, False),  # about 1,600
])
async def test_the_fake_caches_only_from_the_models_minimum(
    fake: FakeAnthropic, model: str, words: int, cached: bool
) -> None:
    teacher_ = teacher(fake, model=model)
    request = dataclasses.replace(request_for(ScoreEdgeTask(), EDGE), guidance="word " * words)
    first, second = [(await teacher_.complete(request)).raw["usage"] for _ in range(2)]
    size = len(json.dumps(teacher_.request_params(request)["system"])) // 4
    assert (size >= min_cacheable_tokens(model)) == cached
    if cached:
        assert first["cache_creation_input_tokens"] > min_cacheable_tokens(model)
        assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
        assert second["cache_creation_input_tokens"] == 0
        assert cost_of(second, teacher_.price) < cost_of(first, teacher_.price)  # type: ignore[arg-type]
    else:
        assert first["cache_creation_input_tokens"] == second["cache_read_input_tokens"] == 0
        assert first["input_tokens"] == second["input_tokens"] > size


@pytest.mark.parametrize("kind", ["429", "529", "500", "malformed", "timeout"])
async def test_each_fault_is_retried_until_it_passes(kind: str) -> None:
    with FakeAnthropic(faults=Faults(rate=0.5, seed=3, kinds=(kind,), hang_seconds=1.0)) as server:
        model = teacher(server, timeout=0.3)
        model.client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=0.3)
        replies = [await model.complete(request_for(ScoreEdgeTask(), EDGE)) for _ in range(6)]
    assert all(r.calls for r in replies)
    retried = [reason for r in replies for reason in r.meta["retried"]]
    expected = {"429": "http_429", "529": "http_529", "500": "http_500", "malformed": "malformed_response"}
    assert retried and set(retried) == {expected.get(kind, "timeout")}
    assert len(server.faults_injected) == len(retried)


async def test_retry_after_is_honoured_and_attempts_are_bounded() -> None:
    with FakeAnthropic(faults=Faults(rate=1.0, kinds=("429",), retry_after=0.2)) as server:
        model = teacher(server, max_attempts=3)
        started = time.perf_counter()
        with pytest.raises(TeacherRequestFailed, match="http_429 after 3 attempt") as caught:
            await model.complete(request_for(ScoreEdgeTask(), EDGE))
        assert time.perf_counter() - started >= 0.4  # two waits of retry-after
    assert caught.value.reason == "http_429" and KEY not in str(caught.value)


async def test_the_budget_stops_new_requests(fake: FakeAnthropic) -> None:
    model = teacher(fake, budget=Budget(limit_usd=1e-9))
    await model.complete(request_for(ScoreEdgeTask(), EDGE))
    with pytest.raises(BudgetExhausted, match="budget"):
        await model.complete(request_for(ScoreEdgeTask(), EDGE))
    assert len(fake.message_requests()) == 1


def test_unknown_models_need_a_price() -> None:
    with pytest.raises(ValueError, match="no price known"):
        AnthropicTeacher(model="claude-unknown")
    assert AnthropicTeacher(model="claude-unknown", price=Price(1, 1, 1, 1)).price == Price(1, 1, 1, 1)


# ------------------------------------------------------------------------------------------------ hostile servers

HOSTILE_REASON = {
    "html": "malformed_response", "truncated": "malformed_response", "usage_string": "malformed_response",
    "usage_negative": "malformed_response", "usage_nan": "malformed_response", "nested": "malformed_response",
    "nested_error": "http_500", "retry_after_nan": "http_429", "retry_after_inf": "http_429",
    "retry_after_huge": "http_429", "drip": "timeout", "reset": "connection", "echo_key": "http_401",
    "unknown_model": "http_404",
}
NOT_RETRIED = {"echo_key", "unknown_model"}


def hostile_teacher(server: FakeAnthropic, **options: object) -> AnthropicTeacher:
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=0.5)
    settings: dict[str, object] = {"timeout": 0.5, "max_attempts": 3, "retry_after_max": 0.1, "turn_timeout": 5.0}
    return AnthropicTeacher(client=client, seed=1, backoff_base=0.01, **{**settings, **options})  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(HOSTILE_REASON))
async def test_a_hostile_server_fails_the_turn_with_a_one_line_reason_and_no_key(kind: str) -> None:
    with FakeAnthropic(hostile=Hostile((kind,), drip_interval=0.2)) as server:
        model = hostile_teacher(server)
        started = time.perf_counter()
        with pytest.raises(TeacherRequestFailed) as caught:
            await asyncio.wait_for(model.complete(request_for(ScoreEdgeTask(), EDGE)), 20)  # a hang fails the test
        elapsed = time.perf_counter() - started
        await model.aclose()
    message = str(caught.value)
    assert caught.value.reason == HOSTILE_REASON[kind], message
    assert "\n" not in message and KEY not in message and len(message) < 400
    assert elapsed < 3.0  # 3 attempts of at most 0.5 s each, waits of at most 0.1 s
    assert server.hostile_served == (1 if kind in NOT_RETRIED else 3)
    assert model.budget.spent_usd == 0.0


@pytest.mark.parametrize("kind", sorted(set(HOSTILE_REASON) - NOT_RETRIED))
async def test_one_hostile_answer_is_retried_and_the_turn_succeeds(kind: str) -> None:
    with FakeAnthropic(hostile=Hostile((kind,), times=1, drip_interval=0.2)) as server:
        model = hostile_teacher(server)
        reply = await asyncio.wait_for(model.complete(request_for(ScoreEdgeTask(), EDGE)), 20)
        await model.aclose()
    assert reply.calls[0].name == "score_edge" and reply.meta["retried"] == [HOSTILE_REASON[kind]]
    assert reply.meta["cost_usd"] > 0 and model.budget.spent_usd == reply.meta["cost_usd"]


async def test_the_timeout_bounds_the_whole_request_not_each_read() -> None:
    with FakeAnthropic(hostile=Hostile(("drip",), drip_interval=0.4)) as server:  # a byte every 0.4 s
        model = hostile_teacher(server, timeout=1.0, max_attempts=1)
        model.client = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=1.0)
        started = time.perf_counter()
        with pytest.raises(TeacherRequestFailed, match="timeout"):
            await asyncio.wait_for(model.complete(request_for(ScoreEdgeTask(), EDGE)), 30)
        await model.aclose()
    assert time.perf_counter() - started < 1.8


@pytest.mark.parametrize("value", ["inf", "1000000000"])
async def test_a_retry_after_beyond_the_turn_ends_the_turn_at_once(value: str) -> None:
    kind = "retry_after_inf" if value == "inf" else "retry_after_huge"
    with FakeAnthropic(hostile=Hostile((kind,))) as server:
        model = hostile_teacher(server, retry_after_max=60.0, turn_timeout=2.0)
        started = time.perf_counter()
        with pytest.raises(TeacherRequestFailed, match="turn_timeout") as caught:
            await asyncio.wait_for(model.complete(request_for(ScoreEdgeTask(), EDGE)), 30)
        await model.aclose()
    assert time.perf_counter() - started < 1.0 and caught.value.reason == "turn_timeout"


def test_costs_are_never_negative_or_nan_and_the_budget_is_a_real_number() -> None:
    price = Price(1.0, 5.0, 1.25, 0.10)
    for usage in ({"input_tokens": -5}, {"output_tokens": float("nan")}, {"input_tokens": "10"}, "lots", None):
        with pytest.raises(ValueError, match="usage"):
            cost_of(usage, price)  # type: ignore[arg-type]
    assert cost_of({"input_tokens": 1_000_000}, price) == 1.0
    for limit in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="finite"):
            Budget(limit_usd=limit)
    with pytest.raises(ValueError, match="finite"):
        Budget(limit_usd=1.0).add(float("nan"))


async def test_a_batch_result_with_wrong_usage_types_fails_the_turn(tmp_path: Path) -> None:
    from interpreters.anthropic_batch import AnthropicBatchTeacher

    def bad_usage(body: dict[str, Any]) -> dict[str, Any]:
        return {**DefaultResponder()(body), "usage": {"input_tokens": -1000}}

    with FakeAnthropic(responder=bad_usage) as server:
        batch = AnthropicBatchTeacher(teacher(server), tmp_path / "batches.jsonl", wait=0.01, poll_interval=0.01)
        with pytest.raises(TeacherRequestFailed, match=r"usage\.input_tokens is -1000"):
            await batch.complete(request_for(ScoreEdgeTask(), EDGE))
        await batch.teacher.aclose()
    assert batch.teacher.budget.spent_usd == 0.0


def test_the_cacheable_prefix_is_the_same_for_every_input_of_a_task(fake: FakeAnthropic) -> None:
    other = SelectSymbolsInput(topic="payments", symbol="checkout", candidates=Candidates(inputs=("Cart", "Card")))
    model = teacher(fake)
    first, second = (model.request_params(request_for(SelectSymbolsTask(), i)) for i in (SELECT, other))
    assert (first["tools"], first["system"]) == (second["tools"], second["system"])
    assert "enum" not in json.dumps(first["tools"])  # the candidates are in the user text only
    assert "Cart, Card" in second["messages"][0]["content"]
    # the task still refuses a name that is not a candidate
    assert SelectSymbolsTask().tool(other).choices == {"selected": ("Cart", "Card")}


async def test_a_batch_that_never_ends_fails_its_turns_after_the_upper_wait(tmp_path: Path) -> None:
    from interpreters.anthropic_batch import AnthropicBatchTeacher

    with FakeAnthropic(batch_polls_before_done=10**9) as server:
        batch = AnthropicBatchTeacher(
            teacher(server), tmp_path / "batches.jsonl", wait=0.01, poll_interval=0.01, max_wait=0.3
        )
        started = time.monotonic()
        with pytest.raises(TeacherRequestFailed, match=r"had not ended after 0\.3 s"):
            await batch.complete(request_for(ScoreEdgeTask(), EDGE))
        assert time.monotonic() - started < 30
        await batch.teacher.aclose()
    with pytest.raises(ValueError, match="max_wait"):
        AnthropicBatchTeacher(teacher(server), tmp_path / "b.jsonl", max_wait=float("inf"))
