"""A CLI described in YAML: commands, their subcommands, typed arguments and boolean flags.

``load_schema(path)`` reads and checks one schema; every problem is a :class:`SchemaError` naming the file,
the line and the key (``gh.yaml:41: commands[0].subcommands[2].args[1].type: ...``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from teacher.errors import FineTrainingError

__all__ = [
    "ArgRender", "ArgSpec", "CliSchema", "CommandSpec", "ContextPart", "FlagSpec", "SchemaError", "SubcommandSpec",
    "load_schema",
]

ArgType = Literal["string", "integer", "enum"]
#: How an argument is written on the command line: ``--name value`` (option), a bare value (positional), or,
#: for an enum, the chosen value as a switch (``--approve``).
ArgRender = Literal["option", "positional", "value_flag"]
#: The parts of the context a schema can ask for at run time (``CliContext``'s parts).
ContextPart = Literal["current_branch", "repository", "current_pr", "uncommitted_changes"]
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid name (a lower-case letter, then letters, digits, '-' or '_')")
    return name


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArgSpec(_Spec):
    """An argument that takes a value: a string, an integer, or one of ``values`` (enum)."""

    name: str
    type: ArgType = "string"
    required: bool = False
    default: str | int | None = None
    values: tuple[str, ...] = ()
    description: str = ""
    render: ArgRender = "option"
    option: str | None = None

    _name = field_validator("name")(_check_name)

    @field_validator("option")
    @classmethod
    def _option_form(cls, option: str | None) -> str | None:
        if option is not None and not re.fullmatch(r"--?[A-Za-z0-9][A-Za-z0-9_-]*", option):
            raise ValueError(f"an option is written '--name' or '-n', got {option!r}")
        return option

    @property
    def option_name(self) -> str:
        """The option this argument is given with: ``option`` when set, else ``--name`` (``_`` as ``-``)."""
        return self.option or "--" + self.name.replace("_", "-")

    @model_validator(mode="after")
    def _consistent(self) -> ArgSpec:
        if self.render == "value_flag" and self.type != "enum":
            raise ValueError("only an enum argument can be rendered as 'value_flag'")
        if self.render != "option" and self.option is not None:
            raise ValueError(f"'option' is only for arguments rendered as options, not {self.render}")
        if self.type == "enum" and not self.values:
            raise ValueError("an enum argument needs its 'values'")
        if self.type != "enum" and self.values:
            raise ValueError(f"'values' are only for enum arguments, not {self.type}")
        if self.required and self.default is not None:
            raise ValueError("a required argument cannot have a default")
        if self.default is not None and not self.accepts(self.default):
            raise ValueError(f"default {self.default!r} is not a valid {self.type}")
        _unique(self.values, "enum value")
        return self

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this argument's type (integers are not booleans; enums are their values)."""
        if self.type == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.type == "enum":
            return isinstance(value, str) and value in self.values
        return isinstance(value, str) and bool(value.strip())


class FlagSpec(_Spec):
    """A boolean switch (``--web``, short ``-w``)."""

    name: str
    short: str | None = None
    description: str = ""

    _name = field_validator("name")(_check_name)

    @field_validator("short")
    @classmethod
    def _one_character(cls, short: str | None) -> str | None:
        if short is not None and not re.fullmatch(r"[A-Za-z0-9]", short):
            raise ValueError(f"a short form is one letter or digit, got {short!r}")
        return short


class SubcommandSpec(_Spec):
    """One subcommand with its arguments and flags."""

    name: str
    description: str = ""
    args: tuple[ArgSpec, ...] = ()
    flags: tuple[FlagSpec, ...] = ()

    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _distinct(self) -> SubcommandSpec:
        _unique([a.name for a in self.args], "argument")
        _unique([f.name for f in self.flags], "flag")
        _unique([f.short for f in self.flags if f.short], "short flag")
        positional = [a for a in self.args if a.render == "positional"]
        for earlier, later in itertools.pairwise(positional):
            if not earlier.required:
                raise ValueError(f"optional positional argument {earlier.name!r} is followed by {later.name!r}")
        return self

    def arg(self, name: str) -> ArgSpec | None:
        """The argument with this name, or None."""
        return next((a for a in self.args if a.name == name), None)

    def flag(self, name: str) -> FlagSpec | None:
        """The flag with this name or short form, or None."""
        return next((f for f in self.flags if name in (f.name, f.short)), None)


class CommandSpec(_Spec):
    """A top-level command (``pr``) and its subcommands (``list``, ``view``, ...)."""

    name: str
    description: str = ""
    subcommands: tuple[SubcommandSpec, ...] = Field(min_length=1)

    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _distinct(self) -> CommandSpec:
        _unique([s.name for s in self.subcommands], "subcommand")
        return self

    def subcommand(self, name: str) -> SubcommandSpec | None:
        """The subcommand with this name, or None."""
        return next((s for s in self.subcommands if s.name == name), None)


class CliSchema(_Spec):
    """A whole CLI: its name, what it does, and its commands."""

    cli_name: str
    description: str = ""
    commands: tuple[CommandSpec, ...] = Field(min_length=1)
    context: tuple[ContextPart, ...] = ("current_branch", "repository", "uncommitted_changes")

    _name = field_validator("cli_name")(_check_name)

    @model_validator(mode="after")
    def _distinct(self) -> CliSchema:
        _unique([c.name for c in self.commands], "command")
        return self

    def command(self, name: str) -> CommandSpec | None:
        """The command with this name, or None."""
        return next((c for c in self.commands if c.name == name), None)

    def subcommand(self, command: str, subcommand: str) -> SubcommandSpec | None:
        """The subcommand ``command subcommand``, or None when either does not exist."""
        found = self.command(command)
        return found.subcommand(subcommand) if found else None

    def pairs(self) -> Iterator[tuple[CommandSpec, SubcommandSpec]]:
        """Every (command, subcommand), in schema order."""
        for command in self.commands:
            for sub in command.subcommands:
                yield command, sub

    def pair_names(self) -> list[str]:
        """Every ``"command subcommand"``, in schema order."""
        return [f"{c.name} {s.name}" for c, s in self.pairs()]

    def subcommand_names(self) -> list[str]:
        """The distinct subcommand names, in first-seen order."""
        return list(dict.fromkeys(s.name for _, s in self.pairs()))

    def flag_names(self) -> list[str]:
        """The distinct flag names across subcommands, in first-seen order."""
        return list(dict.fromkeys(f.name for _, s in self.pairs() for f in s.flags))

    def to_yaml(self) -> str:
        """The schema as YAML (defaults left out), as a teacher is shown it."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class SchemaError(ValueError, FineTrainingError):
    """A CLI schema that cannot be used; the message names the file, the line and the key."""


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (the deepest node found on the way)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _key(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_schema(path: str | Path) -> CliSchema:
    """Read and check a CLI schema YAML file; raises :class:`SchemaError` naming the file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SchemaError(f"{path}: cannot read the schema: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SchemaError(f"{path}: not UTF-8 text (byte {error.start}): a schema is a YAML file") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise SchemaError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(data, dict):
        raise SchemaError(f"{path}:1: the schema must be a mapping with cli_name, description and commands")
    try:
        return CliSchema.model_validate(data)
    except ValidationError as error:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # only now: the nodes know their lines
        problems = []
        for item in error.errors():
            loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith(("function-", "[")))]
            line = _line_of(node, loc)
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{line or 1}: {_key(loc)}: {message}")
        raise SchemaError("\n".join(problems)) from None
