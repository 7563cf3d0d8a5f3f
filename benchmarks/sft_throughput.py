"""SFT throughput of a randomly initialised model with FunctionGemma 270M's exact configuration.

Writes N synthetic score_edge prompt-completion examples (13,000 by default), builds the 270M Gemma 3 text
model (vocabulary 262,144, 18 layers, hidden 640) with random weights and a tokenizer from the tiny factory
(sequence lengths differ from Gemma's real tokenizer: the figure is tokens of *this* tokenizer per second),
runs ``finetune sft`` (full fine-tuning, one epoch, bf16 where the hardware has it) and prints the tokens per
second and the wall time of the epoch. Meant for a GPU; ``--max-steps 2 --examples 64`` is a CPU smoke run.

    python -m benchmarks.sft_throughput --out /tmp/sft-bench
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from teacher.cli_args import CommandParser, Number, positive_int


def main() -> None:
    parser = CommandParser(prog="python -m benchmarks.sft_throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="scratch directory")
    parser.add_argument(
        "--examples", type=positive_int, default=13_000, help="prompt-completion examples"
    )
    parser.add_argument("--batch-size", type=positive_int, default=16, help="examples per step")
    parser.add_argument(
        "--max-steps", type=Number(int, minimum=-1), default=-1, help="stop early (default: one full epoch)"
    )
    parser.add_argument(
        "--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
        help="auto (bf16 on a GPU that has it), bf16, fp16, fp32",
    )
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    from converters.examples import prompt_completion
    from finetune.sft import SftSettings, run_sft
    from finetune.tiny import TinySpec, build_tiny_model, functiongemma_270m_config
    from tasks.score_edge.generate import examples

    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "data"
    data.mkdir(exist_ok=True)
    with open(data / "train.jsonl", "w", encoding="utf-8") as out:
        for example in examples(args.examples, seed=0):
            conversation = example.model_dump(exclude_none=True)
            prompt, completion = prompt_completion(conversation["messages"], [], "hf")
            out.write(json.dumps({"prompt": prompt, "completion": completion}) + "\n")
    tiny = build_tiny_model(args.out / "tokenizer", TinySpec())
    base = args.out / "base-270m"
    AutoTokenizer.from_pretrained(tiny).save_pretrained(base)
    config = Gemma3TextConfig(**functiongemma_270m_config())
    model = Gemma3ForCausalLM(config)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters")
    model.save_pretrained(base)
    del model
    started = time.perf_counter()
    settings = SftSettings(
        base=str(base), data=str(data), out=str(args.out / "sft"), lora=False, epochs=1.0, max_steps=args.max_steps,
        batch_size=args.batch_size, learning_rate=1e-4, precision=args.precision, save_steps=10**9,
        logging_steps=20, eval_examples=0, resume=False, max_length=1024,
    )
    run_sft(settings)
    summary = json.loads((args.out / "sft" / "training.json").read_text())
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    print(json.dumps({
        "device": device,
        "examples": summary["counts"]["train_examples"],
        "steps": summary["global_steps"],
        "precision": args.precision,
        "tokens_per_second": summary["tokens_per_second"],
        "train_runtime_s": summary["counts"]["train_runtime"],
        "wall_s": round(time.perf_counter() - started, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
