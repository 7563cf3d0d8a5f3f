"""llama.cpp says nothing on the terminal unless asked: its loader dump and the quantizer's tensor list go to the
``interpreters.llamacpp.native`` logger at DEBUG (shown with ``-v``), and a failed quantization says llama.cpp's
reason in its one-line error. ``capfd`` captures the file descriptors, so text llama.cpp writes from C is seen."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from finetune.quantize import QuantizeError, quantize
from interpreters.llamacpp import LlamaCppStudent
from tasks.select_symbols import SelectSymbolsTask
from teacher.cli_args import configure_logging
from teacher.model import request_for
from tests.interpreters.test_llamacpp import ANSWERS_EMPTY, scripted
from tests.interpreters.test_ollama import SELECT


@pytest.fixture(autouse=True)
def command_line_logging() -> None:
    """Logging as a command line sets it up without -v (INFO on the library's loggers)."""
    configure_logging(logging.INFO)


def test_quantizing_prints_nothing_unless_debug(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = scripted(tmp_path, ANSWERS_EMPTY)
    capfd.readouterr()
    out = quantize(source, tmp_path / "tiny-q8_0.gguf", "q8_0")
    assert out.is_file() and out.read_bytes()[:4] == b"GGUF"
    assert capfd.readouterr() == ("", "")
    configure_logging(logging.DEBUG)  # what -v sets: the tensor list is shown, through the log
    try:
        quantize(source, tmp_path / "again-q8_0.gguf", "q8_0")
    finally:
        configure_logging(logging.INFO)
    err = capfd.readouterr().err
    assert "llama_model_quantize_impl: quant size" in err and "blk.0.ffn_up.weight" in err


def test_a_failed_quantization_says_llama_cpps_reason_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    capfd.readouterr()
    with pytest.raises(QuantizeError) as raised:
        quantize(broken, tmp_path / "out.gguf", "q8_0")
    message = str(raised.value)
    assert message.startswith(f"llama.cpp could not quantize {broken} to q8_0 (status ") and "): " in message
    assert "\n" not in message and not (tmp_path / "out.gguf").exists()
    assert capfd.readouterr() == ("", "")


async def test_loading_and_answering_print_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    student = LlamaCppStudent(scripted(tmp_path, ANSWERS_EMPTY), grammar=False)
    capfd.readouterr()
    await student.complete(request_for(SelectSymbolsTask(), SELECT))
    assert capfd.readouterr() == ("", "")


async def test_with_debug_the_loader_speaks(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    student = LlamaCppStudent(scripted(tmp_path, ANSWERS_EMPTY), grammar=False)
    configure_logging(logging.DEBUG)  # what -v sets
    try:
        await student.complete(request_for(SelectSymbolsTask(), SELECT))
    finally:
        configure_logging(logging.INFO)
    assert "llama_model_loader" in capfd.readouterr().err
