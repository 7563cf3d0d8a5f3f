"""The CLI schema loader: the shipped gh schema loads; every error names the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.cli_intent.schema import SchemaError, load_schema
from tasks.cli_intent.shipped import resolve_schema, shipped_schemas

GOOD = """\
cli_name: tool
description: A tool.
commands:
  - name: item
    subcommands:
      - name: get
        args:
          - {name: id, type: integer, required: true}
          - {name: mode, type: enum, values: [fast, slow], default: fast}
        flags:
          - {name: verbose, short: v}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tool.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_gh_schema_has_about_thirty_subcommands() -> None:
    schema, path = resolve_schema("gh")
    assert path == shipped_schemas()["gh"]
    assert schema.cli_name == "gh" and 28 <= len(schema.pair_names()) <= 36
    view = schema.subcommand("pr", "view")
    assert view is not None and view.arg("number") is not None and view.arg("number").required  # type: ignore[union-attr]
    assert view.flag("w") is not None and view.flag("web") == view.flag("w")
    assert schema.subcommand("pr", "nope") is None and schema.command("nope") is None


def test_a_good_schema_loads(tmp_path: Path) -> None:
    schema = load_schema(write(tmp_path, GOOD))
    get = schema.subcommand("item", "get")
    assert get is not None and get.args[1].values == ("fast", "slow")
    assert get.args[0].accepts(3) and not get.args[0].accepts("3") and not get.args[0].accepts(True)


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "says"),
    [
        ("type: integer", "type: float", 8, "commands[0].subcommands[0].args[0].type", "'string', 'integer' or 'enum'"),
        ("values: [fast, slow], ", "", 9, "commands[0].subcommands[0].args[1]", "needs its 'values'"),
        ("default: fast", "default: medium", 9, "commands[0].subcommands[0].args[1]", "not a valid enum"),
        ("required: true", "required: true, default: 3", 8, "commands[0].subcommands[0].args[0]",
         "cannot have a default"),
        ("short: v", "short: vv", 11, "commands[0].subcommands[0].flags[0].short", "one letter"),
        ("name: get", "name: Get!", 6, "commands[0].subcommands[0].name", "not a valid name"),
        ("cli_name: tool\n", "", 1, "cli_name", "Field required"),
        ("- {name: verbose, short: v}", "- {name: verbose, shrt: v}", 11, "commands[0].subcommands[0].flags[0].shrt",
         "Extra inputs"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, old: str, new: str, line: int, key: str, says: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SchemaError) as raised:
        load_schema(path)
    message = str(raised.value)
    assert f"{path}:{line}: {key}" in message and says in message


def test_duplicates_and_bad_yaml_and_missing_files(tmp_path: Path) -> None:
    duplicated = GOOD + "  - name: item\n    subcommands:\n      - name: x\n"
    with pytest.raises(SchemaError, match="duplicate command 'item'"):
        load_schema(write(tmp_path, duplicated))
    with pytest.raises(SchemaError, match=r"tool\.yaml:\d+: not valid YAML"):
        load_schema(write(tmp_path, "cli_name: [unclosed\n"))
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "absent.yaml")
    with pytest.raises(SchemaError, match="must be a mapping"):
        load_schema(write(tmp_path, "- just a list\n"))
