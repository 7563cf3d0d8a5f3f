"""Dataset-quality rules for select_symbols: examples with no learning signal are dropped, by reason."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from tasks.select_symbols.schema import SelectSymbolsInput

NO_CANDIDATES = "no_candidates"
ONLY_TYPE_VARIABLES = "only_type_variables"
HUB_WITHOUT_INPUTS = "hub_without_inputs"
SPARSE_REFERENCES = "sparse_references"
GENERATED_OR_PRIVATE = "generated_or_private"
INPUT_EQUALS_OUTPUT = "input_equals_output"
REASONS = (
    NO_CANDIDATES,
    GENERATED_OR_PRIVATE,
    ONLY_TYPE_VARIABLES,
    HUB_WITHOUT_INPUTS,
    SPARSE_REFERENCES,
    INPUT_EQUALS_OUTPUT,
)

# TypeVar-style names: T, KT, T_co, _T, AnyStr, or a single lower-case letter.
_TYPE_VARIABLE = re.compile(r"_?[A-Z]{1,2}[0-9]?(?:_co|_contra)?|[a-z]|AnyStr")
_GENERATED = re.compile(r"[<>$]|^lambda$|^__\w+__$")


def is_type_variable(name: str) -> bool:
    """Whether a candidate name looks like a type variable rather than a concrete type."""
    return _TYPE_VARIABLE.fullmatch(name.rsplit(".", 1)[-1]) is not None


def is_generated_or_private(symbol: str) -> bool:
    """Generated names (``<lambda>``, ``$x``, dunders) and private ones (a leading underscore)."""
    last = symbol.rsplit(".", 1)[-1]
    return bool(_GENERATED.search(last)) or last.startswith("_")


def degenerate_reason(input: SelectSymbolsInput) -> str | None:
    """Why this input has no learning signal, or None when it is worth learning from (first rule wins).

    "Inputs" in the rules below are the structural candidates: parameter types, a class's methods and bases, and
    what a function's body calls; a symbol with any of them is not judged by its references alone."""
    c = input.candidates
    names = c.names()
    structural = c.inputs or c.methods or c.bases or c.calls
    if not names and not c.is_hub:
        return NO_CANDIDATES
    if is_generated_or_private(input.symbol):
        return GENERATED_OR_PRIVATE
    if names and all(is_type_variable(n) for n in names):
        return ONLY_TYPE_VARIABLES
    if c.is_hub and not structural:
        return HUB_WITHOUT_INPUTS
    if c.total_references <= 1 and not structural:
        return SPARSE_REFERENCES
    if c.inputs and set(c.inputs) == set(c.output):
        return INPUT_EQUALS_OUTPUT
    return None


def topic_leaks(input: SelectSymbolsInput, selected: Sequence[str]) -> bool:
    """Whether the topic names a selected symbol verbatim (a statistic: such examples teach string matching)."""
    topic = input.topic.lower()
    for name in selected:
        bare = name.rsplit(".", 1)[-1].lower()
        if re.search(rf"(?<!\w){re.escape(bare)}(?!\w)", topic):
            return True
    return False


class FilterStats:
    """Counts of dropped examples per reason, and of topic leaks among those kept."""

    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()
        self.kept = 0
        self.topic_leaks = 0

    def admit(self, input: SelectSymbolsInput, selected: Sequence[str]) -> bool:
        """Count one example; True when it is kept."""
        reason = degenerate_reason(input)
        if reason is not None:
            self.dropped[reason] += 1
            return False
        self.kept += 1
        self.topic_leaks += topic_leaks(input, selected)
        return True

    def as_dict(self) -> dict[str, object]:
        """The counts, for a stats report."""
        return {"kept": self.kept, "dropped": dict(sorted(self.dropped.items())), "topic_leaks": self.topic_leaks}
