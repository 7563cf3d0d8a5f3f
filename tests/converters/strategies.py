"""Hypothesis strategies for FunctionGemma values: texts with the format's delimiters, keys, names, nested values."""

from __future__ import annotations

from hypothesis import strategies as st

from converters.functiongemma import CONTROL_TOKENS, has_special_token

SPECIALS = [*',{}[]:"\'\n\t<>\\ ', "é", "日本", "🎉", "\u0000", "escape", "call:"]
texts = (
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(SPECIALS)), max_size=8)
    .map("".join)
    .filter(lambda s: not any(token in s for token in CONTROL_TOKENS) and not has_special_token(s))
)
keys = st.text(
    alphabet=st.characters(blacklist_characters=":,{}[]<>", blacklist_categories=("Cs",)), min_size=1, max_size=12
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
scalars = st.one_of(
    texts, st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4))
arguments = st.dictionaries(keys, values, max_size=6)
