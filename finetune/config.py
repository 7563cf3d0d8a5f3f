"""Stage configurations: dataclasses with help text, read from a YAML file whose values command-line flags override.

Each stage's settings are one dataclass whose fields carry ``help`` metadata; :func:`add_arguments` turns them
into flags (every flag defaults to "not given"), and :func:`resolve` merges defaults < ``--config FILE`` <
flags. An unknown key in the YAML file is an error that names the file and the key. A field's ``range``
metadata (a :class:`teacher.cli_args.Number`) and ``choices`` metadata are checked for flags at parse time
(exit code 2) and for YAML values when the file is read (:class:`ConfigError`); every number must be finite.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from teacher.cli_args import Number, shown
from teacher.errors import FineTrainingError

__all__ = ["ConfigError", "add_arguments", "check_settings", "read_yaml", "resolve"]

C = TypeVar("C")


class ConfigError(ValueError, FineTrainingError):
    """A configuration file or value that cannot be used; names the file and key."""


def _scalar(kind: Any) -> Any:
    """The plain type of an annotation (``int | None`` gives ``int``)."""
    if get_origin(kind) in (Union, types.UnionType):
        kinds = [k for k in get_args(kind) if k is not type(None)]
        return kinds[0] if len(kinds) == 1 else str
    return kind


def _range(item: dataclasses.Field[Any], kind: Any) -> Number | None:
    """The range of a numeric field: its ``range`` metadata, else any finite number of its kind."""
    found = item.metadata.get("range")
    if found is not None:
        return found  # type: ignore[no-any-return]
    return Number(kind) if kind in (int, float) else None


def add_arguments(parser: argparse.ArgumentParser, config: type[Any]) -> None:
    """Add one flag per field of the dataclass ``config`` (booleans get ``--x/--no-x``) and ``--config``."""
    parser.add_argument("--config", type=Path, help="YAML file of settings (flags override it)")
    hints = get_type_hints(config)
    for item in dataclasses.fields(config):
        flag = "--" + item.name.replace("_", "-")
        kind = _scalar(hints[item.name])
        text = item.metadata.get("help", "")
        if isinstance(item.default, bool):
            text += f" (default: {'on' if item.default else 'off'})"
        elif item.default is not dataclasses.MISSING:
            text += f" (default: {item.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif get_origin(kind) is list:
            parser.add_argument(flag, nargs="+", default=None, help=text)
        else:
            number = _range(item, kind)
            if number is not None:
                text += f" ({number.describe()})"
            parser.add_argument(flag, type=number or str, choices=item.metadata.get("choices"), default=None,
                                help=text)


def _coerce(value: Any, item: dataclasses.Field[Any], kind: Any, where: str) -> Any:
    kind = _scalar(kind)
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {shown(value)}")
    number = _range(item, kind)
    if number is not None:
        try:
            return number.check(value)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    if get_origin(kind) is list:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if isinstance(value, dict | list):
        raise ConfigError(f"{where}: expected a single value, got {type(value).__name__}")
    choices = item.metadata.get("choices")
    if choices is not None and str(value) not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {shown(value)}")
    return str(value)


def check_settings(config: type[Any], values: Mapping[Any, Any], where: str) -> dict[str, Any]:
    """Settings read from a file for the dataclass ``config``: known keys (``-`` read as ``_``) with values of the
    right type and range, coerced; :class:`ConfigError` names ``where`` and the key otherwise."""
    hints = get_type_hints(config)
    fields = {item.name: item for item in dataclasses.fields(config)}
    checked: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(fields))}")
        checked[name] = _coerce(value, fields[name], hints[name], f"{where}: key {key!r}")
    return checked


def read_yaml(path: Path) -> Any:
    """A configuration file's YAML (``{}`` when empty); :class:`ConfigError` in one line naming the file (and the
    line, for a syntax error) when it is missing, unreadable or not YAML."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None


def resolve(
    config: type[C], args: argparse.Namespace, preset: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
) -> C:  # C is a dataclass
    """The configuration from defaults, then ``preset`` (given the settings from the file and flags, the defaults
    that suit them: e.g. a base model's recipe), then the ``--config`` YAML file, then the flags that were given."""
    hints = get_type_hints(config)
    fields = dataclasses.fields(config)  # type: ignore[arg-type]
    by_name = {item.name: item for item in fields}
    values: dict[str, Any] = {}
    path: Path | None = getattr(args, "config", None)
    if path is not None:
        loaded = read_yaml(path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the file must be a mapping of settings")
        values.update(check_settings(config, loaded, str(path)))
    for name, item in by_name.items():
        given = getattr(args, name, None)
        if given is not None:
            values[name] = _coerce(given, item, hints[name], f"--{name.replace('_', '-')}")
    if preset is not None:
        values = {**preset(values), **values}
    missing = [
        item.name
        for item in fields
        if item.name not in values
        and item.default is dataclasses.MISSING
        and item.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError("missing setting(s): " + ", ".join(f"--{m.replace('_', '-')}" for m in missing))
    return config(**values)
