"""The publishable model folder and its card, and ``--push`` through huggingface_hub to a local stand-in Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from converters.examples import Example
from converters.functiongemma import ToolCall, render_call
from finetune.__main__ import main
from finetune.card import build_model_folder, card_text
from finetune.evaluate import Scores, write_report
from finetune.modelfile import modelfile_text
from tests.fake_hub import FakeHub

TOKEN = "hf_DoNotLeakThisToken4242"


def _training(root: Path, name: str = "demo", modelfile: bool = True) -> Path:
    """A named training's files as the pipeline leaves them (small stand-ins for the weights)."""
    models, data = root / "models" / name, root / "data" / name
    (models / "merged").mkdir(parents=True)
    (models / "eval").mkdir()
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text('{"a": 1}\n' * 7)
    (data / "eval.jsonl").write_text('{"a": 1}\n' * 3)
    (data / "stats.json").write_text(json.dumps({"examples": {"score_edge": {"train": 7, "eval": 3}}}))
    (models / "merged" / "config.json").write_text("{}")
    (models / "merged" / "model.safetensors").write_bytes(b"weights")
    (models / f"{name}-q8_0.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 40)
    (models / "sft").mkdir()
    (models / "sft" / "training.json").write_text(json.dumps(
        {"stage": "sft", "base": str(root / "base"), "global_steps": 12, "wall_seconds": 3.5,
         "settings": {"lora": False, "learning_rate": 0.003, "epochs": 8.0}}))
    if modelfile:
        (models / "Modelfile").write_text(modelfile_text(models / f"{name}-q8_0.gguf", models))
    scores = Scores()
    example = Example("p", "c", "f:1", "invert_topic", {"topic": "How is data read?"})
    expected = ToolCall("invert_topic", {"inverted_topic": "How is data written?"})
    for output in (render_call(expected.name, expected.arguments),) * 2 + ("no call",):
        scores.add(example, [expected], output, 0.01)
    results = {"data": str(data), "examples": 3, "artifacts": {f"{name}-q8_0.gguf": scores.summary()},
               "base": {"model": str(root / "base"), **scores.summary()}}
    (models / "eval" / "eval.md").write_text(write_report(results))
    (models / "eval" / "eval.json").write_text(json.dumps(results))
    return models


def test_the_card_has_front_matter_the_licence_data_every_figure_and_usage(tmp_path: Path) -> None:
    models = _training(tmp_path)
    card = card_text(models, tmp_path / "data" / "demo", "demo", "google/functiongemma-270m-it")
    front, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    meta = yaml.safe_load(front)
    assert meta["base_model"] == "google/functiongemma-270m-it" and meta["license"] == "gemma"
    assert meta["library_name"] == "transformers" and "function-calling" in meta["tags"]
    assert "Gemma Terms of Use" in body and "7 training and 3 evaluation examples" in body
    report = (models / "eval" / "eval.md").read_text().splitlines()[1:]
    for line in report:
        if line.startswith("|"):
            assert line in body  # every evaluation figure, with its n
    assert "| demo-q8_0.gguf (after) | 3 | 66.7%" in body and "| base (before): base | 3 |" in body
    assert modelfile_text(models / "demo-q8_0.gguf", models).strip() in body
    assert "ollama create demo -f Modelfile" in body and 'Llama(model_path="demo-q8_0.gguf"' in body
    assert "On the held-out eval split (3 examples)" in body and str(tmp_path) not in body  # no local paths
    assert "- sft: 12 steps in 3.5 s (lora False, learning_rate 0.003, epochs 8.0)" in body


def test_an_hf_profile_model_gets_no_ollama_recipe_and_a_missing_eval_is_named(tmp_path: Path) -> None:
    models = _training(tmp_path, modelfile=False)
    card = card_text(models, tmp_path / "data" / "demo", "demo")
    assert "No Modelfile" in card and "ollama create" not in card and "base_model" not in card
    (models / "eval" / "eval.md").unlink()
    with pytest.raises(FileNotFoundError, match=r"eval\.md: no evaluation yet"):
        card_text(models, tmp_path / "data" / "demo", "demo")


def test_the_folder_holds_the_model_the_ggufs_the_modelfile_and_the_evaluation(tmp_path: Path) -> None:
    models = _training(tmp_path)
    folder = build_model_folder(models, tmp_path / "data" / "demo", tmp_path / "hub", "demo")
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == ["Modelfile", "README.md", "config.json", "demo-q8_0.gguf", "eval/eval.json", "eval/eval.md",
                     "model.safetensors"]
    assert (folder / "demo-q8_0.gguf").read_bytes() == (models / "demo-q8_0.gguf").read_bytes()
    assert "FROM ./demo-q8_0.gguf" in (folder / "Modelfile").read_text()  # the same relative path works there


def test_push_uploads_the_folder_through_huggingface_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _training(tmp_path)
    with FakeHub(TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        code = main(["card", "--name", "demo", "--root", str(tmp_path), "--base-model", "google/functiongemma-270m-it",
                     "--push", "me/demo-student"])
    out = capsys.readouterr()
    assert code == 0, out.err
    folder = tmp_path / "models" / "demo" / "hub"
    uploaded = hub.repos["me/demo-student"]
    local = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert uploaded == local  # every file, byte for byte, in one commit
    assert len(hub.commits) == 1 and f"{hub.url}/me/demo-student/commit/" in out.out
    assert hub.cards == [local["README.md"].decode()]  # the Hub's metadata check saw the card and passed it
    assert ("POST", "/api/repos/create") in hub.requests
    assert TOKEN not in out.out + out.err


def test_a_refused_push_is_one_line_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _training(tmp_path)
    with FakeHub("hf_theRightTokenIsAnother") as hub:  # it echoes the wrong token back in its 401
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        code = main(["card", "--name", "demo", "--root", str(tmp_path), "--push", "me/demo-student"])
    err = capsys.readouterr().err
    assert code == 1 and "finetune card: push to me/demo-student failed" in err and "401" in err
    assert TOKEN not in err and "[REDACTED]" in err
    assert hub.repos == {}


def test_the_hub_refuses_a_card_with_bad_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from finetune.card import PushError, push_folder

    (tmp_path / "README.md").write_text("---\nlicense: not-a-licence\n---\n# x\n")
    with FakeHub(TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        with pytest.raises(PushError, match=r"Invalid metadata in README\.md"):
            push_folder(tmp_path, "me/x")
    assert hub.repos == {"me/x": {}}  # the repository was made, nothing was committed


def test_the_card_says_the_recipe_of_each_stage(tmp_path: Path) -> None:
    models = _training(tmp_path)
    summary = json.loads((models / "sft" / "training.json").read_text())
    summary["settings"].update({"lora": True, "lora_r": 32, "train_layers": 4, "activation_cache": True,
                                "decision_weight": 3.0, "device": "auto", "out": str(tmp_path / "out")})
    summary["recipe"] = {"method": "lora", "trained_layers": [14, 17], "decision_token_share": 0.21,
                         "activation_cache": {"folder": str(tmp_path / "out" / "activations"), "computed": 9,
                                              "reused": 27}}
    (models / "sft" / "training.json").write_text(json.dumps(summary))
    body = card_text(models, tmp_path / "data" / "demo", "demo")
    assert ("- sft: 12 steps in 3.5 s (lora True, lora_r 32, learning_rate 0.003, epochs 8.0, train_layers 4, "
            "activation_cache True, decision_weight 3.0, device auto)") in body
    assert ("  - recipe: method lora, trained_layers [14, 17], decision_token_share 0.21, "
            "activation_cache (computed 9, reused 27)") in body
    assert str(tmp_path) not in body  # the cache's folder and the output path stay out
