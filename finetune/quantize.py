"""``finetune quantize``: llama.cpp's own quantizer (through llama-cpp-python) on an exported GGUF.

The quantizer's tensor-by-tensor report goes to the DEBUG log (shown with ``-v``); when it fails, its last line
is in the error."""

from __future__ import annotations

import ctypes
from pathlib import Path

from teacher.errors import FineTrainingError

__all__ = ["QUANT_TYPES", "QuantizeError", "quantize"]

#: The quantization types by the names llama.cpp's ``llama-quantize`` uses (lower case).
QUANT_TYPES: tuple[str, ...] = (
    "q8_0",
    "q6_k",
    "q5_k_m",
    "q5_k_s",
    "q5_0",
    "q5_1",
    "q4_k_m",
    "q4_k_s",
    "q4_0",
    "q4_1",
    "q3_k_l",
    "q3_k_m",
    "q3_k_s",
    "q2_k",
    "iq4_nl",
    "iq4_xs",
    "f16",
    "bf16",
    "f32",
)


class QuantizeError(RuntimeError, FineTrainingError):
    """llama.cpp refused to quantize (a missing input, an unknown type, a failed run)."""


def quantize(source: Path, out: Path, kind: str = "q8_0", threads: int = 0) -> Path:
    """Quantize the GGUF ``source`` to ``kind`` (e.g. q8_0, q4_k_m) at ``out``.

    Tensors whose rows do not fit a k-quant block (tiny models) get llama.cpp's own fallback type.
    """
    if kind not in QUANT_TYPES:
        raise QuantizeError(f"unknown quantization type {kind!r}; known: {', '.join(QUANT_TYPES)}")
    if not source.is_file():
        raise QuantizeError(f"GGUF {source} not found (make one with `python -m finetune export`)")
    from interpreters.llamacpp import captured_llama_cpp_lines, llama_cpp_module

    try:
        llama_cpp = llama_cpp_module()
    except ImportError:
        raise QuantizeError("llama-cpp-python is missing: pip install -e '.[llamacpp]'") from None
    name = "ALL_F32" if kind == "f32" else f"MOSTLY_{kind.upper()}"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_{name}")
    params.nthread = threads
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with captured_llama_cpp_lines() as said:  # its tensor list goes to the DEBUG log; kept here for an error
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        why = next((line.strip() for line in reversed(said) if line.strip()), "")
        raise QuantizeError(f"llama.cpp could not quantize {source} to {kind} (status {status})"
                            + (f": {why}" if why else ""))
    partial.replace(out)
    return out
