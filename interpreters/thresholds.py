"""A GGUF's calibrated branch thresholds, and the file beside the GGUF that keeps them.

:class:`~interpreters.llamacpp.LlamaCppStudent` reads the file (``MODEL.calibration.json``, :func:`calibration_path`)
when it is there; :mod:`interpreters.calibration` fits the thresholds, running that student, and writes it. Both
import this module, so neither imports the other back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from teacher.errors import FineTrainingError

__all__ = ["Calibration", "CalibrationError", "Threshold", "calibration_path"]


class CalibrationError(ValueError, FineTrainingError):
    """A calibration file that cannot be read (the message names the file and the field)."""


@dataclass(frozen=True)
class Threshold:
    """Take ``option`` of a branch where its share of the mass is at least ``threshold``."""

    option: int
    threshold: float
    n: int = 0
    accuracy: float = 0.0
    accuracy_untuned: float = 0.0


@dataclass(frozen=True)
class Calibration:
    """The fitted thresholds of one model, by branch label."""

    thresholds: dict[str, Threshold] = field(default_factory=dict)

    def as_decoder_thresholds(self) -> dict[str, tuple[int, float]]:
        return {label: (t.option, t.threshold) for label, t in self.thresholds.items()}

    def save(self, path: Path) -> Path:
        data = {"thresholds": {label: vars(t) for label, t in sorted(self.thresholds.items())}}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CalibrationError(f"{path}: cannot be read as JSON: {error}") from None
        raw = data.get("thresholds") if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            raise CalibrationError(f"{path}: field 'thresholds' must be an object of labels")
        thresholds = {}
        for label, entry in raw.items():
            try:
                thresholds[label] = Threshold(int(entry["option"]), float(entry["threshold"]), int(entry.get("n", 0)),
                                              float(entry.get("accuracy", 0)), float(entry.get("accuracy_untuned", 0)))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise CalibrationError(f"{path}: field 'thresholds.{label}' needs a numeric option and threshold"
                                       ) from None
        return cls(thresholds)


def calibration_path(gguf: Path | str) -> Path:
    """Where a GGUF's calibration lives: ``MODEL.calibration.json`` beside ``MODEL.gguf``."""
    path = Path(gguf)
    return path.with_name(path.stem + ".calibration.json")
