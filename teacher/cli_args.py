"""Argument types shared by the command lines: numbers checked against their range, output names and paths,
and text that goes into a prompt.

Each type is an ``argparse`` ``type=``: a bad value ends the command at parse time with exit code 2 and one
line naming the flag (argparse adds the usage). :meth:`Number.check` applies the same rule to a value read
from a configuration file, raising ``ValueError`` with the reason. NaN and infinity are never accepted.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from converters.functiongemma import FunctionGemmaFormatError, check_text
from teacher.redact import redact

__all__ = [
    "Number",
    "dollars",
    "fraction",
    "name_problem",
    "non_negative_float",
    "non_negative_int",
    "output_name",
    "output_problem",
    "positive_float",
    "positive_int",
    "seconds",
    "seed",
    "shown",
    "user_text",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Number:
    """An integer or a finite float within optional bounds (each inclusive unless marked open)."""

    kind: type[int] | type[float]
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False
    open_maximum: bool = False
    unit: str = ""  # "seconds", "dollars": said in the rule

    def describe(self) -> str:
        """The rule in words: ``an integer >= 1``, ``a number in (0, 1)``, ``a number of seconds > 0``."""
        what = ("an integer" if self.kind is int else "a number") + (f" of {self.unit}" if self.unit else "")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left, right = "(" if self.open_minimum else "[", ")" if self.open_maximum else "]"
            return f"{what} in {left}{_show(low)}, {_show(high)}{right}"
        if low is not None:
            return f"{what} {'>' if self.open_minimum else '>='} {_show(low)}"
        if high is not None:
            return f"{what} {'<' if self.open_maximum else '<='} {_show(high)}"
        return f"a finite {what.split()[-1]}" if self.kind is float else what

    def check(self, value: object) -> int | float:
        """``value`` as this kind when it is one and lies in range; else ``ValueError`` saying what was expected."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected {self.describe()}, got {shown(value)}")
        if self.kind is int and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected {self.describe()}, got {shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {self.describe()}, got {shown(value)}")
        number = self.kind(value)
        low, high = self.minimum, self.maximum
        if (
            (low is not None and (number < low or (self.open_minimum and number == low)))
            or (high is not None and (number > high or (self.open_maximum and number == high)))
        ):
            raise ValueError(f"expected {self.describe()}, got {_show(number)}")
        return number

    def __call__(self, text: str) -> int | float:
        """Parse a command-line value (argparse ``type=``)."""
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {shown(text)}") from None
        try:
            return self.check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None


def shown(value: object) -> str:
    """A value as an error message may quote it: ``repr``, shortened, with any credential redacted."""
    text = redact(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _show(number: float) -> str:
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return str(int(number))
    return str(number)


#: counts, sizes and limits
positive_int = Number(int, minimum=1)
#: counts where zero means "none"
non_negative_int = Number(int, minimum=0)
#: rates, scales and money that must be above zero
positive_float = Number(float, minimum=0, open_minimum=True)
#: delays and warm-ups
non_negative_float = Number(float, minimum=0)
#: a share strictly between 0 and 1
fraction = Number(float, minimum=0, maximum=1, open_minimum=True, open_maximum=True)
#: a random seed (what ``random``, numpy and torch all accept)
seed = Number(int, minimum=0, maximum=2**32 - 1)
#: timeouts and waits
seconds = Number(float, minimum=0, open_minimum=True, unit="seconds")
#: money limits, where zero spends nothing
dollars = Number(float, minimum=0, unit="dollars")


def user_text(text: str) -> str:
    """Text that goes into a model's prompt (argparse ``type=``): not blank, and without the format's control
    tokens (``<end_of_turn>``...), which would end a turn the model did not end."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected some text, got an empty value")
    try:
        return check_text(text, "the value")
    except FunctionGemmaFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one folder or file under an output root, or None: it must be letters, digits, ``.``,
    ``_`` and ``-``, starting with a letter or digit (so never ``..``, a path, or empty), at most 128 characters."""
    if _NAME.fullmatch(name):
        return None
    return (f"{name!r} is not a plain name (letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "at most 128 characters): it must stay inside its output root")


def output_name(text: str) -> str:
    """A name that becomes one folder or file under an output root (argparse ``type=``); see :func:`name_problem`."""
    problem = name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def output_problem(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` (a folder when ``directory``, else a file) cannot be written, or None when it looks writable:
    a cheap check before the work, so that a command does not fail at its very end. The write itself may still
    fail (a full disk, a file system that refuses it), and commands report that too."""
    target = Path(os.path.abspath(path))
    if target.exists():
        if directory != target.is_dir():
            return f"{target} is {'not a directory' if directory else 'a directory'}"
        return _writable_folder(target if directory else target.parent)
    for parent in target.parents:
        if parent.exists():
            return f"{parent} is not a directory" if not parent.is_dir() else _writable_folder(parent)
        if parent.is_symlink():
            return f"{parent} is a broken symbolic link"
    return None


def _writable_folder(folder: Path) -> str | None:
    return None if os.access(folder, os.W_OK | os.X_OK) else f"cannot write in {folder}"
