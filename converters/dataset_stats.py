"""A dataset's ``stats.json``, typed: one model (:class:`DatasetStats`), one writer, one reader.

Two producers write it: ``converters.rebuild`` (the counts of a rebuild: lines read, turns, examples per task
and split, drops, negatives, lengths, the split's groups, what the data teaches) and ``tasks.cli_intent``'s
generator (the rebuild's counts of its examples plus its own: categories, negative kinds, diversity, the
generation's settings). A field only one producer fills is optional (None when absent), and a field this model
does not know is kept as it is, so a file written by another version still reads. :func:`write_stats` writes the
fields that were set, nothing else; :func:`read_stats` reads one and raises :class:`DatasetStatsError` naming the
file and the field of the first problem.

On the core floor: it imports nothing of the library but the errors, so converters/ and tasks/ both use it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from teacher.errors import FineTrainingError

__all__ = ["STATS_FILE", "DatasetStats", "DatasetStatsError", "read_stats", "stats_path", "write_stats"]

STATS_FILE = "stats.json"


class DatasetStatsError(ValueError, FineTrainingError):
    """A ``stats.json`` this code cannot read; the message names the file and the field."""


class DatasetStats(BaseModel):
    """What a dataset's ``stats.json`` holds (the JSON keys are the field names; ``schema`` is ``schema_path``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # written by converters.rebuild
    format: str | None = None
    profile: str | None = None
    reasoning: str | None = None
    split: float | None = None
    seed: int | None = None
    lines_read: int | None = None
    turns: int | None = None
    #: per task, its train and eval counts (a rebuild); the number of accepted examples (the CLI-intent generator)
    examples: dict[str, dict[str, int]] | int | None = None
    train: int | None = None
    eval: int | None = None
    dropped: dict[str, int] | None = None
    negatives: dict[str, int] | None = None
    topic_leaks: int | None = None
    groups: int | None = None
    grouped_by: str | None = None
    eval_repos: list[str] | None = None
    length_unit: str | None = None
    length_percentiles: dict[str, int] | None = None
    #: per task and split, the distribution of each decision field (converters.field_stats), and the skewed ones
    fields: dict[str, Any] | None = None
    skewed_fields: list[dict[str, Any]] | None = None
    # written by the CLI-intent generator (tasks.cli_intent.generation.write_dataset)
    schema_path: str | None = Field(None, alias="schema")
    teacher: str | None = None
    requested: int | None = None
    batches: int | None = None
    targets: dict[str, int] | None = None
    validation: dict[str, Any] | None = None
    task: str | None = None
    cli_name: str | None = None
    categories: dict[str, dict[str, int]] | None = None
    negative_kinds: dict[str, int] | None = None
    context_used: int | None = None
    retrieve: int | None = None
    retrieval_missed: int | None = None
    diversity: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The fields that were set (and any unknown ones read), as written to ``stats.json``."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data


def stats_path(data: Path) -> Path:
    """The ``stats.json`` of a dataset: in the folder given, or beside the JSONL file given."""
    return (data if data.is_dir() else data.parent) / STATS_FILE


def write_stats(folder: Path, stats: DatasetStats) -> Path:
    """Write ``folder/stats.json`` (the fields that were set, indented, keys in the model's order); returns it."""
    path = folder / STATS_FILE
    path.write_text(json.dumps(stats.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


_UNION_TAG = re.compile(r"(int|float|str|bool|none|(dict|list)\[.*\])")


def _field(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a field path (``examples.score_edge.train``), the union members' tags left out."""
    parts = [part for i, part in enumerate(loc)
             if not (i == 1 and isinstance(part, str) and _UNION_TAG.fullmatch(part))]
    return "".join(f"[{part}]" if isinstance(part, int) else (f".{part}" if i else str(part))
                   for i, part in enumerate(parts)) or "stats"


def read_stats(data: Path) -> DatasetStats | None:
    """The ``stats.json`` of a dataset (a folder, or a JSONL file in it: :func:`stats_path`), or None when there is
    none; :class:`DatasetStatsError` ``FILE: field 'NAME': problem`` when it cannot be read."""
    path = stats_path(data)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:  # also text that is not UTF-8
        raise DatasetStatsError(f"{path}: not JSON ({str(error)[:100]})") from None
    if not isinstance(raw, dict):
        raise DatasetStatsError(f"{path}: stats are a JSON object, not {type(raw).__name__}")
    try:
        return DatasetStats.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise DatasetStatsError(f"{path}: field '{_field(first['loc'])}': {first['msg']}{more}") from None
