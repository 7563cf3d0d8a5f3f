"""The CLI schemas shipped with the library (``tasks/cli_intent/schemas/*.yaml``) and their tasks."""

from __future__ import annotations

from pathlib import Path

from tasks.cli_intent.schema import CliSchema, load_schema
from tasks.cli_intent.task import CliIntentTask

__all__ = ["SCHEMAS_DIR", "cli_intent_tasks", "resolve_schema", "shipped_schemas"]

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


def shipped_schemas() -> dict[str, Path]:
    """The shipped schema files by name (the file stem)."""
    return {path.stem: path for path in sorted(SCHEMAS_DIR.glob("*.yaml"))}


def resolve_schema(name_or_path: str | Path) -> tuple[CliSchema, Path]:
    """A schema from a file path, or from the name of a shipped schema (``gh``)."""
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path) in shipped_schemas():
        path = shipped_schemas()[str(name_or_path)]
    return load_schema(path), path


def cli_intent_tasks() -> list[CliIntentTask]:
    """One task per shipped schema."""
    return [CliIntentTask(load_schema(path)) for path in shipped_schemas().values()]
