"""A ``run_command`` answer as an argv: the schema decides how each argument is written, nothing else can.

``command_argv(answer, schema)`` gives ``[cli, command, subcommand, positionals..., options..., flags...]``;
positional arguments in schema order, options as ``--name VALUE`` (``--name=VALUE`` when the value starts with
``-``), an enum rendered ``value_flag`` as ``--VALUE``, flags as ``--flag``. The answer is validated against
the schema first, so a command, argument or flag the schema does not declare raises :class:`CommandRefused`.
``display(argv)`` is the shell-quoted line shown to the user; the argv itself is never given to a shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from tasks.cli_intent.schema import CliSchema
from tasks.cli_intent.tools import RunCommand
from tasks.cli_intent.validate import validate_answer
from teacher.errors import FineTrainingError

__all__ = ["CommandRefused", "command_argv", "display"]


class CommandRefused(ValueError, FineTrainingError):
    """An answer that cannot become a command of the schema; the message lists the problems."""


def command_argv(answer: RunCommand, schema: CliSchema) -> list[str]:
    """The argv for a validated ``run_command`` answer; :class:`CommandRefused` for anything the schema lacks."""
    _, problems = validate_answer("run_command", answer.model_dump(mode="json"), schema)
    problems = [p for p in problems if p.rule != "confidence"]  # the band is the caller's business
    if problems:
        raise CommandRefused("; ".join(str(p) for p in problems))
    sub = schema.subcommand(answer.command, answer.subcommand)
    assert sub is not None  # validated above
    positionals: list[str] = []
    options: list[str] = []
    for spec in sub.args:
        if spec.name not in answer.args:
            continue
        value = str(answer.args[spec.name])
        if spec.render == "positional":
            if value.startswith("-"):
                raise CommandRefused(f"positional argument {spec.name!r} cannot start with '-': {value!r}")
            positionals.append(value)
        elif spec.render == "value_flag":
            options.append("--" + value)
        elif value.startswith("-"):
            options.append(f"{spec.option_name}={value}")
        else:
            options += [spec.option_name, value]
    flags = ["--" + f.name for f in sub.flags if f.name in answer.flags]
    return [schema.cli_name, answer.command, answer.subcommand, *positionals, *options, *flags]


def display(argv: Sequence[str]) -> str:
    """The argv as one shell-quoted line, for showing (never for running)."""
    return shlex.join(argv)
