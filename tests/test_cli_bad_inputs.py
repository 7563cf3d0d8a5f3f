"""Every command line, run as a user runs it, with a table of bad inputs.

Each row starts the CLI as a subprocess (``python -m ...`` from the repository root) and checks: the exit code
(2: the command line itself is wrong; 1: a file it reads or writes is missing, unreadable, malformed or
unwritable; 0: bad lines skipped and counted), that the last line of stderr names the file, line and field (or
the flag) where there is one, and that no Python traceback is printed. No row trains, records or explores: every
bad input is refused before the heavy work. The module's last test prints how many rows were tried and held.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from interpreters.heuristic import HeuristicModel
from interpreters.recording import SCHEMA_VERSION
from tasks.cli_intent.shipped import shipped_schemas
from tasks.registry import TASKS
from tasks.score_edge.generate import edge_contexts
from tests.conftest import REPO
from tests.fake_ollama import FakeOllama

TIMEOUT_S = 30
#: set in every row's environment and written in one config file: no message may ever show it
SECRET = "sk-ant-api03-NEVER-PRINTED-0123456789"


@dataclass(frozen=True)
class Row:
    """One bad input: the module, its arguments (``{name}`` is a path of the fixture), what must come out.

    ``names`` must all be in the last line of stderr (``where="last"``) or anywhere in stderr (``"stderr"``)."""

    id: str
    module: str
    args: tuple[str, ...]
    code: int
    names: tuple[str, ...] = ()
    where: str = "last"


def row(id: str, module: str, args: str | list[str], code: int, *names: str, where: str = "last") -> Row:
    return Row(id, module, tuple(args.split() if isinstance(args, str) else args), code, names, where)


RB, FT, CI, SE, SA, TC = (
    "converters.rebuild", "finetune", "tasks.cli_intent.generate", "tasks.score_edge.generate",
    "tasks.subagents.lint.generate_examples", "teacher.compare",
)
EX, QS, AG, RC = "examples.explore", "examples.quickstart", "examples.agent", "teacher.record"
SFT = "sft --base {missing} --data {missing} --out {out}"
DPO = "dpo --base {missing} --data {missing} --out {out}"
TC_OK = "--student ollama --host {ollama}"
SUB = "--repo {sample} --subagent docstring --teacher haiku --out {out}"

ROWS: list[Row] = [
    # converters.rebuild: files
    row("rebuild-missing", RB, "{missing} --out {out}", 1, "{missing}"),
    row("rebuild-out-under-a-file", RB, "{good} --out {file}/sub", 1, "{file}"),
    row("rebuild-out-in-proc", RB, "{good} --out /proc/no/such/out", 1, "/proc/no"),
    row("rebuild-jsonl-directory", RB, "{dir_with_jsonl_dir} --out {out}", 0),
    row("rebuild-garbage-middle", RB, "{garbage} --out {out}", 0, "{garbage}:2:", where="stderr"),
    row("rebuild-garbage-middle-strict", RB, "{garbage} --out {out} --strict", 1, "{garbage}:2:", "JSON"),
    row("rebuild-bad-utf8-strict", RB, "{bad_utf8} --out {out} --strict", 1, "{bad_utf8}:2:"),
    row("rebuild-deep-nesting-strict", RB, "{deep} --out {out} --strict", 1, "{deep}:2:"),
    row("rebuild-input-a-string", RB, "{input_str} --out {out} --strict", 1, "{input_str}:1:", "'input'"),
    row("rebuild-calls-a-number", RB, "{calls_num} --out {out} --strict", 1, "{calls_num}:1:", "'calls'"),
    row("rebuild-call-a-number", RB, "{call_num} --out {out} --strict", 1, "{call_num}:1:", "'calls'"),
    row("rebuild-call-arguments-a-list", RB, "{args_list} --out {out} --strict", 1, "{args_list}:1:", "'calls'"),
    row("rebuild-call-without-arguments", RB, "{no_args} --out {out} --strict", 1, "{no_args}:1:", "'arguments'"),
    row("rebuild-task-a-number", RB, "{task_num} --out {out} --strict", 1, "{task_num}:1:", "'task'"),
    row("rebuild-unknown-schema", RB, "{schema99} --out {out}", 0, "{schema99}:1:", "'schema'", where="stderr"),
    row("rebuild-unknown-schema-strict", RB, "{schema99} --out {out} --strict", 1, "{schema99}:1:", "'schema'"),
    row("rebuild-schema-a-string-strict", RB, "{schema_str} --out {out} --strict", 1, "{schema_str}:1:", "'schema'"),
    row("rebuild-no-schema-strict", RB, "{no_schema} --out {out} --strict", 1, "{no_schema}:1:", "'schema'"),
    row("rebuild-control-token", RB, "{control} --out {out}", 0, "{control}:2:", "<end_of_turn>", where="stderr"),
    row("rebuild-control-token-strict", RB, "{control} --out {out} --strict", 1, "{control}:2:", "<end_of_turn>"),
    row("rebuild-group-by-unknown", RB, "{good} --out {out} --group-by module", 2, "--group-by"),
    # teacher.record: the repositories
    row("record-no-repository", "teacher.record", "--topic x --symbol Order --teacher heuristic --out {out}", 2,
        "--repo"),
    row("record-repos-missing", "teacher.record",
        "--repos {missing} --topic x --symbol Order --teacher heuristic --out {out}", 2, "{missing}"),
    row("record-repos-bad-line", "teacher.record",
        "--repos {repos_bad} --topic x --symbol Order --teacher heuristic --out {out}", 1, "{repos_bad}:3:"),
    row("record-repo-twice", "teacher.record",
        "--repo {sample} --repo {sample}/ --topic x --symbol Order --teacher heuristic --out {out}", 2, "twice"),
    # teacher.record --subagent: the node, checked before anything runs (before: a traceback each)
    row("record-subagent-file-climbs", RC, f"{SUB} --file ../../../etc/passwd --node x", 2,
        "--file ../../../etc/passwd", "leaves the repository"),
    row("record-subagent-file-absolute", RC, f"{SUB} --file /etc/passwd --node x", 2, "--file /etc/passwd",
        "not relative to the repository"),
    row("record-subagent-node-missing", RC, f"{SUB} --file shop/pricing.py --node nope", 2, "--node nope",
        "no function or class 'nope'"),
    row("record-subagent-file-missing", RC, f"{SUB} --file shop/absent.py --node x", 2, "--file shop/absent.py",
        "is not a file"),
    row("record-subagent-file-a-directory", RC, f"{SUB} --file shop --node x", 2, "--file shop", "is not a file"),
    row("record-subagent-file-not-utf8", RC, SUB.replace("{sample}", "{bad_repo}") + " --file bad.py --node x", 2,
        "--file bad.py", "not UTF-8"),
    row("record-subagent-node-control-token", RC, [*SUB.split(), "--file", "shop/pricing.py", "--node",
                                                   "order_total<end_of_turn>"], 2, "--node", "<end_of_turn>"),
    row("record-subagent-nodes-control-token", RC, f"{SUB} --nodes {{nodes_control}}", 1, "{nodes_control}:2:",
        "node", "<start_function_call>"),
    row("record-subagent-nodes-not-utf8", RC, f"{SUB} --nodes {{bad_utf8_text}}", 1, "{bad_utf8_text}",
        "not UTF-8"),
    # teacher.record: limits and special tokens (before: a 35 s language-server timeout; accepted)
    row("record-symbol-empty", RC, ["--repo", "{sample}", "--topic", "t", "--symbol", "", "--teacher", "heuristic",
                                    "--out", "{out}"], 2, "--symbol", "empty"),
    row("record-topic-bos", RC, ["--repo", "{sample}", "--topic", "a <bos> b", "--symbol", "x", "--teacher",
                                 "heuristic", "--out", "{out}"], 2, "<bos>"),
    row("record-symbol-eos", RC, ["--repo", "{sample}", "--topic", "t", "--symbol", "x<eos>", "--teacher",
                                  "heuristic", "--out", "{out}"], 2, "<eos>"),
    row("record-queries-pad", RC, "--repo {sample} --queries {queries_pad} --teacher heuristic --out {out}", 1,
        "{queries_pad}:1:", "<pad>"),
    row("record-max-failures-0", RC, "--repo {sample} --topic t --symbol x --teacher heuristic --out {out} "
        "--max-failures 0", 2, "--max-failures"),
    row("explore-symbol-unused-token", EX, ["--symbol", "order<unused99>"], 2, "--symbol", "<unused99>"),
    # converters.rebuild: numbers
    row("rebuild-split-0", RB, "{good} --out {out} --split 0", 2, "--split"),
    row("rebuild-split-nan", RB, "{good} --out {out} --split nan", 2, "--split"),
    row("rebuild-split-1.5", RB, "{good} --out {out} --split 1.5", 2, "--split"),
    row("rebuild-seed-negative", RB, "{good} --out {out} --seed -1", 2, "--seed"),
    row("rebuild-workers-0", RB, "{good} --out {out} --workers 0", 2, "--workers"),
    row("rebuild-workers-negative", RB, "{good} --out {out} --workers -3", 2, "--workers"),
    row("rebuild-workers-1000", RB, "{good} --out {out} --workers 1000", 2, "--workers", "at most the cores"),
    row("rebuild-tokenizer-missing", RB, "{good} --out {out} --tokenizer {missing}", 2, "--tokenizer"),
    row("rebuild-unknown-task", RB, "{good} --out {out} --task nope", 2, "nope"),
    row("rebuild-seed-huge", RB, "{good} --out {out} --seed 4294967296", 2, "--seed"),
    row("rebuild-two-workers-strict", RB, "{good} {garbage} --out {out} --strict --workers 2", 1, "{garbage}:2:"),
    row("rebuild-eval-repo-unknown", RB, "{good} --out {out} --eval-repo nope", 1, "nope"),
    # converters.dataset: every flag is checked before anything is recorded
    row("dataset-held-out-unknown", "converters.dataset",
        "--package parso --package yaml --held-out nope --recordings {out}/rec --out {out}/data", 2, "nope"),
    row("dataset-package-missing", "converters.dataset",
        "--package no_such_package_here --held-out x --recordings {out}/rec --out {out}/data", 2,
        "no_such_package_here"),
    row("dataset-everything-held-out", "converters.dataset",
        "--package parso --held-out parso --recordings {out}/rec --out {out}/data", 2, "held out"),
    row("dataset-no-held-out", "converters.dataset",
        "--package parso --package yaml --recordings {out}/rec --out {out}/data", 2, "--held-out"),
    # finetune: numbers, at parse time
    row("sft-epochs-negative", FT, f"{SFT} --epochs -1", 2, "--epochs"),
    row("sft-epochs-0", FT, f"{SFT} --epochs 0", 2, "--epochs"),
    row("sft-epochs-nan", FT, f"{SFT} --epochs nan", 2, "--epochs"),
    row("sft-lr-0", FT, f"{SFT} --learning-rate 0", 2, "--learning-rate"),
    row("sft-lr-inf", FT, f"{SFT} --learning-rate inf", 2, "--learning-rate"),
    row("sft-lora-r-0", FT, f"{SFT} --lora-r 0", 2, "--lora-r"),
    row("sft-lora-alpha-0", FT, f"{SFT} --lora-alpha 0", 2, "--lora-alpha"),
    row("sft-lora-dropout-1.5", FT, f"{SFT} --lora-dropout 1.5", 2, "--lora-dropout"),
    row("sft-batch-size-0", FT, f"{SFT} --batch-size 0", 2, "--batch-size"),
    row("sft-gradient-accumulation-0", FT, f"{SFT} --gradient-accumulation 0", 2, "--gradient-accumulation"),
    row("sft-max-length-0", FT, f"{SFT} --max-length 0", 2, "--max-length"),
    row("sft-max-steps-negative", FT, f"{SFT} --max-steps -5", 2, "--max-steps"),
    row("sft-seed-negative", FT, f"{SFT} --seed -1", 2, "--seed"),
    row("sft-seed-huge", FT, f"{SFT} --seed 99999999999", 2, "--seed"),
    row("sft-warmup-negative", FT, f"{SFT} --warmup -0.5", 2, "--warmup"),
    row("sft-logging-steps-0", FT, f"{SFT} --logging-steps 0", 2, "--logging-steps"),
    row("sft-save-steps-0", FT, f"{SFT} --save-steps 0", 2, "--save-steps"),
    row("sft-eval-examples-negative", FT, f"{SFT} --eval-examples -1", 2, "--eval-examples"),
    row("sft-profile-unknown", FT, f"{SFT} --profile bogus", 2, "--profile"),
    row("sft-precision-unknown", FT, f"{SFT} --precision fp8", 2, "--precision"),
    row("dpo-beta-0", FT, f"{DPO} --beta 0", 2, "--beta"),
    row("dpo-mine-examples-0", FT, f"{DPO} --mine-examples 0", 2, "--mine-examples"),
    row("dpo-max-new-tokens-0", FT, f"{DPO} --max-new-tokens 0", 2, "--max-new-tokens"),
    row("tiny-vocab-0", FT, "tiny --out {out} --vocab-size 0", 2, "--vocab-size"),
    row("tiny-hidden-negative", FT, "tiny --out {out} --hidden-size -1", 2, "--hidden-size"),
    row("tiny-layers-0", FT, "tiny --out {out} --layers 0", 2, "--layers"),
    row("tiny-seed-negative", FT, "tiny --out {out} --seed -1", 2, "--seed"),
    row("tiny-vocab-too-small", FT, "tiny --out {out} --vocab-size 300", 2, "--vocab-size"),
    row("eval-limit-0", FT, "eval --data {missing} --model {missing} --out {out} --limit 0", 2, "--limit"),
    row("pipeline-count-0", FT, "pipeline --name x --root {out} --count 0", 2, "--count"),
    row("pipeline-eval-limit-0", FT, "pipeline --name x --root {out} --eval-limit 0", 2, "--eval-limit"),
    # finetune: names
    row("pipeline-name-climbs", FT, "pipeline --name ../../x --root {out}", 2, "--name"),
    row("pipeline-name-absolute", FT, "pipeline --name /tmp/x --root {out}", 2, "--name"),
    row("pipeline-name-empty", FT, ["pipeline", "--name", "", "--root", "{out}"], 2, "--name"),
    row("card-name-climbs", FT, "card --name ../x --root {out}", 2, "--name"),
    row("card-push-bad-repo", FT, "card --name x --root {out} --push a/b/c", 2, "--push", "NAMESPACE/NAME"),
    row("card-push-spaces", FT, ["card", "--name", "x", "--root", "{out}", "--push", "a b"], 2, "--push", "alphanum"),
    row("card-no-evaluation", FT, "card --name x --root {out}", 1, "eval.md", "no evaluation yet"),
    # finetune: configuration files
    row("sft-config-lora-r-negative", FT, f"{SFT} --config {{cfg_lora_r}}", 1, "{cfg_lora_r}", "lora_r"),
    row("sft-config-lora-r-nan", FT, f"{SFT} --config {{cfg_nan}}", 1, "{cfg_nan}", "lora_r"),
    row("sft-config-lora-r-inf", FT, f"{SFT} --config {{cfg_inf}}", 1, "{cfg_inf}", "lora_r"),
    row("sft-config-lr-0", FT, f"{SFT} --config {{cfg_lr}}", 1, "{cfg_lr}", "learning_rate"),
    row("sft-config-precision", FT, f"{SFT} --config {{cfg_precision}}", 1, "{cfg_precision}", "precision"),
    row("sft-config-unknown-key", FT, f"{SFT} --config {{cfg_unknown}}", 1, "{cfg_unknown}", "bogus"),
    row("sft-config-wrong-type", FT, f"{SFT} --config {{cfg_type}}", 1, "{cfg_type}", "epochs"),
    row("sft-config-list-for-a-name", FT, f"{SFT} --config {{cfg_scheduler}}", 1, "{cfg_scheduler}", "scheduler"),
    row("sft-config-secret-under-a-wrong-key", FT, f"{SFT} --config {{cfg_secret}}", 1, "{cfg_secret}", "api_key"),
    row("sft-config-not-yaml", FT, f"{SFT} --config {{not_yaml}}", 1, "{not_yaml}"),
    row("sft-config-missing", FT, f"{SFT} --config {{missing}}", 1, "{missing}"),
    row("pipeline-config-lora-r", FT, "pipeline --name x --root {out} --config {pipe_lora_r}", 1,
        "{pipe_lora_r}", "sft", "lora_r"),
    row("pipeline-config-unknown", FT, "pipeline --name x --root {out} --config {pipe_unknown}", 1,
        "{pipe_unknown}", "dpo", "bogus"),
    row("pipeline-config-hyphen-key", FT, "pipeline --name x --root {out} --config {pipe_hyphen}", 1,
        "{pipe_hyphen}", "lora-r"),
    row("pipeline-config-secret", FT, "pipeline --name x --root {out} --config {pipe_secret}", 1, "{pipe_secret}"),
    row("pipeline-config-section", FT, "pipeline --name x --root {out} --config {pipe_section}", 1,
        "{pipe_section}", "sft"),
    row("pipeline-config-not-yaml", FT, "pipeline --name x --root {out} --config {not_yaml}", 1, "{not_yaml}"),
    # finetune: files
    row("sft-base-missing", FT, SFT, 1, "{missing}"),
    row("tiny-out-under-a-file", FT, "tiny --out {file}/model", 1, "{file}"),
    row("tiny-corpus-garbage", FT, "tiny --out {out} --corpus {dataset_garbage}", 1, "{dataset_garbage}:2"),
    row("merge-model-missing", FT, "merge --model {missing} --out {out}", 1, "{missing}"),
    row("export-model-missing", FT, "export --model {missing} --out {out}/m.gguf", 1, "{missing}"),
    row("quantize-gguf-missing", FT, "quantize --gguf {missing} --out {out}/m.gguf", 1, "{missing}"),
    row("modelfile-gguf-missing", FT, "modelfile --gguf {missing} --out {out}/Modelfile", 1, "{missing}"),
    row("eval-data-garbage", FT, "eval --data {dataset_garbage} --model {missing} --out {out}", 1,
        "{dataset_garbage}:2"),
    row("eval-data-missing", FT, "eval --data {missing} --model {missing} --out {out}", 1, "{missing}"),
    row("eval-train-missing", FT, "eval --data {dataset_garbage} --model {missing} --out {out} --train {missing}", 1,
        "{missing}", "no such training file"),
    row("pipeline-root-under-a-file", FT, "pipeline --name x --root {file}/training", 1, "{file}"),
    row("pipeline-recordings-missing", FT, "pipeline --name x --root {out} --recordings {missing}", 1, "{missing}"),
    # tasks.cli_intent.generate
    row("cli-schema-missing", CI, "--schema {missing} --out-root {out}", 1, "{missing}"),
    row("cli-schema-wrong-key", CI, "--schema {schema_key} --out-root {out}", 1, "{schema_key}:3:", "colour"),
    row("cli-schema-wrong-type", CI, "--schema {schema_type} --out-root {out}", 1, "{schema_type}:", "type"),
    row("cli-schema-a-directory", CI, "--schema {root} --out-root {out}", 1, "{root}"),
    row("cli-split-1.5", CI, "--schema gh --split 1.5 --out-root {out}", 2, "--split"),
    row("cli-schema-not-yaml", CI, "--schema {not_yaml} --out-root {out}", 1, "{not_yaml}:"),
    row("cli-schema-binary", CI, "--schema {binary} --out-root {out}", 1, "{binary}", "not UTF-8"),
    row("cli-name-climbs", CI, "--schema gh --name ../../x --out-root {out}", 2, "--name"),
    row("cli-name-absolute", CI, "--schema gh --name /tmp/x --out-root {out}", 2, "--name"),
    row("cli-name-empty", CI, ["--schema", "gh", "--name", "", "--out-root", "{out}"], 2, "--name"),
    row("cli-count-0", CI, "--schema gh --count 0 --out-root {out}", 2, "--count"),
    row("cli-batch-size-0", CI, "--schema gh --batch-size 0 --out-root {out}", 2, "--batch-size"),
    row("cli-split-nan", CI, "--schema gh --split nan --out-root {out}", 2, "--split"),
    row("cli-seed-negative", CI, "--schema gh --seed -1 --out-root {out}", 2, "--seed"),
    row("cli-delay-negative", CI, "--schema gh --delay -1 --out-root {out}", 2, "--delay"),
    row("cli-delay-inf", CI, "--schema gh --delay inf --out-root {out}", 2, "--delay"),
    row("cli-budget-nan", CI, "--schema gh --budget-usd nan --out-root {out}", 2, "--budget-usd"),
    row("cli-budget-negative", CI, "--schema gh --budget-usd -1 --out-root {out}", 2, "--budget-usd"),
    row("cli-out-root-under-a-file", CI, "--schema gh --count 5 --out-root {file}/data", 1, "{file}"),
    row("cli-progress-garbage", CI, "--schema gh --count 5 --name demo --out-root {progress_root}", 1,
        "{progress_root}/demo/train_progress.jsonl:2"),
    # tasks.score_edge.generate
    row("score-edge-negative", SE, "-1", 2, "N"),
    row("score-edge-not-a-number", SE, "many", 2, "N"),
    row("score-edge-seed-negative", SE, "5 --seed -1", 2, "--seed"),
    row("score-edge-seed-nan", SE, "5 --seed nan", 2, "--seed"),
    row("score-edge-workers-0", SE, "5 --workers 0", 2, "--workers"),
    row("score-edge-workers-1000", SE, "5 --workers 1000", 2, "--workers", "at most the cores"),
    # tasks.subagents.<domain>.generate_examples
    row("subagent-count-0", SA, "--count 0 --out {out}", 2, "--count"),
    row("subagent-split-0", SA, "--split 0 --out {out}", 2, "--split"),
    row("subagent-split-nan", SA, "--split nan --out {out}", 2, "--split"),
    row("subagent-seed-negative", SA, "--seed -1 --out {out}", 2, "--seed"),
    row("subagent-out-under-a-file", SA, "--count 2 --out {file}/sub", 1, "{file}"),
    # teacher.compare
    row("compare-missing", TC, f"{{missing}} {TC_OK}", 1, "{missing}"),
    row("compare-train-missing", TC, f"{{good}} {TC_OK} --train {{missing}}", 1, "--train {missing}",
        "no such training file"),
    row("compare-llamacpp-without-gguf", TC, "{good} --student llamacpp", 2, "--gguf"),
    row("compare-out-under-a-file", TC, f"{{good}} {TC_OK} --out {{file}}/r.json", 1, "{file}"),
    row("compare-garbage-middle", TC, f"{{garbage}} {TC_OK}", 0, "{garbage}:2:", where="stderr"),
    row("compare-input-a-string", TC, f"{{input_str}} {TC_OK}", 0, "{input_str}:1:", "'input'", where="stderr"),
    row("compare-calls-empty", TC, f"{{calls_empty}} {TC_OK}", 0, "{calls_empty}:1:", "'calls'", where="stderr"),
    row("compare-deep-nesting", TC, f"{{deep}} {TC_OK}", 0, "{deep}:2:", where="stderr"),
    row("compare-unknown-schema", TC, f"{{schema99}} {TC_OK}", 0, "{schema99}:1:", "'schema'", where="stderr"),
    row("compare-jsonl-directory", TC, f"{{dir_with_jsonl_dir}} {TC_OK}", 0),
    row("compare-call-a-number", TC, f"{{call_num}} {TC_OK}", 0, "{call_num}:1:", "'calls'", where="stderr"),
    # examples
    row("explore-budget-0", EX, "--budget 0", 2, "--budget"),
    row("explore-max-depth-negative", EX, "--max-depth -1", 2, "--max-depth"),
    row("explore-breadth-0", EX, "--breadth 0", 2, "--breadth"),
    row("explore-topic-control-token", EX, ["--topic", "Where is <end_of_turn> handled?"], 2, "--topic"),
    row("explore-topic-empty", EX, ["--topic", " "], 2, "--topic"),
    row("explore-symbol-control-token", EX, ["--symbol", "order<end_of_turn>"], 2, "--symbol"),
    row("explore-symbol-empty", EX, ["--symbol", ""], 2, "--symbol"),
    row("explore-repo-missing", EX, "--repo {missing}", 2, "--repo"),
    row("explore-out-under-a-file", EX, "--out {file}/x.json", 1, "{file}"),
    row("explore-out-in-proc", EX, "--out /proc/x.json", 1, "/proc"),  # before: a traceback after the whole walk
    row("agent-budget-0", AG, "--repo {sample} --topic t --symbol s --budget 0", 2, "--budget"),
    row("agent-topic-control-token", AG, ["--repo", "{sample}", "--topic", "<start_of_turn>x", "--symbol", "s"], 2,
        "--topic"),
    row("agent-repo-missing", AG, "--repo {missing} --topic t --symbol s", 2, "--repo"),
    # backend specs: one factory, the same refusal in every command line
    row("compare-bad-spec", TC, "{good} --student gpt", 2, "--student gpt", "unknown backend"),
    row("compare-spec-without-value", TC, "{good} --student gguf:", 2, "--student gguf:", "needs a value"),
    row("compare-gguf-missing", TC, "{good} --student gguf:{missing}", 2, "{missing}"),
    row("explore-bad-spec", EX, "--student gpt", 2, "--student gpt", "unknown backend"),
    row("agent-bad-spec", AG, "--repo {sample} --topic t --symbol s --student nope", 2, "--student nope"),
    row("agent-gguf-missing", AG, "--repo {sample} --topic t --symbol s --student gguf:{missing}", 2, "{missing}"),
    row("record-bad-teacher", RC, "--repo {sample} --topic t --symbol s --teacher gpt --out {out}", 2,
        "--teacher gpt", "unknown backend"),
    # any backend can teach (issue 30): a student is one a training run produces
    row("record-teacher-as-student", RC, "--repo {sample} --topic t --symbol s --student heuristic --out {out}", 2,
        "--student heuristic", "a student is ollama, gguf or hf"),
    row("record-replay-without-dir", RC, "--repo {sample} --topic t --symbol s --teacher replay --out {out}", 2,
        "--replay-from"),
    row("cli-run-bad-spec", "tasks.cli_intent.run", "x --student gpt --no-context", 2, "unknown backend 'gpt'"),
    row("cli-run-serve-with-request", "tasks.cli_intent.run", "x --serve --no-context", 2, "--serve"),
    row("cli-run-neither-request-nor-serve", "tasks.cli_intent.run", "--no-context", 2, "--serve"),
    row("cli-run-retrieve-negative", "tasks.cli_intent.run", "x --retrieve -1 --no-context", 2, "--retrieve"),
    row("cli-run-max-tokens-0", "tasks.cli_intent.run", "x --max-tokens 0 --no-context", 2, "--max-tokens"),
    row("cli-generate-retrieve-negative", CI, "--retrieve -1 --out-root {out}", 2, "--retrieve"),
    row("latency-prefix-states-0", "benchmarks.cli_intent_latency", "--gguf {missing} --prefix-states 0", 2,
        "--prefix-states"),
    row("latency-retrieve-negative", "benchmarks.cli_intent_latency", "--gguf {missing} --retrieve -1", 2,
        "--retrieve"),
    row("latency-calls-0", "benchmarks.cli_intent_latency", "--gguf {missing} --calls 0", 2, "--calls"),
    row("latency-recall-data-missing", "benchmarks.cli_intent_latency", "--gguf {file} --recall-data {missing}", 2,
        "--recall-data", "{missing}"),
    row("calibration-gguf-missing", "interpreters.calibration", "--gguf {missing} --data {missing}", 2, "{missing}",
        "no such file"),
    row("constrained-gguf-missing", "benchmarks.constrained_decoding", "--gguf {missing} --data {missing}", 2,
        "{missing}", "no such file"),
    row("quickstart-epochs-negative", QS, "--root {out} --epochs -1", 2, "--epochs"),
    row("quickstart-max-steps-negative", QS, "--root {out} --max-steps -2", 2, "--max-steps"),
    row("quickstart-hidden-size-0", QS, "--root {out} --hidden-size 0", 2, "--hidden-size"),
    row("quickstart-layers-0", QS, "--root {out} --layers 0", 2, "--layers"),
    row("quickstart-eval-limit-0", QS, "--root {out} --eval-limit 0", 2, "--eval-limit"),
    row("quickstart-root-under-a-file", QS, "--root {file}/training", 1, "{file}"),
    # benchmarks (flags only)
    row("recipes-data-missing", "benchmarks.recipes", "--data {missing}", 2, "--data"),
    row("bench-rebuild-turns-0", "benchmarks.rebuild", "--turns 0", 2, "--turns"),
    row("bench-rebuild-workers-0", "benchmarks.rebuild", "--workers 0", 2, "--workers"),
    row("bench-record-latency-negative", "benchmarks.record", "--latency -1", 2, "--latency"),
    row("bench-record-levels-0", "benchmarks.record", "--levels 1,0", 2, "--levels"),
    row("bench-score-edge-count-0", "benchmarks.score_edge_generate", "--count 0", 2, "--count"),
    row("bench-student-calls-0", "benchmarks.student", "--calls 0", 2, "--calls"),
    row("bench-explore-symbols-0", "benchmarks.explore", "--symbols 0", 2, "--symbols"),
    row("bench-edge-flags-count-0", "benchmarks.edge_flags", "--count 0", 2, "--count"),
    row("bench-edge-flags-not-installed", "benchmarks.edge_flags", "--packages no_such_package", 2, "no_such_package"),
    row("bench-sft-batch-size-0", "benchmarks.sft_throughput", "--out {out} --batch-size 0", 2, "--batch-size"),
    row("bench-sft-examples-0", "benchmarks.sft_throughput", "--out {out} --examples 0", 2, "--examples"),
]


def _record(**changes: Any) -> dict[str, Any]:
    """A valid recorded score_edge turn, with ``changes`` applied (``None`` removes a field)."""
    context = next(edge_contexts(1, 0))
    call, reasoning = HeuristicModel.answer(TASKS["score_edge"], context)
    assert call is not None
    record = {
        "schema": SCHEMA_VERSION, "kind": "model", "session": "s", "turn": 1, "key": "k", "task": "score_edge",
        "input": context.model_dump(mode="json"), "calls": [{"name": call.name, "arguments": call.arguments}],
        "reasoning": reasoning,
    }
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    return record


def _lines(path: Path, *lines: bytes | dict[str, Any]) -> str:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                              for line in lines))
    return str(path)


@pytest.fixture(scope="module")
def ollama() -> Iterator[str]:
    """A stand-in Ollama whose student answers every score_edge question."""
    call, _ = HeuristicModel.answer(TASKS["score_edge"], next(edge_contexts(1, 0)))
    assert call is not None
    answer = {"content": "", "tool_calls": [{"function": {"name": call.name, "arguments": call.arguments}}]}
    with FakeOllama(lambda body: answer) as fake:
        yield fake.host


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory, ollama: str) -> dict[str, str]:
    """Every file a row names: good and damaged recordings, configs, schemas, datasets."""
    root = tmp_path_factory.mktemp("bad-inputs")
    good = _record()
    control = _record(input={**good["input"], "query": "Where is <end_of_turn> handled?"})
    found: dict[str, str] = {
        "root": str(root),
        "file": _lines(root / "plain.txt", b"a regular file"),
        "missing": str(root / "missing.jsonl"),
        "sample": str(REPO / "examples" / "sample_repo"),
        "ollama": ollama,
        "good": _lines(root / "good.jsonl", good),
        "garbage": _lines(root / "garbage.jsonl", good, b"{not json", _record(turn=2)),
        "bad_utf8": _lines(root / "bad-utf8.jsonl", good, b'{"kind": "model", "task": "\xff\xfe"}', good),
        "deep": _lines(root / "deep.jsonl", good, b"[" * 100_000 + b"]" * 100_000, good),
        "input_str": _lines(root / "input-str.jsonl", _record(input="not an object")),
        "calls_num": _lines(root / "calls-num.jsonl", _record(calls=5)),
        "calls_empty": _lines(root / "calls-empty.jsonl", _record(calls=[])),
        "call_num": _lines(root / "call-num.jsonl", _record(calls=[5])),
        "args_list": _lines(root / "args-list.jsonl", _record(calls=[{"name": "score_edge", "arguments": [1, 2]}])),
        "no_args": _lines(root / "no-args.jsonl", _record(calls=[{"name": "score_edge"}])),
        "task_num": _lines(root / "task-num.jsonl", _record(task=5)),
        "schema99": _lines(root / "schema99.jsonl", _record(schema=99)),
        "schema_str": _lines(root / "schema-str.jsonl", _record(schema="1")),
        "no_schema": _lines(root / "no-schema.jsonl", _record(schema=None)),
        "control": _lines(root / "control.jsonl", good, control),
        "repos_bad": _lines(root / "repos.txt", b"# repositories", str(REPO / "examples" / "sample_repo").encode(),
                            b"no/such/repository"),
        "not_yaml": _lines(root / "not-yaml.yaml", b"a: [unclosed"),
        "dataset_garbage": _lines(root / "dataset.jsonl", {"prompt": "p", "completion": "c"}, b"{oops",
                                  {"prompt": "p", "completion": "c"}),
        "nodes_control": _lines(root / "nodes.jsonl", {"file": "shop/pricing.py", "node": "order_total"},
                                {"file": "shop/pricing.py", "node": "x<start_function_call>"}),
        "bad_utf8_text": _lines(root / "bad-utf8.txt", b"\xff\xfe{}"),
        "queries_pad": _lines(root / "queries-pad.jsonl", {"topic": "t <pad>", "seeds": ["x"]}),
        "binary": _lines(root / "binary.yaml", b"\x00\xff\xfe\x01"),
    }
    bad_repo = root / "bad-repo"
    bad_repo.mkdir()
    (bad_repo / "bad.py").write_bytes(b"x = '\xff'\n")
    found["bad_repo"] = str(bad_repo)
    jsonl_dir = root / "with-a-directory"
    (jsonl_dir / "looks-like.jsonl").mkdir(parents=True)
    _lines(jsonl_dir / "real.jsonl", good)
    found["dir_with_jsonl_dir"] = str(jsonl_dir)
    configs = {
        "cfg_lora_r": "lora_r: -4\n", "cfg_nan": "lora_r: .nan\n", "cfg_inf": "lora_r: 1.0e+400\n",
        "cfg_lr": "learning_rate: 0\n", "cfg_precision": "precision: fp8\n", "cfg_unknown": "bogus: 1\n",
        "cfg_type": "epochs: three\n", "cfg_scheduler": "scheduler: [linear, cosine]\n",
        "pipe_hyphen": "sft:\n  lora-r: -4\n", "cfg_secret": f"lora_r: 8\napi_key: {SECRET}\n",
        "pipe_secret": f"sft:\n  lora_r: 8\ntoken: {SECRET}\n",
        "pipe_lora_r": "sft:\n  lora_r: -4\n", "pipe_unknown": "dpo:\n  bogus: 1\n", "pipe_section": "sft: 5\n",
    }
    for name, text in configs.items():
        (root / f"{name}.yaml").write_text(text, encoding="utf-8")
        found[name] = str(root / f"{name}.yaml")
    gh = shipped_schemas()["gh"].read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(gh) if line.startswith("cli_name:"))
    wrong_key = ["cli_name: gh", "description: x", "colour: blue", *gh[start + 2 :]]
    (root / "schema-key.yaml").write_text("\n".join(wrong_key) + "\n", encoding="utf-8")
    found["schema_key"] = str(root / "schema-key.yaml")
    wrong_type = "\n".join(gh).replace("type: integer", "type: float", 1)
    (root / "schema-type.yaml").write_text(wrong_type + "\n", encoding="utf-8")
    found["schema_type"] = str(root / "schema-type.yaml")
    progress = root / "progress-root" / "demo"
    progress.mkdir(parents=True)
    # the progress log is a recorded session: a line of the wrong shape (here a turn number) is named
    _lines(progress / "train_progress.jsonl",
           {"schema": SCHEMA_VERSION, "kind": "session_start", "session": "cli_intent_generate:gh"},
           {"schema": SCHEMA_VERSION, "kind": "model", "turn": "garbage", "key": "k", "calls": []},
           {"schema": SCHEMA_VERSION, "kind": "session_end", "session": "cli_intent_generate:gh"})
    found["progress_root"] = str(root / "progress-root")
    return found


def _fill(text: str, paths: dict[str, str]) -> str:
    for name, value in paths.items():
        text = text.replace("{" + name + "}", value)
    return text


RESULTS: dict[str, bool] = {}


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command in its own process group; on timeout the whole group is killed (and the row fails)."""
    with subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            err += f"\n(killed after {TIMEOUT_S} s: the bad input was not refused before the work)"
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.parametrize("case", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_one_line_with_the_right_exit_code(case: Row, paths: dict[str, str]) -> None:
    RESULTS[case.id] = False
    values = {**paths, "out": str(Path(paths["root"]) / "out" / case.id)}
    args = [_fill(a, values) for a in case.args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    env["ANTHROPIC_API_KEY"] = SECRET  # no row reaches the API: every one is refused before any request
    done = _run([sys.executable, "-m", case.module, *args], env)
    shown = f"$ python -m {case.module} {' '.join(args)}\n--- stdout\n{done.stdout[-2000:]}\n--- stderr\n" \
            f"{done.stderr[-3000:]}"
    assert "Traceback" not in done.stdout + done.stderr, shown
    assert SECRET not in done.stdout + done.stderr and "NEVER-PRINTED" not in done.stdout + done.stderr, shown
    assert done.returncode == case.code, shown
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    text = (lines[-1] if lines else "") if case.where == "last" else done.stderr
    for name in case.names:
        assert _fill(name, values) in text, shown
    RESULTS[case.id] = True


def test_a_pipeline_named_outside_its_root_is_refused_by_the_library_too() -> None:
    from finetune.config import ConfigError
    from finetune.pipeline import PipelineSettings

    for name in ("../../x", "/tmp/x", "", ".."):
        with pytest.raises(ConfigError, match="must stay inside its output root"):
            PipelineSettings(name=name)
    assert PipelineSettings(name="demo").data == Path("training") / "data" / "demo"


def test_zz_count_of_rows_tried_and_held() -> None:
    """The tally (run with ``-s`` to see it); it fails when any row did not hold."""
    held = sum(RESULTS.values())
    print(f"\nbad-input rows: {len(RESULTS)} tried, {held} held")
    assert held == len(RESULTS), sorted(name for name, ok in RESULTS.items() if not ok)
