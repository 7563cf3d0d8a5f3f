"""The cli_intent task: natural language (and optional git context) to one command of a schema-described CLI."""

from tasks.cli_intent.schema import CliSchema, SchemaError, load_schema
from tasks.cli_intent.task import TASK_PREFIX, CliIntentInput, CliIntentTask
from tasks.cli_intent.tools import CLI_INTENT_TOOL_NAMES, Clarify, CliContext, RunCommand, is_cli_intent_call

__all__ = [
    "CLI_INTENT_TOOL_NAMES",
    "TASK_PREFIX",
    "Clarify",
    "CliContext",
    "CliIntentInput",
    "CliIntentTask",
    "CliSchema",
    "RunCommand",
    "SchemaError",
    "is_cli_intent_call",
    "load_schema",
]
