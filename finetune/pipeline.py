"""``finetune pipeline --name NAME``: every stage from data to evaluated GGUFs, in the named layout.

::

    training/data/NAME/            train.jsonl, eval.jsonl, stats.json (from --recordings, or put there)
    training/models/NAME/base/     the tiny model, when no --base is given
    training/models/NAME/sft/      OUT/model (adapter or full model), training.json, checkpoints/
    training/models/NAME/dpo/      the same, trained on the SFT model's mistakes
    training/models/NAME/merged/   the adapters folded into the base
    training/models/NAME/NAME-f16.gguf, NAME-q8_0.gguf, NAME-q4_k_m.gguf, Modelfile (ollama profile)
    training/models/NAME/eval/     eval.json, eval.md, eval.png, loss.png
    training/models/NAME/hub/      the publishable folder: README.md (model card), model files, GGUFs, eval/

Each stage is skipped when its output exists and is valid; ``--force`` redoes all stages (or the named ones).
An interrupted run continues where it stopped (training resumes from its last checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converters.examples import DatasetError, dataset_file, load_examples
from finetune.config import ConfigError, check_settings, read_yaml
from finetune.tiny import TinySpec
from finetune.train import finished
from teacher.cli_args import name_problem

__all__ = ["PIPELINE_DATA", "STAGES", "DataMaker", "PipelineSettings", "run_pipeline", "valid_gguf"]

logger = logging.getLogger(__name__)


def schema_data(schema: str, count: int, name: str, data_root: Path) -> str | None:
    """The pipeline's data stage for a CLI schema (``--schema``): generate its dataset offline
    (:mod:`tasks.cli_intent.generate` with the template teacher, into ``DATA_ROOT/NAME``); None when it is
    written, else what went wrong."""
    from tasks.cli_intent.generate import main as generate

    argv = ["--schema", schema, "--count", str(count), "--name", name, "--out-root", str(data_root)]
    if generate(argv) != 0:
        return f"tasks.cli_intent.generate {' '.join(argv)} failed (see above)"
    return None


#: A dataset the training pipeline generates rather than rebuilds from recordings: given the value of the
#: pipeline's option (a schema file or shipped name), the example count, the training's name and the data root,
#: it writes ``DATA_ROOT/NAME`` and returns None, or what went wrong.
DataMaker = Callable[[str, int, str, Path], str | None]
#: The pipeline's data makers by the option that selects them (``python -m finetune pipeline --schema gh``).
PIPELINE_DATA: dict[str, DataMaker] = {"schema": schema_data}

STAGES = ("data", "base", "sft", "dpo", "merge", "export", "quantize", "modelfile", "eval", "card")


@dataclass
class PipelineSettings:
    """What a named training needs; ``sft``/``dpo`` hold stage settings overriding the defaults."""

    name: str
    root: Path = Path("training")
    recordings: list[Path] = field(default_factory=list)
    base: Path | None = None
    #: the base model's Hub id, for the model card (``base_model``)
    base_model: str | None = None
    profile: str = "hf"
    quantizations: list[str] = field(default_factory=lambda: ["q8_0", "q4_k_m"])
    dpo: bool = True
    force: frozenset[str] = frozenset()
    eval_limit: int | None = None
    #: the size of the tiny model built when no ``base`` is given
    tiny: TinySpec = field(default_factory=TinySpec)
    sft_settings: dict[str, Any] = field(default_factory=dict)
    dpo_settings: dict[str, Any] = field(default_factory=dict)
    #: a function that writes the dataset into a directory (e.g. a task's generator); used instead of rebuild
    make_data: Callable[[Path], None] | None = None

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise ConfigError(f"the training's name {problem}")

    @property
    def data(self) -> Path:
        return self.root / "data" / self.name

    @property
    def models(self) -> Path:
        return self.root / "models" / self.name


#: settings for a tiny model trained from random weights: full fine-tuning at a high learning rate
TINY_SFT = {
    "lora": False,
    "learning_rate": 3e-3,
    "epochs": 8.0,
    "batch_size": 8,
    "warmup": 0.05,
    "scheduler": "cosine",
    "logging_steps": 10,
    "save_steps": 100,
}
TINY_DPO = {
    "lora": True,
    "lora_r": 8,
    "lora_alpha": 16,
    "learning_rate": 1e-3,
    "epochs": 1.0,
    "mine_examples": 100,
    "batch_size": 4,
}


def _data_problem(folder: Path, profile: str) -> str | None:
    """Why the dataset in ``folder`` cannot be trained and evaluated on (its first bad file or line), or None."""
    try:
        load_examples(dataset_file(folder, "train"), profile)  # type: ignore[arg-type]
        load_examples(dataset_file(folder, "eval"), profile)  # type: ignore[arg-type]
    except DatasetError as error:
        return str(error)
    return None


def _valid_data(folder: Path, profile: str) -> bool:
    return _data_problem(folder, profile) is None


def valid_gguf(path: Path) -> bool:
    """Whether ``path`` is a GGUF file (present, and starting with the GGUF magic), so a stage can be skipped."""
    if not path.is_file() or path.stat().st_size < 32:
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == b"GGUF"


def run_pipeline(settings: PipelineSettings) -> dict[str, Any]:
    """Run (or continue) every stage of the named training; returns the evaluation results. Each stage is logged
    as it starts or is skipped (INFO, ``[pipeline] ...``)."""
    from finetune.dpo import DpoSettings, run_dpo
    from finetune.evaluate import evaluate
    from finetune.export import export_gguf
    from finetune.merge import merge
    from finetune.modelfile import write_modelfile
    from finetune.quantize import quantize
    from finetune.recipe import sft_defaults
    from finetune.sft import SftSettings, run_sft
    from finetune.tiny import build_tiny_model

    started = time.perf_counter()
    models, data, name = settings.models, settings.data, settings.name
    models.mkdir(parents=True, exist_ok=True)

    def redo(stage: str, done: bool) -> bool:
        if done and stage.split()[0] not in settings.force:
            logger.info("[pipeline] %s: done already, skipped", stage)
            return False
        logger.info("[pipeline] %s: running (%.0f s so far)", stage, time.perf_counter() - started)
        return True

    # data
    if redo("data", _valid_data(data, settings.profile)):
        if settings.make_data is not None:
            settings.make_data(data)
        elif settings.recordings:
            from converters.rebuild import Options, empty_eval_problem, rebuild, stats_dict

            options = Options(
                out=data,
                format="messages",
                profile=settings.profile,  # type: ignore[arg-type]
                with_inputs=True,
            )
            problem = empty_eval_problem(stats_dict(rebuild(settings.recordings, options), options))
            if problem is not None:
                raise DatasetError(f"{data}: {problem}")
        else:
            raise DatasetError(f"{data}: no train.jsonl/eval.jsonl; pass --recordings (or a task's data)")
        problem = _data_problem(data, settings.profile)
        if problem is not None:
            raise DatasetError(f"the data stage wrote no usable train.jsonl and eval.jsonl: {problem}")

    # base
    tiny = settings.base is None
    base = settings.base or models / "base"
    if tiny and redo("base", (base / "config.json").is_file()):
        if base.exists():
            shutil.rmtree(base)
        texts = [e.prompt + e.completion for e in load_examples(data / "train.jsonl", settings.profile)]  # type: ignore[arg-type]
        build_tiny_model(base, settings.tiny, corpus=texts)

    def stage_settings(kind: type[Any], defaults: dict[str, Any], extra: dict[str, Any], src: Path, out: Path) -> Any:
        known = {f.name for f in dataclasses.fields(kind)}
        unknown = set(extra) - known
        if unknown:
            raise ConfigError(f"unknown {kind.__name__} setting(s): {', '.join(sorted(unknown))}")
        values = {
            **(defaults if tiny else sft_defaults(src, extra) if kind is SftSettings else {}),
            **extra,
            "base": str(src),
            "data": str(data),
            "out": str(out),
            "profile": settings.profile,
        }
        return kind(**{k: v for k, v in values.items() if k in known})

    sft_out = models / "sft"
    if redo("sft", finished(sft_out)):
        run_sft(stage_settings(SftSettings, TINY_SFT, settings.sft_settings, base, sft_out))
    policy = sft_out / "model"
    trainings = [sft_out]

    dpo_out = models / "dpo"
    if settings.dpo:
        if redo("dpo", finished(dpo_out)):
            run_dpo(stage_settings(DpoSettings, TINY_DPO, settings.dpo_settings, policy, dpo_out))
        if (dpo_out / "model").is_dir():
            policy = dpo_out / "model"
            trainings.append(dpo_out)

    merged = models / "merged"
    if redo("merge", (merged / "config.json").is_file() and (merged / "tokenizer.model").is_file()):
        merge(policy, merged)

    f16 = models / f"{name}-f16.gguf"
    if redo("export", valid_gguf(f16)):
        export_gguf(merged, f16, "f16", name=name)
    ggufs = [f16]
    for kind in settings.quantizations:
        target = models / f"{name}-{kind}.gguf"
        if redo(f"quantize {kind}", valid_gguf(target)):
            quantize(f16, target, kind)
        ggufs.append(target)

    if settings.profile == "ollama" and redo("modelfile", (models / "Modelfile").is_file()):
        write_modelfile(ggufs[-1], models / "Modelfile", settings.profile)

    eval_dir = models / "eval"
    if redo("eval", (eval_dir / "eval.json").is_file()):
        from finetune.evaluate import recorded_teachers

        teachers = recorded_teachers(settings.recordings) if settings.recordings else None
        results = evaluate(
            data, [merged, *ggufs], eval_dir, settings.profile, settings.eval_limit, trainings,
            base=base, teachers=teachers,
        )
    else:
        results = json.loads((eval_dir / "eval.json").read_text(encoding="utf-8"))
    hub = models / "hub"
    if redo("card", (hub / "README.md").is_file()):
        from finetune.card import build_model_folder

        build_model_folder(models, data, hub, name, settings.base_model)
    logger.info("[pipeline] finished in %.0f s; report: %s", time.perf_counter() - started, eval_dir / "eval.md")
    return results


def load_stage_config(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``sft:`` and ``dpo:`` sections of a pipeline YAML file, each key and value checked against its stage's
    settings (a :class:`ConfigError` names the file, the section and the key)."""
    from finetune.dpo import DpoSettings
    from finetune.sft import SftSettings

    if path is None:
        return {}, {}
    loaded = read_yaml(path)
    if not isinstance(loaded, dict) or set(loaded) - {"sft", "dpo"}:
        keys = list(loaded) if isinstance(loaded, dict) else type(loaded).__name__
        raise ConfigError(f"{path}: expected a mapping with 'sft' and/or 'dpo' sections, got {keys}")
    sections: list[dict[str, Any]] = []
    for key, kind in (("sft", SftSettings), ("dpo", DpoSettings)):
        section = loaded.get(key) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: key {key!r} must be a mapping of settings")
        sections.append(check_settings(kind, section, f"{path}: section {key!r}"))
    return sections[0], sections[1]
