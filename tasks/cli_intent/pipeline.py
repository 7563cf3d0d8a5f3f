"""The training pipeline's data stage for a CLI schema (``python -m finetune pipeline --schema``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["schema_data"]


def schema_data(schema: str, count: int, name: str, data_root: Path) -> str | None:
    """Generate the dataset of a CLI schema offline (:mod:`tasks.cli_intent.generate` with the template teacher,
    into ``DATA_ROOT/NAME``); None when it is written, else what went wrong."""
    from tasks.cli_intent.generate import main as generate

    argv = ["--schema", schema, "--count", str(count), "--name", name, "--out-root", str(data_root)]
    if generate(argv) != 0:
        return f"tasks.cli_intent.generate {' '.join(argv)} failed (see above)"
    return None
