"""The test subagent's tools: the node's signature, existing tests, writing a test file and running pytest."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath
from typing import Any

from tasks.subagents.source import signature
from tasks.subagents.toolbox import ToolEnv, ToolFunction, run_python

__all__ = ["IMPLEMENTATIONS", "module_of", "pytest_counts"]

_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def module_of(path: str) -> str:
    """The importable module of a sandbox path (``src/shop/pricing.py`` -> ``src.shop.pricing``)."""
    return ".".join(PurePosixPath(path).with_suffix("").parts)


def analyze_signature(env: ToolEnv) -> dict[str, Any]:
    """The node's signature, as :func:`tasks.subagents.source.signature` reads it from the file now."""
    source = env.sandbox.read(env.context.file_path)
    return signature(source, env.context.node_name, module_of(env.context.file_path))


def read_existing_tests(env: ToolEnv) -> dict[str, Any]:
    """Every ``test_*.py`` in the sandbox that mentions the node's name."""
    name = env.context.node_name.split(".")[-1]
    files = []
    for path, data in sorted(env.sandbox.snapshot().items()):
        stem = PurePosixPath(path).name
        text = data.decode("utf-8", errors="replace")
        if stem.startswith("test_") and stem.endswith(".py") and re.search(rf"\b{re.escape(name)}\b", text):
            files.append({"path": path, "content": text})
    return {"files": files, "count": len(files)}


def write_test_file(env: ToolEnv, content: str, path: str) -> dict[str, Any]:
    """Write a test file under ``tests/`` named ``test_*.py``; it must be valid Python."""
    pure = PurePosixPath(path)
    env.sandbox.argument(path)  # refuses a path that leaves the sandbox or that pytest would read as an option
    target = env.sandbox.path(path)
    if not (pure.name.startswith("test_") and pure.suffix == ".py"):
        return {"error": f"{path}: a test file must be named test_*.py"}
    try:
        tree = ast.parse(content)
    except SyntaxError as error:
        return {"error": f"{path}:{error.lineno}: not valid Python: {error.msg}"}
    tests = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
             and n.name.startswith("test")]
    existed = target.exists()
    env.sandbox.write(path, content if content.endswith("\n") else content + "\n")
    return {"written": path, "replaced": existed, "tests": len(tests)}


def pytest_counts(output: str) -> dict[str, int]:
    """passed / failed / errors / skipped from pytest's summary line."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    lines = [line for line in output.splitlines() if line.strip()]
    for number, word in _COUNT.findall(lines[-1] if lines else ""):
        counts["errors" if word.startswith("error") else word] = int(number)
    return counts


def run_tests(env: ToolEnv, path: str) -> dict[str, Any]:
    """Run pytest on one file in the sandbox; the counts and the end of its report."""
    argument = env.sandbox.argument(path)  # ./PATH: never an option
    if not env.sandbox.path(path).is_file():
        return {"error": f"{path}: no such file"}
    done = run_python(env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                      f"--rootdir={env.sandbox.root}", "--no-header", "-o", "addopts=", argument,
                      environ={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})  # plain tests; 5 times faster to start
    counts = pytest_counts(done.stdout)
    failures = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return {**counts, "exit_code": done.returncode, "failures": failures[:10]}


IMPLEMENTATIONS: dict[str, ToolFunction] = {
    "analyze_signature": analyze_signature,
    "read_existing_tests": read_existing_tests,
    "write_test_file": write_test_file,
    "run_tests": run_tests,
}
