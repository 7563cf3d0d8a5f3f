"""The codec profile and the package versions travel: data -> training.json -> merged model -> GGUF -> quantized
GGUF -> modelfile and eval, which refuse a mismatch in one line. Also: the trainer's report_to, and recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teacher.provenance import GGUF_PROFILE, GGUF_VERSIONS, PROVENANCE_FILE, ProfileMismatch, resolve_profile


def metadata_only_gguf(path: Path, profile: str | None) -> Path:
    """A GGUF holding only metadata (no tensors), recording ``profile`` when given."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "gemma3")
    if profile is not None:
        writer.add_string(GGUF_PROFILE, profile)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _gguf_string(path: Path, key: str) -> str | None:
    import gguf

    field = gguf.GGUFReader(str(path)).fields.get(key)
    return None if field is None else str(field.contents())


def test_the_profile_and_versions_travel_from_the_data_to_the_quantized_gguf(
    tiny_sft: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from finetune.__main__ import main
    from finetune.export import export_gguf
    from finetune.merge import merge
    from finetune.modelfile import write_modelfile
    from finetune.quantize import quantize

    assert json.loads((tiny_data / "stats.json").read_text())["profile"] == "hf"
    training = json.loads((tiny_sft / "training.json").read_text())
    assert training["profile"] == "hf"
    assert {"fine-training-teacher", "torch", "transformers", "trl"} <= training["versions"].keys()
    merged = merge(tiny_sft / "model", tmp_path / "merged")
    assert json.loads((merged / PROVENANCE_FILE).read_text())["profile"] == "hf"
    q8 = quantize(export_gguf(merged, tmp_path / "m-f16.gguf"), tmp_path / "m-q8_0.gguf", "q8_0")
    assert _gguf_string(q8, GGUF_PROFILE) == "hf"  # llama.cpp's quantizer keeps our keys
    versions = json.loads(_gguf_string(q8, GGUF_VERSIONS) or "{}")
    assert versions["trl"] == training["versions"]["trl"] and "export:gguf" in versions
    assert resolve_profile(None, tiny_data, [merged, q8]) == "hf"
    with pytest.raises(ProfileMismatch, match="'hf' profile"):
        write_modelfile(q8, tmp_path / "Modelfile")  # an hf-profile model gets no Modelfile
    with pytest.raises(ProfileMismatch, match=r"--profile is 'ollama'; .*m-q8_0.gguf is 'hf'"):
        write_modelfile(q8, tmp_path / "Modelfile", profile="ollama")
    assert not (tmp_path / "Modelfile").exists()
    capsys.readouterr()  # llama.cpp's quantizer logs to stderr
    assert main(["eval", "--data", str(tiny_data), "--model", str(q8), "--out", str(tmp_path / "e"),
                 "--profile", "ollama"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("finetune eval: codec profiles disagree: --profile is 'ollama'; ")
    assert "m-q8_0.gguf is 'hf'" in line  # messages data records no profile: training renders it


def test_modelfile_takes_the_ggufs_profile_and_needs_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from finetune.__main__ import main

    ollama = metadata_only_gguf(tmp_path / "o.gguf", "ollama")
    assert main(["modelfile", "--gguf", str(ollama), "--out", str(tmp_path / "Modelfile")]) == 0
    assert (tmp_path / "Modelfile").read_text().startswith("FROM ./o.gguf\n")
    bare = metadata_only_gguf(tmp_path / "bare.gguf", None)
    assert main(["modelfile", "--gguf", str(bare), "--out", str(tmp_path / "M2")]) == 1
    assert "records no codec profile (functiongemma.profile); say which with --profile" in capsys.readouterr().err
    assert main(["modelfile", "--gguf", str(bare), "--out", str(tmp_path / "M2"), "--profile", "ollama"]) == 0
    garbage = tmp_path / "g.gguf"
    garbage.write_bytes(b"GGUF....")
    assert main(["modelfile", "--gguf", str(garbage), "--out", str(tmp_path / "M3")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"finetune modelfile: {garbage}: not a readable GGUF")


def test_sft_refuses_rendered_data_of_another_profile(tiny_data: Path, tiny_base: Path, tmp_path: Path) -> None:
    from converters.rebuild import Options, rebuild
    from finetune.sft import SftSettings, run_sft

    text = tmp_path / "text"
    rebuild([tiny_data.parent / "recordings"], Options(out=text, format="text", with_inputs=True, split=0.8))
    with pytest.raises(ProfileMismatch, match=rf"--profile is 'ollama'; {text} is 'hf'"):
        run_sft(SftSettings(base=str(tiny_base), data=str(text), out=str(tmp_path / "s"), profile="ollama"))
    assert resolve_profile(None, tiny_data) == "hf" and resolve_profile("ollama", tiny_data) == "ollama"


def test_report_to_is_checked_and_offline(tiny_data: Path, tiny_base: Path, tmp_path: Path) -> None:
    import importlib.util

    from finetune.sft import SftSettings, run_sft
    from finetune.train import trainer_arguments

    settings = SftSettings(base=str(tiny_base), data=str(tiny_data), out=str(tmp_path / "s"), lora=False,
                           max_steps=2, batch_size=4, logging_steps=1, eval_examples=0, report_to="tensorboard")
    assert trainer_arguments(SftSettings(base="b", data="d", out="o"), False)["report_to"] == "none"
    with pytest.raises(ValueError, match="not one of none, tensorboard"):
        trainer_arguments(SftSettings(base="b", data="d", out="o", report_to="wandb"), False)
    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        with pytest.raises(ValueError, match="needs the tensorboard package: pip install tensorboard"):
            trainer_arguments(settings, False)
        pytest.skip("tensorboard is not installed here: the refusal is checked, the event files are not")
    run_sft(settings)
    events = list((tmp_path / "s" / "checkpoints" / "runs").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_recordings_name_the_versions_that_made_them(tiny_data: Path) -> None:
    from teacher.provenance import package_versions

    starts = [json.loads(line) for log in (tiny_data.parent / "recordings").rglob("*.jsonl")
              for line in log.read_text().splitlines() if '"session_start"' in line]
    assert starts and all(s["versions"] == package_versions() for s in starts)
    assert package_versions()["fine-training-teacher"] == "0.1.0"
