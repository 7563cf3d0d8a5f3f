"""Decision tokens and their loss weight (``finetune sft --decision-weight W``).

A *decision* is the value of a call's argument as the model writes it: a string with its ``<escape>``
delimiters, a number, a boolean, a whole list or object (so ``[]`` against ``[<escape>..`` is a decision too).
The codec says where each value lies (:func:`converters.functiongemma.argument_spans`). Not decisions: the
format around the values (``<start_function_call>call:NAME{``, keys, commas, ``<end_function_call>``,
``<end_of_turn>``, ``<eos>``), text outside a call, and a task's free-text fields (its ``free_text_fields``,
e.g. score_edge's ``reasoning``). A token is a decision token when any of its characters lies in a decision.

Decision tokens weigh ``W``, every other labelled token 1; the weights of a batch are then scaled to a mean of 1
over its labelled tokens, so the loss keeps its scale (and the learning rate its meaning) whatever ``W`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from converters.functiongemma import FunctionGemmaFormatError, argument_spans
from finetune.sequences import batch_rows, sequence_key

__all__ = ["DecisionTokens", "decision_spans", "free_text_fields", "overlapping_tokens"]


def free_text_fields(task_name: str | None) -> frozenset[str]:
    """The arguments of a task that are free text, not decisions (none for an unknown or unnamed task)."""
    if not task_name:
        return frozenset()
    from tasks.registry import TASKS
    from teacher.task import free_text_fields as task_free_text

    return task_free_text(TASKS.get(task_name))


def decision_spans(completion: str, free_text: frozenset[str]) -> list[tuple[int, int]]:
    """Character spans of the decisions in a completion (none when it holds no parseable call)."""
    try:
        spans = argument_spans(completion)
    except FunctionGemmaFormatError:
        return []
    return [(span.start, span.end) for span in spans if span.argument not in free_text]


def overlapping_tokens(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[int]:
    """Indexes of the tokens (character ``offsets``) with a character in one of the ``spans``."""
    return [
        index
        for index, (start, end) in enumerate(offsets)
        if end > start and any(start < span_end and span_start < end for span_start, span_end in spans)
    ]


class DecisionTokens:
    """Where each training sequence's decision tokens are (keyed by its token ids), and their weight."""

    def __init__(self, weight: float, positions: dict[str, list[int]], labelled: int) -> None:
        self.weight = weight
        self.positions = positions
        #: labelled tokens over all sequences, and how many of them are decisions
        self.labelled = labelled
        self.decisions = sum(len(p) for p in positions.values())

    @classmethod
    def of_rows(cls, tokenizer: Any, rows: Any, tasks: Sequence[str | None], weight: float) -> DecisionTokens:
        """From the trainer's tokenized rows (``prompt``, ``completion`` with its EOS, ``input_ids``, ``labels``)
        and each row's task; the text is tokenized again with character offsets, and a row
        whose tokens then differ from the trainer's is an error naming it."""
        positions: dict[str, list[int]] = {}
        labelled = 0
        for number, (row, task) in enumerate(zip(rows, tasks, strict=True)):
            encoded = tokenizer(row["prompt"] + row["completion"], return_offsets_mapping=True)
            if list(encoded["input_ids"]) != list(row["input_ids"]):
                raise ValueError(f"training row {number}: tokenizing prompt and completion again gives other tokens "
                                 "than the trainer's; decision tokens cannot be placed")
            shift = len(row["prompt"])
            answer = row["completion"].removesuffix(tokenizer.eos_token or "")  # the EOS TRL appended is no output
            spans = [(start + shift, end + shift) for start, end in decision_spans(answer, free_text_fields(task))]
            learnt = [label != -100 for label in row["labels"]]
            found = [i for i in overlapping_tokens(encoded["offset_mapping"], spans) if learnt[i]]
            labelled += sum(learnt)
            positions[sequence_key(row["input_ids"])] = found
        return cls(weight, positions, labelled)

    def share(self) -> float:
        """The fraction of labelled tokens that are decision tokens."""
        return self.decisions / self.labelled if self.labelled else 0.0

    def weights(self, input_ids: Any, attention_mask: Any, labels: Any) -> Any:
        """Per-token loss weights of a padded batch (its shape), with a mean of 1 over the labelled tokens;
        a sequence not seen in training (an eval batch) weighs every token 1."""
        import torch

        weights = torch.ones(labels.shape, dtype=torch.float32, device=labels.device)
        for row, key, where in batch_rows(input_ids, attention_mask):
            found = self.positions.get(key)
            if found:
                weights[row, where[found]] = self.weight
        labelled = labels != -100
        if labelled.any():
            weights = weights / weights[labelled].mean()
        return weights
