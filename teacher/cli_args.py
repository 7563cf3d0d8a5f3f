"""What the command lines share: argument types (numbers checked against their range, output names and paths,
text that goes into a prompt), the ``--help`` formatter that shows defaults, the flags several commands take
(:func:`add_logging_flags`; the backend flags are :func:`interpreters.backends.add_backend_flag`, the
exploration limits :func:`teacher.explore.add_exploration_flags`) and :func:`configure_logging`,
which :class:`CommandParser` calls with the level ``-v``/``-q`` ask for.

Each type is an ``argparse`` ``type=``: a bad value ends the command at parse time with exit code 2 and one
line naming the flag (argparse adds the usage). :meth:`Number.check` applies the same rule to a value read
from a configuration file, raising ``ValueError`` with the reason. NaN and infinity are never accepted.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.functiongemma import FunctionGemmaFormatError, check_text
from teacher.redact import redact

__all__ = [
    "CommandParser",
    "HelpFormatter",
    "Number",
    "add_hidden_alias",
    "add_logging_flags",
    "configure_logging",
    "counts",
    "dollars",
    "fraction",
    "log_level",
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
#: worker processes: at most one per core of this machine (more only compete for them, and a thousand would start)
workers = Number(int, minimum=1, maximum=os.cpu_count() or 1, unit="worker processes (at most the cores)")
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
    """None when a file can be made in ``folder`` (tried: root passes every permission check, yet ``/proc`` or a
    read-only mount still refuse), else why not."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder}"
    try:
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
    except OSError as error:
        return f"cannot write in {folder}: {error.strerror or error}"
    os.close(descriptor)
    os.unlink(probe)
    return None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each flag's default after its help, written once by argparse: ``(default: 20)``.

    Flags whose default says nothing (None, False, an empty list) show none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS or default == []:
            return action.help
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose ``--help`` shows defaults (:class:`HelpFormatter`), with ``-v/--verbose`` and
    ``-q/--quiet`` (:func:`add_logging_flags`); its subcommands' too.

    Parsing sets up logging (:func:`configure_logging` at :func:`log_level`), so this parser is the one place a
    command line's output level is decided: a ``main`` calls ``parse_args`` and logs."""

    def __init__(self, *args: Any, configure: bool = True, **options: Any) -> None:
        options.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **options)
        self._configure = configure  # a subcommand's parser leaves it to the top one, which sees every flag
        add_logging_flags(self)

    def add_subparsers(self, **options: Any) -> Any:
        """Subcommands are :class:`CommandParser` s too; the flags may come before or after the subcommand."""
        options.setdefault("parser_class", functools.partial(CommandParser, configure=False))
        return super().add_subparsers(**options)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if self._configure:
            configure_logging(log_level(parsed))
        return parsed, extras


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` (``args.verbose``, a count) and ``-q/--quiet`` (``args.quiet``), read by :func:`log_level`.

    Neither sets a default, so a subcommand's copy does not hide the value given before the subcommand."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="show debug lines, and what llama.cpp and transformers say (hidden by default)")
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="show only warnings and errors, no progress")


def log_level(args: argparse.Namespace) -> int:
    """The logging level ``-v``/``-q`` ask for: DEBUG, WARNING, else INFO."""
    if getattr(args, "quiet", False):
        return logging.WARNING
    return logging.DEBUG if getattr(args, "verbose", 0) else logging.INFO


def add_hidden_alias(parser: argparse.ArgumentParser, flag: str, *, dest: str, **options: object) -> None:
    """Accept ``flag`` as an old spelling of the flag stored in ``dest``, without showing it in ``--help``."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **options)  # type: ignore[arg-type]


#: the packages whose loggers :func:`configure_logging` shows (not the libraries below them: httpx logs each request)
LOGGED_PACKAGES = ("teacher", "interpreters", "converters", "tasks", "finetune", "examples", "benchmarks")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test's captured stderr, a redirected one)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Show the library's progress and warnings on stderr as plain lines (:class:`CommandParser` calls this).

    Library code logs through ``logging`` and prints nothing; without this call only warnings reach stderr,
    through logging's last resort. Calling it again changes the level and adds no second handler. Below DEBUG
    (``-v``) the libraries underneath stay quiet: transformers says only errors, and llama.cpp's own messages
    (routed to the ``interpreters.llamacpp.native`` logger at DEBUG, see :mod:`interpreters.llamacpp`) are not
    shown."""
    _third_party_verbosity(level <= logging.DEBUG)
    for name in LOGGED_PACKAGES:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)  # propagation stays on: an application's own handlers see the lines too


def _third_party_verbosity(verbose: bool) -> None:
    """transformers' warnings and info lines, and the datasets library's progress bars, only when verbose (each
    library's environment variable is read at import; an imported library is set directly). Nothing is imported
    here: the core stays light."""
    os.environ["TRANSFORMERS_VERBOSITY"] = "warning" if verbose else "error"
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        transformers.logging.set_verbosity(logging.WARNING if verbose else logging.ERROR)
    # the datasets library's bars (TRL's tokenizing passes, a few seconds each): the training logs its own steps
    if verbose:
        os.environ.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    else:
        os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    datasets = sys.modules.get("datasets")
    if datasets is not None:
        with warnings.catch_warnings():  # a library imported while its variable said no cannot show them again
            warnings.simplefilter("ignore")
            (datasets.enable_progress_bars if verbose else datasets.disable_progress_bars)()


def counts(figures: Mapping[str, object] | Iterable[tuple[str, object]], empty: str = "none") -> str:
    """Named figures as words, in the order given: ``invalid_answer 2, model_failed 1``; ``empty`` when none."""
    pairs = list(figures.items()) if isinstance(figures, Mapping) else list(figures)
    return ", ".join(f"{name} {value}" for name, value in pairs) or empty
