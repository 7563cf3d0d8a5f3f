"""Benchmark: the embedded llama.cpp student against the same tiny model in transformers, on the same prompts.

Run: ``.venv/bin/python -m benchmarks.student [--calls 100]`` (needs the ``llamacpp`` and ``finetune`` extras).
The model is the scripted tiny Gemma 3 of ``tests/tiny_gguf.py``, written once as a GGUF for llama.cpp and
once as a ``Gemma3ForCausalLM`` with the same weights for transformers. Both answer the same select_symbols
prompts (the student's hf-profile prompt) by greedy decoding to the same stop tokens; the script checks they
produce the same completion, then prints calls per second and p50/p95 latency of each, and the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from converters.functiongemma import STOP_SEQUENCES
from interpreters.llamacpp import LlamaCppStudent
from tasks.select_symbols import Candidates, SelectSymbolsInput, SelectSymbolsTask
from teacher.cli_args import CommandParser, positive_int
from teacher.model import request_for, student_prompt
from tests.tiny_gguf import HIDDEN, scripted_output, tiny_vocab, write_tiny_gguf

ANSWER = "call:select_symbols{selected:[]}"
WORDS = ["\n", "user", "model", ANSWER]
FOLLOWS = {
    "\n": "<start_function_call>",
    "<start_function_call>": ANSWER,
    ANSWER: "<end_function_call>",
    "<end_function_call>": "<start_function_response>",
}


def transformers_model(tokens: list[str]):  # type: ignore[no-untyped-def]
    """The same weights as the GGUF, as a transformers Gemma 3 causal LM (eager attention, float32)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    size = len(tokens)
    config = Gemma3TextConfig(
        vocab_size=size, hidden_size=size, intermediate_size=HIDDEN, num_hidden_layers=1, num_attention_heads=1,
        num_key_value_heads=1, head_dim=HIDDEN, max_position_embeddings=1024, sliding_window=512,
        tie_word_embeddings=False, rms_norm_eps=1e-6, rope_theta=10000.0, attn_implementation="eager",
        bos_token_id=2, eos_token_id=1, pad_token_id=0,
    )
    model = Gemma3ForCausalLM(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()  # Gemma's norms multiply by (1 + weight): zero is the identity
        model.model.embed_tokens.weight.copy_(torch.eye(size))
        model.lm_head.weight.copy_(torch.from_numpy(scripted_output(tokens, FOLLOWS)))
    return model


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = CommandParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=positive_int, default=100, help="prompts per backend")
    args = parser.parse_args()
    import torch

    task = SelectSymbolsTask()
    requests = [
        request_for(task, SelectSymbolsInput(topic=f"topic {n}", symbol=f"symbol_{n}",
                                             candidates=Candidates(inputs=(f"Type{n}",))))
        for n in range(args.calls)
    ]
    tokens, _ = tiny_vocab(WORDS)
    stop_ids = [tokens.index(s) for s in STOP_SEQUENCES]
    with tempfile.TemporaryDirectory() as scratch:
        student = LlamaCppStudent(write_tiny_gguf(Path(scratch) / "tiny.gguf", WORDS, FOLLOWS))
        llama_times, llama_texts = [], []
        for request in requests:
            start = time.perf_counter()
            reply = asyncio.run(student.complete(request))
            llama_times.append(time.perf_counter() - start)
            llama_texts.append(reply.raw)
        llm = student._model()
        model = transformers_model(tokens)
        hf_times, hf_texts = [], []
        for request in requests:
            ids = llm.tokenize(student_prompt(request, "hf").encode(), add_bos=False, special=True)
            start = time.perf_counter()
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False,
                                     eos_token_id=stop_ids, pad_token_id=0)
            hf_times.append(time.perf_counter() - start)
            hf_texts.append("".join(tokens[i] for i in out[0][len(ids):].tolist()))
    same = sum(a == b for a, b in zip(llama_texts, hf_texts, strict=True))
    print(f"same completion from both: {same}/{args.calls} (e.g. {llama_texts[0]!r})")
    for name, times in (("llama.cpp", llama_times), ("transformers", hf_times)):
        print(f"{name:>12}: {len(times) / sum(times):7.1f} calls/s, p50 {percentile(times, 0.5) * 1000:6.2f} ms, "
              f"p95 {percentile(times, 0.95) * 1000:6.2f} ms")
    print(f"llama.cpp / transformers speed: {sum(hf_times) / sum(llama_times):.2f}x "
          f"(median latency ratio {statistics.median(hf_times) / statistics.median(llama_times):.2f})")


if __name__ == "__main__":
    main()
