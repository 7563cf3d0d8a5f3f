"""Training data as the model reads it: the examples of a dataset file, checked line by line.

A dataset is a directory with ``train.jsonl`` and ``eval.jsonl`` (what ``converters.rebuild`` and the task
generators write) or a single JSONL file. A line is a ``messages`` conversation (``{"messages", "tools"}``,
rendered here with the chosen codec profile, :func:`prompt_completion`), a ``prompt``/``completion`` pair, or a
FunctionGemma ``text`` (split before the last model turn); a ``text`` or ``prompt`` may start with ``<bos>`` or not
(the rebuilt data does not; an :class:`Example`'s prompt always does). ``tools`` and ``input`` may be JSON strings
(as written, so that ``datasets`` loads them) or JSON values. Optional ``task`` and ``input`` keys name the task and
its typed input, which evaluation uses to check answers against the task's schema and to run the heuristic
baseline.

It stands on the codec alone, so training (``finetune``), the rebuild that writes the lines and a backend's own
command (the calibration of the embedded student) read them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from converters.functiongemma import BOS, START_TURN, FunctionGemmaFormatError, Profile, render_prompt
from converters.schema import nested_value
from teacher.errors import FineTrainingError

__all__ = ["DatasetError", "Example", "dataset_file", "load_examples", "prompt_completion"]

_MODEL_TURN = f"{START_TURN}model\n"


class DatasetError(ValueError, FineTrainingError):
    """A dataset line that cannot be trained on; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Example:
    """One training example as the model sees it, and where it came from."""

    prompt: str
    completion: str
    where: str
    task: str | None = None
    input: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    #: a ``messages`` line's conversation before the answer (what a backend is asked); None for text lines
    messages: list[dict[str, Any]] | None = None


def prompt_completion(
    messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], profile: Profile
) -> tuple[str, str]:
    """A conversation as the text the model reads (everything before the last message) and what it writes."""
    full = render_prompt(messages, tools, profile=profile, add_generation_prompt=False)
    prompt = render_prompt(messages[:-1], tools, profile=profile)
    if not full.startswith(prompt):
        raise AssertionError("the prompt is not a prefix of the conversation")  # the codec guarantees it
    return prompt, full[len(prompt) :]


def dataset_file(data: Path, split: str) -> Path:
    """The JSONL file of a split: ``data/<split>.jsonl`` for a directory, ``data`` itself for a file."""
    path = data / f"{split}.jsonl" if data.is_dir() else data
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    return path


def _parse(record: Any, where: str, profile: Profile) -> Example:
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: a line must be a JSON object")
    task = record.get("task")
    try:
        input, tools = nested_value(record.get("input")), nested_value(record.get("tools")) or []
    except ValueError as error:
        raise DatasetError(f"{where}: field 'tools' or 'input' is a string but not JSON ({error})") from None
    if task is not None and not isinstance(task, str):
        raise DatasetError(f"{where}: field 'task' must be a string")
    if input is not None and not isinstance(input, dict):
        raise DatasetError(f"{where}: field 'input' must be an object")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or len(messages) < 2:
            raise DatasetError(f"{where}: field 'messages' must be a list of at least two messages")
        if not isinstance(messages[-1], dict) or messages[-1].get("role") != "assistant":
            raise DatasetError(f"{where}: field 'messages': the last message must be the assistant's answer")
        if not isinstance(tools, list):
            raise DatasetError(f"{where}: field 'tools' must be a list")
        try:
            prompt, completion = prompt_completion(messages, tools, profile)
        except (FunctionGemmaFormatError, KeyError, TypeError) as error:
            raise DatasetError(f"{where}: field 'messages': {error}") from None
    elif "prompt" in record or "completion" in record:
        for name in ("prompt", "completion"):
            if not isinstance(record.get(name), str) or not record[name]:
                raise DatasetError(f"{where}: field '{name}' is missing or not a non-empty string")
        prompt, completion = record["prompt"], record["completion"]
    elif "text" in record:
        text = record["text"]
        if not isinstance(text, str) or _MODEL_TURN not in text:
            raise DatasetError(f"{where}: field 'text' must be FunctionGemma text with a model turn")
        cut = text.rindex(_MODEL_TURN) + len(_MODEL_TURN)
        prompt, completion = text[:cut], text[cut:]
    else:
        raise DatasetError(f"{where}: no 'messages', 'prompt'/'completion' or 'text' field")
    if not completion.strip():
        raise DatasetError(f"{where}: the completion is empty")
    if not prompt.startswith(BOS):
        prompt = BOS + prompt
    asked = record["messages"][:-1] if "messages" in record else None
    return Example(prompt, completion, where, task, input, tools if isinstance(tools, list) else [], asked)


def load_examples(path: Path, profile: Profile = "hf") -> list[Example]:
    """Every example of a JSONL file; the first bad line raises :class:`DatasetError` naming file:line and field."""
    examples = []
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise DatasetError(f"{where}: not valid JSON ({error})") from None
            examples.append(_parse(record, where, profile))
    if not examples:
        raise DatasetError(f"{path}: no examples")
    return examples
