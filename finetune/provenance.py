"""The codec profile and the package versions travel with the data and the model.

``stats.json`` (the data) -> ``training.json`` and ``functiongemma_provenance.json`` (each trained or merged
model) -> the GGUF's ``functiongemma.profile`` / ``functiongemma.versions`` keys (llama.cpp's quantizer copies
them) -> ``finetune modelfile`` and ``finetune eval``, which refuse a mismatch in one line.

Defined in :mod:`teacher.provenance` (where the ``hf`` backend reads a model's profile too) and named here as
training code always has.
"""

from __future__ import annotations

from teacher.provenance import (
    DEFAULT_PROFILE,
    GGUF_PROFILE,
    GGUF_VERSIONS,
    PROVENANCE_FILE,
    ProfileMismatch,
    data_profile,
    model_profile,
    resolve_profile,
    write_provenance,
)

__all__ = ["DEFAULT_PROFILE", "GGUF_PROFILE", "GGUF_VERSIONS", "PROVENANCE_FILE", "ProfileMismatch", "data_profile",
           "model_profile", "resolve_profile", "write_provenance"]
