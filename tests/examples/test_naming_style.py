"""The one-file example task, end to end: its heuristic answers through the offline backend, its recordings
convert once it is registered, the split groups by its own key, and its metrics hook scores its examples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from converters.functiongemma import ToolCall
from converters.rebuild import Options, rebuild
from examples.naming_style import NamingInput, NamingStyleTask
from interpreters.heuristic import HeuristicModel
from interpreters.recording import Recording, SessionLog
from tasks.registry import TASKS, register_task
from teacher.model import request_for

TASK = NamingStyleTask()
#: Three words in many spellings: each word set is one group, whatever the letter case.
NAMES = {
    "parse url": ["parse_url", "parseUrl", "ParseUrl", "PARSE_URL", "_parse_url"],
    "order total": ["order_total", "orderTotal", "OrderTotal", "ORDER_TOTAL"],
    "send mail": ["send_mail", "sendMail", "SendMail", "SEND_MAIL"],
    "load config": ["load_config", "loadConfig", "LoadConfig"],
    "user name": ["user_name", "userName", "UserName", "USER_NAME"],
    "retry count": ["retry_count", "retryCount", "RetryCount"],
}


@pytest.fixture
def registered() -> Iterator[None]:
    """The task registered for the test's length only."""
    register_task(TASK)
    try:
        yield
    finally:
        del TASKS[TASK.name]


def record(path: Path, identifiers: list[str]) -> None:
    """A session log of the heuristic backend naming each identifier's style, written through Recording."""
    log = SessionLog(path, session_id=path.stem)
    backend = Recording(HeuristicModel(), log)

    async def ask_all() -> None:
        for identifier in identifiers:
            await backend.complete(request_for(TASK, NamingInput(identifier=identifier)))

    try:
        asyncio.run(ask_all())
    finally:
        log.close()


def test_split_keys_join_the_spellings_of_one_name() -> None:
    keys = {TASK.split_keys(NamingInput(identifier=name))[0] for name in NAMES["parse url"]}
    assert len(keys) == 1
    assert TASK.split_keys(NamingInput(identifier="parse_url")) != TASK.split_keys(NamingInput(identifier="send_mail"))


def test_the_split_groups_by_the_tasks_key(tmp_path: Path, registered: None) -> None:
    record(tmp_path / "rec" / "names.jsonl", [n for spellings in NAMES.values() for n in spellings])
    out = tmp_path / "data"
    stats = rebuild([tmp_path / "rec"], Options(out=out, format="messages", split=0.5, seed=3, with_inputs=True))
    summary = json.loads((out / "stats.json").read_text())
    assert stats.groups == summary["groups"] == len(NAMES)  # one group per word set, not per spelling
    side: dict[str, str] = {}
    for split in ("train", "eval"):
        for line in (out / f"{split}.jsonl").read_text().splitlines():
            identifier = json.loads(json.loads(line)["input"])["identifier"]
            words = next(w for w, spellings in NAMES.items() if identifier in spellings)
            assert side.setdefault(words, split) == split, f"{words!r} straddles the split"
    assert set(side.values()) == {"train", "eval"}  # the seed puts groups on both sides: the test can fail
    assert summary["examples"]["naming_style"]["train"] + summary["examples"]["naming_style"]["eval"] == sum(
        len(s) for s in NAMES.values()
    )


def test_its_metrics_score_its_examples_through_the_hook() -> None:
    def call(style: str) -> list[ToolCall]:
        return [ToolCall("report_style", {"style": style, "confidence": 0.9})]

    expected = [call("snake_case"), call("camelCase"), call("PascalCase"), call("UPPER_CASE")]
    predicted = [call("snake_case"), call("snake_case"), None, call("UPPER_CASE")]
    metrics = TASK.metrics(expected, predicted)
    assert metrics["examples"] == 4
    assert metrics["style_accuracy"] == 0.5
    assert metrics["confusion"]["camelCase"] == {"snake_case": 1}
    assert metrics["confusion"]["PascalCase"] == {"invalid": 1}
    # the hook the library calls is the task's own, found by name like any task's
    assert type(TASK).metrics is not type(TASKS["score_edge"]).metrics
    assert TASKS["score_edge"].metrics(expected, predicted) == {}
