"""Random and structured-adversarial model outputs for fuzzing the FunctionGemma parser (suite and benchmark).

``fuzz_inputs(count, seed)`` yields ``(family, text)`` pairs: random text, fragments of control tokens and
syntax, rendered calls mutated byte by byte, nesting thousands deep, megabyte strings, unterminated escapes and
huge numbers. The same seed always gives the same inputs.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from typing import Any

from converters.functiongemma import CONTROL_TOKENS, END_CALL, ESCAPE, START_CALL, render_call

FRAGMENTS = [
    *CONTROL_TOKENS, "<bos>", "<eos>", "<start_function", "_call>", "<escape", "escape>", "<", ">", "call:",
    "call:f", "response:", "{", "}", "[", "]", ":", ",", "true", "false", "tru", "-", "0", "00", "1", "-0", "1.5",
    "1e5", "1e999", "1E-999", ".5", "5.", "1e", "x", "key", " ", "\n", "\\", '"', "é", "日本", "\u0000", "\ud800",
]
SIZES_SMALL = (1, 4, 16, 64, 256)


def _random_text(rng: random.Random, size: int) -> str:
    alphabet = string.printable + "éß日本🎉\u0000"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _fragments(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(FRAGMENTS) for _ in range(size))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return _random_text(rng, rng.randrange(8)).replace("<", "")
    if kind == 1:
        return rng.randrange(-(10**12), 10**12)
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    if kind == 3:
        return rng.random() < 0.5
    if kind in (4, 5):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(4))}


def _valid_calls(rng: random.Random) -> str:
    return "".join(
        render_call(f"f{rng.randrange(100)}", {f"a{i}": _value(rng) for i in range(rng.randrange(4))})
        for _ in range(rng.randrange(1, 4))
    )


def _mutated(rng: random.Random) -> str:
    text = list(_valid_calls(rng))
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(text) + 1)
        action = rng.randrange(4)
        if action == 0 and at < len(text):
            del text[at]
        elif action == 1:
            text.insert(at, rng.choice(FRAGMENTS))
        elif action == 2 and at < len(text):
            text[at] = rng.choice(string.printable)
        else:
            text = text[:at]
    return "".join(text)


def _call(body: str) -> str:
    return f"{START_CALL}call:f{{{body}}}{END_CALL}"


def _deep(rng: random.Random) -> str:
    depth = rng.choice([65, 100, 1_000, 10_000])
    opener, closer = rng.choice([("[", "]"), ("{a:", "}"), ("[{a:", "}]")])
    return _call("k:" + opener * depth + "1" + closer * depth)


def _huge_string(rng: random.Random) -> str:
    size = rng.choice([4_000, 100_000, 1_000_000])
    body = _random_text(rng, 64) * (size // 64)
    terminator = rng.choice([ESCAPE, "", "<escape", "<end_of_turn>" + ESCAPE])
    return _call(f"k:{ESCAPE}{body}{terminator}")


def _unterminated(rng: random.Random) -> str:
    return _call("k:" + ESCAPE + _fragments(rng, rng.randrange(1, 50)))[: -rng.randrange(0, 30) or None]


def _huge_number(rng: random.Random) -> str:
    digits = "".join(rng.choice(string.digits) for _ in range(rng.choice([20, 4_300, 4_301, 10_000])))
    number = rng.choice([digits, "-" + digits, "1." + digits, "1e" + digits[:7], "0." + digits + "e-5"])
    return _call(f"k:{number}")


def _many_calls(rng: random.Random) -> str:
    return _valid_calls(rng) * rng.choice([10, 1_000, 10_000])


FAMILIES: dict[str, Callable[[random.Random], str]] = {
    "random text": lambda rng: _random_text(rng, rng.choice(SIZES_SMALL)),
    "fragments": lambda rng: _fragments(rng, rng.choice(SIZES_SMALL)),
    "fragments in a call": lambda rng: _call(_fragments(rng, rng.choice(SIZES_SMALL))),
    "valid calls": _valid_calls,
    "mutated calls": _mutated,
    "unterminated escape": _unterminated,
    "deep nesting": _deep,
    "huge string": _huge_string,
    "huge number": _huge_number,
    "many calls": _many_calls,
}
#: How often each family is drawn; the large ones are rarer so that 100,000 inputs run in minutes.
WEIGHTS = {
    "random text": 20, "fragments": 25, "fragments in a call": 20, "valid calls": 10, "mutated calls": 20,
    "unterminated escape": 3, "deep nesting": 0.5, "huge string": 0.2, "huge number": 1, "many calls": 0.3,
}


def fuzz_inputs(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    """``count`` (family, model output) pairs, reproducible from ``seed``."""
    rng = random.Random(seed)
    names = list(FAMILIES)
    weights = [WEIGHTS[name] for name in names]
    for _ in range(count):
        family = rng.choices(names, weights)[0]
        yield family, FAMILIES[family](rng)
