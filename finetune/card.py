"""``finetune card``: a publishable model folder with a Hugging Face model card, and ``--push`` to the Hub.

The folder (default ``training/models/NAME/hub/``) holds the merged model's files (config, safetensors,
tokenizer) at its root, every GGUF, the Modelfile when there is one, the evaluation (``eval/``) and ``README.md``:
YAML front matter (``base_model`` when it is a Hub id, ``license: gemma``, tags, ``library_name``), the Gemma
terms notice, the data's statistics, every evaluation figure (``eval.md`` as written by ``finetune eval``), and
how to run the model with Ollama and llama.cpp. Files are hard-linked where the file system allows, else copied.

``push_folder`` uploads it with ``huggingface_hub``'s own API (``HfApi.create_repo`` and ``upload_folder``), to
``HF_ENDPOINT`` when set; the token comes from ``HF_TOKEN`` or the Hugging Face login, never from an argument, and
never appears in an error (messages pass through :func:`teacher.redact.redact`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from converters.dataset_stats import read_stats
from teacher.errors import FineTrainingError

__all__ = ["PushError", "build_model_folder", "card_text", "push_folder", "repo_id_problem"]

GEMMA_NOTICE = (
    "Gemma is provided under and subject to the Gemma Terms of Use found at https://ai.google.dev/gemma/terms. "
    "A model fine-tuned from Gemma or FunctionGemma weights is a Model Derivative under those terms: its use must "
    "follow them and the Gemma Prohibited Use Policy (https://ai.google.dev/gemma/prohibited_use_policy)."
)
#: the merged model's files that a transformers user loads
_MODEL_FILES = ("*.json", "*.safetensors", "tokenizer.model", "*.jinja")


class PushError(RuntimeError, FineTrainingError):
    """The upload failed; the message names the repository and the Hub's answer, credentials removed."""


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _front_matter(base_model: str | None, library: str) -> str:
    lines = ["---"]
    if base_model:
        lines.append(f"base_model: {base_model}")
    lines += [
        "license: gemma",
        f"library_name: {library}",
        "pipeline_tag: text-generation",
        "tags:",
        *(f"- {tag}" for tag in ("function-calling", "functiongemma", "gemma3", "gguf", "code-analysis",
                                  "fine-training-teacher")),
        "---",
    ]
    return "\n".join(lines)


def card_text(models: Path, data: Path, name: str, base_model: str | None = None) -> str:
    """The model card (README.md) of the named training, from its data stats, training summaries and evaluation."""
    read = read_stats(data)
    stats = read.as_json() if read is not None else {}
    evaluation = models / "eval" / "eval.md"
    if not evaluation.is_file():
        raise FileNotFoundError(f"{evaluation}: no evaluation yet; run `python -m finetune eval` or the pipeline")
    ggufs = sorted(p.name for p in models.glob("*.gguf"))
    merged = (models / "merged" / "config.json").is_file()
    sections = [
        _front_matter(base_model, "transformers" if merged else "gguf"),
        "",
        f"# {name}",
        "",
        "A FunctionGemma-format function-calling model fine-tuned by "
        "fine-training-teacher on recordings of a teacher doing code-analysis tasks "
        "over LSP. It reads FunctionGemma's chat format (developer turn with function declarations, user turn) "
        "and answers with `<start_function_call>call:NAME{...}<end_function_call>`.",
        "",
        "## License",
        "",
        GEMMA_NOTICE,
        "",
    ]
    trainings = [t for t in (_read_json(models / s / "training.json") for s in ("sft", "dpo")) if t]
    base = trainings[0].get("base") if trainings else None
    sections += ["## Base model", ""]
    if base_model:
        sections.append(f"Fine-tuned from [`{base_model}`](https://huggingface.co/{base_model}).")
    else:
        sections.append(f"Fine-tuned from a local base (`{Path(base).name if base else 'unknown'}`); pass "
                        "`--base-model ID` to name its Hub id. A base built by `finetune tiny` is a toy model "
                        "trained from scratch, not derived from Gemma weights.")
    sections += ["", "## Training data", ""]
    profile = read.profile if read is not None else None
    counts = {split: _count_lines(data / f"{split}.jsonl") for split in ("train", "eval")}
    sections.append(f"{counts['train']} training and {counts['eval']} evaluation examples"
                    + (f", codec profile `{profile}`." if profile else "."))
    if stats:
        sections += ["", "`stats.json` of the dataset:", "", "```json", json.dumps(stats, indent=2), "```"]
    sections += ["", "## Training", ""]
    for t in trainings:
        settings = t.get("settings", {})
        shown = ", ".join(f"{k} {settings[k]}" for k in _RECIPE_SETTINGS if k in settings)
        sections.append(f"- {t.get('stage', '?')}: {t.get('global_steps', '?')} steps in "
                        f"{t.get('wall_seconds', '?')} s ({shown})")
        recipe = t.get("recipe") or {}
        if recipe:
            sections.append("  - recipe: " + ", ".join(f"{k} {_recipe_value(v)}" for k, v in recipe.items()))
    sections += ["", "## Evaluation", ""]
    title, *report = evaluation.read_text(encoding="utf-8").splitlines()
    size = re.search(r"\((\d+) examples\)$", title)  # the title names a local path: keep only the count
    sections += [f"On the held-out eval split ({size.group(1) if size else '?'} examples); every figure with its n.",
                 *(("#" + line if line.startswith("#") else line) for line in report)]
    if (models / "eval" / "eval.png").is_file():
        sections += ["", "![exact match and valid calls per model](eval/eval.png)"]
    sections += ["", "## Usage", "", "### llama.cpp", ""]
    if ggufs:
        chosen = next((g for g in ggufs if "q8_0" in g), ggufs[-1])
        sections += [
            f"Files: {', '.join(f'`{g}`' for g in ggufs)}. The prompt is FunctionGemma's format with the task's "
            f"function declarations, rendered with the codec profile the data used (`{profile or 'hf'}`); stop at "
            "`<end_of_turn>` and `<start_function_response>`. With llama-cpp-python and this project's codec:",
            "",
            "```python",
            "from llama_cpp import Llama",
            "from converters.functiongemma import render_prompt, split_output",
            "",
            f'llm = Llama(model_path="{chosen}", n_ctx=4096)',
            f'prompt = render_prompt(messages, tools, profile="{profile or "hf"}")  # OpenAI-style messages and tools',
            'out = llm.create_completion(prompt, max_tokens=256, temperature=0, '
            'stop=["<end_of_turn>", "<start_function_response>"])',
            'calls, text = split_output(out["choices"][0]["text"])',
            "```",
            "",
            "Or as the exploration program's model, in-process:",
            "",
            "```python",
            "from interpreters.llamacpp import LlamaCppStudent",
            f'student = LlamaCppStudent("{chosen}")',
            "```",
        ]
    modelfile = models / "Modelfile"
    sections += ["", "### Ollama", ""]
    if modelfile.is_file():
        sections += ["```", modelfile.read_text(encoding="utf-8").rstrip(), "```", "", "```bash",
                     f"ollama create {name} -f Modelfile", "```"]
    else:
        sections.append("No Modelfile: this model was trained on the `hf` profile, which Ollama's built-in "
                        "functiongemma renderer does not speak. Train on `--profile ollama` data to serve it there.")
    return "\n".join(sections) + "\n"


