"""Training data for ``finetune``: the examples of a dataset file, read and checked by :mod:`converters.examples`
(where a backend's command reads them too), and named here as training code always has."""

from __future__ import annotations

from converters.examples import DatasetError, Example, dataset_file, load_examples

__all__ = ["DatasetError", "Example", "dataset_file", "load_examples"]
