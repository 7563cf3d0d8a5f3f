"""Stage configurations: dataclasses with help text, read from a YAML file whose values command-line flags override.

Each stage's settings are one dataclass whose fields carry ``help`` metadata; :func:`add_arguments` turns them
into flags (every flag defaults to "not given"), and :func:`resolve` merges defaults < ``--config FILE`` <
flags. An unknown key in the YAML file is an error that names the file and the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

__all__ = ["ConfigError", "add_arguments", "resolve"]

C = TypeVar("C")


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; names the file and key."""


def _scalar(kind: Any) -> Any:
    """The plain type of an annotation (``int | None`` gives ``int``)."""
    if get_origin(kind) in (Union, types.UnionType):
        kinds = [k for k in get_args(kind) if k is not type(None)]
        return kinds[0] if len(kinds) == 1 else str
    return kind


def add_arguments(parser: argparse.ArgumentParser, config: type[Any]) -> None:
    """Add one flag per field of the dataclass ``config`` (booleans get ``--x/--no-x``) and ``--config``."""
    parser.add_argument("--config", type=Path, help="YAML file of settings (flags override it)")
    hints = get_type_hints(config)
    for item in dataclasses.fields(config):
        flag = "--" + item.name.replace("_", "-")
        kind = _scalar(hints[item.name])
        text = item.metadata.get("help", "")
        if item.default is not dataclasses.MISSING:
            text += f" (default: {item.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif get_origin(kind) is list:
            parser.add_argument(flag, nargs="+", default=None, help=text)
        else:
            parser.add_argument(flag, type=kind if kind in (int, float) else str, default=None, help=text)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    kind = _scalar(kind)
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if kind is int and float(value) != int(value):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return kind(value)
    if get_origin(kind) is list:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return str(value)


def resolve(config: type[C], args: argparse.Namespace) -> C:  # C is a dataclass
    """The configuration from defaults, then the ``--config`` YAML file, then the flags that were given."""
    hints = get_type_hints(config)
    fields = dataclasses.fields(config)  # type: ignore[arg-type]
    names = {item.name for item in fields}
    values: dict[str, Any] = {}
    path: Path | None = getattr(args, "config", None)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the file must be a mapping of settings")
        for key, value in loaded.items():
            name = str(key).replace("-", "_")
            if name not in names:
                raise ConfigError(f"{path}: unknown key {key!r}; known: {', '.join(sorted(names))}")
            values[name] = _coerce(value, hints[name], f"{path}: key {key!r}")
    for name in names:
        given = getattr(args, name, None)
        if given is not None:
            values[name] = _coerce(given, hints[name], f"--{name.replace('_', '-')}")
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