#: the settings of a training stage that the card shows (what the recipe is, not where files went)
_RECIPE_SETTINGS = (
    "lora", "lora_r", "lora_alpha", "learning_rate", "scheduler", "warmup", "epochs", "max_steps", "batch_size",
    "gradient_accumulation", "max_length", "train_layers", "activation_cache", "decision_weight", "precision",
    "device", "beta", "loss_type",
)


def _recipe_value(value: Any) -> str:
    """A recipe entry in one short line (the activation cache by its counts, not its folder)."""
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {v}" for k, v in value.items() if k != "folder") + ")"
    return str(value)


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())


def build_model_folder(models: Path, data: Path, out: Path, name: str, base_model: str | None = None) -> Path:
    """Write the publishable folder: model files, GGUFs, Modelfile, evaluation and README.md (the card)."""
    text = card_text(models, data, name, base_model)
    out.mkdir(parents=True, exist_ok=True)
    merged = models / "merged"
    for pattern in _MODEL_FILES:
        for path in sorted(merged.glob(pattern)) if merged.is_dir() else []:
            _link(path, out / path.name)
    for path in [*sorted(models.glob("*.gguf")), models / "Modelfile"]:
        if path.is_file():
            _link(path, out / path.name)
    for path in sorted((models / "eval").glob("*")):
        if path.suffix in (".md", ".json", ".png"):
            _link(path, out / "eval" / path.name)
    (out / "README.md").write_text(text, encoding="utf-8")
    return out


def repo_id_problem(repo: str) -> str | None:
    """Why ``repo`` is not a Hub repository id (``NAME`` or ``NAMESPACE/NAME``), or None when it is one."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils._validators import validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError as error:
        return str(error).split(". Use `repo_type`")[0].rstrip(".") + "; expected NAME or NAMESPACE/NAME"
    return None


def push_folder(folder: Path, repo: str, *, private: bool = False, message: str | None = None) -> str:
    """Upload the folder to the Hub repository ``repo`` (created when missing); returns the commit's URL."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from teacher.redact import redact

    problem = repo_id_problem(repo)
    if problem:
        raise PushError(f"--push {repo!r}: {problem}")
    if not (folder / "README.md").is_file():
        raise PushError(f"{folder}: no README.md; write the folder with `python -m finetune card` first")
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo, folder_path=folder, repo_type="model",
            commit_message=message or f"Upload {folder.name} with fine-training-teacher",
        )
    except (HfHubHTTPError, OSError, ValueError) as error:
        message = redact(f"push to {repo} failed: {error}")
        token = get_token()  # also a token from the login file, which redact (environment only) cannot know
        raise PushError(message.replace(token, "[REDACTED]") if token else message) from None
    return str(getattr(commit, "commit_url", commit))
