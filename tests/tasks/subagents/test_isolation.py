"""Hostile test code run through the real tools (write_test_file, run_tests with real pytest, ruff): it cannot read
the key, write outside the sandbox, reach the network, outlive its timeout, fork without bound or take 1 GB."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from converters.functiongemma import ToolCall
from interpreters.scripted import ScriptedModel
from tasks.subagents import isolation as isolation_module
from tasks.subagents.definition import NodeContext
from tasks.subagents.domains import SUBAGENTS
from tasks.subagents.isolation import Isolation, Limits, child_environment, isolation
from tasks.subagents.lint.tools import run_linter
from tasks.subagents.sandbox import Sandbox
from tasks.subagents.test.tools import read_existing_tests
from tasks.subagents.toolbox import Subagent, ToolEnv
from teacher.record import main as record_main
from teacher.record_subagents import SubagentNode, record_subagents

KEY = "sk-ant-api03-FAKE-hostile-0123456789abcdef"
SOURCE = "def add(a: int, b: int = 1) -> int:\n    return a + b\n"
CONTEXT = NodeContext(node_text=SOURCE, node_name="add", node_type="function", file_path="pkg/calc.py")
PROBED = isolation()
needs_namespaces = pytest.mark.skipif(
    not PROBED.namespaces, reason=f"no namespace isolation on this machine ({PROBED.problem}); the fallback is "
                                  "tested by test_without_namespaces_the_rest_still_holds_and_the_session_says_so")


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent holds a key, a token and a secret, as a user's shell would."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_FAKEFAKEFAKEFAKE0123")
    monkeypatch.setenv("MY_SECRET", "hunter2-hunter2")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.from_files({"pkg/__init__.py": "", "pkg/calc.py": SOURCE}) as made:
        yield made


def quick_test_subagent(timeout_s: float) -> Subagent:
    """The test subagent with ``run_tests`` given ``timeout_s`` instead of its 60 s."""
    subagent = SUBAGENTS["test"]
    tools = tuple(dataclasses.replace(t, timeout_s=timeout_s) if t.name == "run_tests" else t
                  for t in subagent.definition.tools)
    return Subagent(dataclasses.replace(subagent.definition, tools=tools), subagent.implementations)


def _run(sandbox: Sandbox, content: str, timeout_s: float = 20, path: str = "tests/test_x.py") -> dict[str, Any]:
    """write_test_file then run_tests, as the runner calls them (a problem comes back as {"error": ...})."""
    subagent = quick_test_subagent(timeout_s)
    written = subagent.call("write_test_file", {"content": content, "path": path}, sandbox, CONTEXT)
    assert "error" not in written, written
    return subagent.call("run_tests", {"path": path}, sandbox, CONTEXT)


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_key_is_absent_from_the_tool_result_and_the_child_sees_only_the_allow_list(sandbox: Sandbox) -> None:
    content = (
        "import json, os\n\n\n"
        "def test_dump():\n"
        "    with open('env.json', 'w') as f:\n"
        "        json.dump(dict(os.environ), f)\n"
        "    assert False, repr(dict(os.environ))\n\n\n"
        "def test_key():\n"
        "    assert False, f\"KEY={os.environ.get('ANTHROPIC_API_KEY')}\"\n"
    )
    result = _run(sandbox, content)
    assert result["failed"] == 2, result
    assert KEY not in json.dumps(result) and "sk-ant" not in json.dumps(result)
    assert any("KEY=None" in line for line in result["failures"])
    seen = json.loads(sandbox.read("env.json"))
    allowed = {"PATH", "HOME", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "NO_COLOR", "RAYON_NUM_THREADS", "LANG",
               "LANGUAGE", "TZ"}
    assert {k for k in seen if not k.startswith(("LC_", "PYTEST_"))} <= allowed, seen
    assert seen["HOME"] == str(sandbox.root) and "GITHUB_TOKEN" not in seen and "MY_SECRET" not in seen
    assert all(KEY not in value for value in seen.values())


def test_a_caller_cannot_pass_a_credential_to_the_child(sandbox: Sandbox) -> None:
    for extra in ({"OPENAI_API_KEY": "x"}, {"HF_TOKEN": "x"}, {"AWS_SECRET_ACCESS_KEY": "x"}, {"FOO": f"a{KEY}b"}):
        with pytest.raises(ValueError, match="credential"):
            child_environment(sandbox.root, extra)


@needs_namespaces
def test_writes_outside_the_sandbox_fail_and_the_home_folder_is_hidden(sandbox: Sandbox, tmp_path: Path) -> None:
    tag = f"escape-{random.getrandbits(48):x}"
    targets = {"temp": f"{tempfile.gettempdir()}/{tag}", "home": f"{Path.home()}/{tag}",
               "repo": f"{Path.cwd()}/{tag}", "root": f"/{tag}", "dev_shm": f"/dev/shm/{tag}"}
    (tmp_path / "credentials").write_text("aws_secret=xyz")
    content = (
        "import json, os\n\n\n"
        "def test_escape():\n"
        "    outcome = {}\n"
        f"    for name, path in {targets!r}.items():\n"
        "        try:\n"
        "            with open(path, 'w') as f:\n"
        "                f.write('escaped')\n"
        "            outcome[name] = 'written'\n"
        "        except OSError as error:\n"
        "            outcome[name] = error.strerror\n"
        f"    outcome['home_listing'] = os.listdir({str(Path.home())!r})\n"
        "    outcome['run_listing'] = os.listdir('/run')\n"
        "    outcome['processes'] = sorted(p for p in os.listdir('/proc') if p.isdigit())\n"
        f"    outcome['credentials'] = os.path.exists({str(tmp_path / 'credentials')!r})\n"
        "    with open('outcome.json', 'w') as f:\n"
        "        json.dump(outcome, f)\n"
    )
    result = _run(sandbox, content)
    assert result["passed"] == 1, result
    outcome = json.loads(sandbox.read("outcome.json"))
    assert not any(Path(path).exists() for path in targets.values()), outcome  # nothing reached the real disk
    assert outcome["home"] == outcome["repo"] == outcome["root"] == "Read-only file system", outcome
    assert outcome["temp"] == outcome["dev_shm"] == "written"  # a private tmpfs, gone with the run
    assert outcome["credentials"] is False and outcome["run_listing"] == []
    assert outcome["processes"] == ["1"]  # pytest alone: no process of the machine is visible
    assert set(outcome["home_listing"]) < set(os.listdir(Path.home())) or outcome["home_listing"] == []


def test_a_background_process_is_gone_after_the_timeout(sandbox: Sandbox) -> None:
    token = f"{300 + random.randint(1, 10**6) / 10**7:.7f}"  # a unique argument to find the sleep by
    content = (
        "import os, subprocess, time\n\n\n"
        "def test_linger():\n"
        f"    subprocess.Popen(['sleep', '{token}'])\n"
        "    time.sleep(60)\n"
    )
    try:
        result = _run(sandbox, content, timeout_s=2)
        assert "timed out after 2 s" in result["error"], result
        assert _processes_with(token) == []
    finally:
        for pid in _processes_with(token):
            os.kill(pid, 9)


@needs_namespaces
def test_a_daemonized_process_is_gone_after_the_timeout_too(sandbox: Sandbox) -> None:
    token = f"{300 + random.randint(1, 10**6) / 10**7:.7f}"
    content = (
        "import os, subprocess, time\n\n\n"
        "def test_daemon():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()  # leaves the process group\n"
        f"        subprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
        "        os._exit(0)\n"
        "    time.sleep(60)\n"
    )
    try:
        result = _run(sandbox, content, timeout_s=2)
        assert "timed out" in result["error"], result
        assert _processes_with(token) == []
    finally:
        for pid in _processes_with(token):
            os.kill(pid, 9)


@needs_namespaces
def test_a_fork_bomb_is_contained_by_the_process_limit(sandbox: Sandbox) -> None:
    bounded = (
        "import os, time\n\n\n"
        "def test_bomb():\n"
        "    made = failed = 0\n"
        "    for _ in range(300):\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError:\n"
        "            failed += 1\n"
        "            continue\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        made += 1\n"
        "    with open('bomb.json', 'w') as f:\n"
        "        f.write(f'[{made}, {failed}]')\n"
    )
    result = _run(sandbox, bounded, path="tests/test_bomb.py")
    made, failed = json.loads(sandbox.read("bomb.json"))
    assert result["passed"] == 1 and made < Limits().processes and failed > 0, (made, failed)
    token = f"test_bomb_{random.getrandbits(32):x}"
    unbounded = "import os, time\n\n\ndef test_bomb():\n    while True:\n        try:\n            os.fork()\n" \
                "        except OSError:\n            time.sleep(0.05)\n"
    try:
        result = _run(sandbox, unbounded, timeout_s=2, path=f"tests/{token}.py")
        assert "timed out" in result["error"], result
        assert _processes_with(token) == []  # every copy is gone
    finally:
        for pid in _processes_with(token):
            os.kill(pid, 9)


def test_a_1gb_allocation_fails_cleanly(sandbox: Sandbox) -> None:
    result = _run(sandbox, "def test_alloc():\n    data = bytearray(10**9)\n    assert data\n")
    assert result["failed"] == 1 and result["exit_code"] == 1, result
    assert result["failures"] == ["FAILED tests/test_x.py::test_alloc - MemoryError"]


@needs_namespaces
def test_the_child_cannot_reach_a_server_of_the_parent(sandbox: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        content = (
            "import socket\n\n\n"
            "def test_connect():\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    except OSError as error:\n"
            "        raise AssertionError(f'unreachable: {error.strerror}') from None\n"
        )
        result = _run(sandbox, content)
        server.settimeout(0)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came
    [failure] = result["failures"]  # pytest cuts the line at 80 columns
    assert failure.startswith("FAILED tests/test_x.py::test_connect - AssertionError: unreachable: Network i"), result


def test_a_path_pytest_would_read_as_an_option_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    path = f"--junitxml={tmp_path}/test_x.py"
    test = SUBAGENTS["test"]
    written = test.call("write_test_file", {"content": "def test_a():\n    pass\n", "path": path}, sandbox, CONTEXT)
    assert "could read as an option" in written["error"], written
    sandbox.write("tests/-p/test_y.py", "def test_a():\n    pass\n")  # there already, however it came
    ran = test.call("run_tests", {"path": "tests/-p/test_y.py"}, sandbox, CONTEXT)
    assert "could read as an option" in ran["error"], ran
    assert not (tmp_path / "test_x.py").exists()
    assert sandbox.argument("tests/test_x.py") == "./tests/test_x.py"


def test_a_link_out_of_the_sandbox_is_never_read_back(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("def add(): 'the user secret'\n")
    content = f"import os\n\n\ndef test_link():\n    os.symlink({str(secret)!r}, 'tests/test_leak.py')\n"
    assert _run(sandbox, content)["passed"] == 1
    found = read_existing_tests(ToolEnv(sandbox, CONTEXT, 10))
    assert "the user secret" not in json.dumps(found)
    assert "tests/test_leak.py" not in sandbox.changed_files()


def test_a_test_file_nested_too_deeply_to_parse_is_an_error(sandbox: Sandbox) -> None:
    content = "x = " + " + ".join(["a"] * 200_000) + "\n"
    result = SUBAGENTS["test"].call("write_test_file", {"content": content, "path": "tests/test_deep.py"}, sandbox,
                                    CONTEXT)
    assert result["error"].startswith(("RecursionError", "MemoryError")), result


def test_ruff_runs_isolated_too(sandbox: Sandbox) -> None:
    sandbox.write("pkg/calc.py", "import os\n\n\n" + SOURCE)
    result = run_linter(ToolEnv(sandbox, CONTEXT, 30), check_only=True)
    assert [i["code"] for i in result["issues"]] == ["F401"]


async def test_without_namespaces_the_rest_still_holds_and_the_session_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = Isolation(namespaces=False, problem="jail: unshare: EPERM (forced by this test)")
    monkeypatch.setattr(isolation_module, "_probe", lambda: missing)
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "calc.py").write_text(SOURCE)
    outside = tmp_path / "outside.txt"
    content = ("import os\n\n\ndef test_key():\n    assert False, f\"KEY={os.environ.get('ANTHROPIC_API_KEY')}\"\n\n\n"
               f"def test_alloc():\n    open({str(outside)!r}, 'w').write('x')\n    assert bytearray(10**9)\n")
    calls = [ToolCall("write_test_file", {"content": content, "path": "tests/test_calc.py"}),
             ToolCall("run_tests", {"path": "tests/test_calc.py"}),
             ToolCall("submit_result", {"summary": "-", "tests_generated": 2, "tests_passing": 0,
                                        "changed_files": ["tests/test_calc.py"]})]
    node = SubagentNode(file="pkg/calc.py", node="add")
    await record_subagents("test", [node], repo, tmp_path / "run", ScriptedModel(calls))
    [log] = (tmp_path / "run" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["isolation"].startswith("NOT isolated (jail: unshare: EPERM (forced by this test))")
    assert "write outside the sandbox" in records[0]["isolation"]
    assert outside.exists()  # not prevented here, and the session says so
    assert KEY not in log.read_text() and "KEY=None" in log.read_text()
    assert "test_alloc - MemoryError" in log.read_text()  # the limits still apply


async def test_a_hostile_session_records_no_key_and_goes_on_after_the_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # the progress lines the recorder logs are checked too
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "calc.py").write_text(SOURCE)
    monkeypatch.setitem(SUBAGENTS, "test", quick_test_subagent(2))
    key_test = "import os\n\n\ndef test_key():\n    assert False, f\"KEY={os.environ.get('ANTHROPIC_API_KEY')}\"\n"
    lingering = key_test + "\n\ndef test_linger():\n    import time\n    time.sleep(60)\n"
    calls = [
        ToolCall("write_test_file", {"content": lingering, "path": "tests/test_calc.py"}),
        ToolCall("run_tests", {"path": "tests/test_calc.py"}),  # times out
        ToolCall("write_test_file", {"content": key_test, "path": "tests/test_calc.py"}),
        ToolCall("run_tests", {"path": "tests/test_calc.py"}),  # fails, showing what it found
        ToolCall("submit_result", {"summary": "1 test", "tests_generated": 1, "tests_passing": 0,
                                   "changed_files": ["tests/test_calc.py"]}),
    ]
    node = SubagentNode(file="pkg/calc.py", node="add")
    await record_subagents("test", [node], repo, tmp_path / "run", ScriptedModel(calls))
    [log] = (tmp_path / "run" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["kind"] == "session_start" and records[0]["isolation"] == PROBED.describe()
    assert records[-1]["kind"] == "session_end" and records[-1]["stopped"] == "submitted"
    assert records[-1]["turns"] == 5  # the turns after the timeout happened
    assert "run_tests timed out after 2 s" in log.read_text() or "pytest timed out after 2 s" in log.read_text()
    assert "KEY=None" in log.read_text()

    argv = ["--subagent", "test", "--repo", str(repo), "--file", "pkg/calc.py", "--node", "add",
            "--teacher", "replay", "--replay-from", str(tmp_path / "run"), "--out", str(tmp_path / "cli")]
    assert await asyncio.to_thread(record_main, argv) == 0
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and "repo" not in
                      p.parts)
    printed = capsys.readouterr()
    assert "pkg/calc.py:add [" in caplog.text  # the progress lines were there to check
    for text in (written, printed.out, printed.err, caplog.text):
        assert KEY not in text and "sk-ant" not in text
    assert (tmp_path / "cli" / "sessions").is_dir() and "KEY=None" in written


def test_when_namespaces_are_unavailable_it_is_said_once_and_the_tools_still_run() -> None:
    if shutil.which("unshare") is None or not PROBED.namespaces:
        pytest.skip(f"needs unshare and user namespaces to take them away (here: {PROBED.describe()})")
    script = (
        "import os, sys\n"
        "from tasks.subagents.isolation import run_isolated\n"
        "from tasks.subagents.sandbox import Sandbox\n"
        "with Sandbox.from_files({'a.py': ''}) as box:\n"
        "    for _ in range(2):\n"
        "        done = run_isolated([sys.executable, '-c', 'import os; print(sorted(os.environ))'], box.root, 10)\n"
        "        print(done.returncode, 'ANTHROPIC_API_KEY' in done.stdout)\n"
    )
    no_namespaces = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" -c \"$1\""
    done = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", no_namespaces, sys.executable, script],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[3],
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])})
    assert done.stdout.splitlines() == ["0 False", "0 False"], done.stderr
    [warning] = [line for line in done.stderr.splitlines() if "isolated" in line]
    assert "NOT isolated (jail: unshare: " in warning and "write outside the sandbox" in warning


def test_a_fifo_left_by_the_tested_code_is_an_error_not_a_hang(sandbox: Sandbox) -> None:
    content = ("import os\n\n\ndef test_fifo():\n    os.remove('pkg/calc.py')\n    os.mkfifo('pkg/calc.py')\n"
               "    os.mkfifo('tests/test_y.py')\n")
    assert _run(sandbox, content)["passed"] == 1
    test = SUBAGENTS["test"]
    results: list[dict[str, Any]] = []
    calls = [("analyze_signature", {}), ("read_existing_tests", {}),
             ("write_test_file", {"content": "def test_a():\n    pass\n", "path": "tests/test_y.py"})]
    worker = threading.Thread(target=lambda: results.extend(test.call(n, a, sandbox, CONTEXT) for n, a in calls),
                              daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "a tool blocked on a FIFO"
    signature, existing, written = results
    assert "not a regular file" in signature["error"] and "not a regular file" in written["error"]
    assert existing == {"files": [], "count": 0}


@needs_namespaces
def test_the_child_cannot_undo_the_jail(sandbox: Sandbox) -> None:
    content = (
        "import ctypes, json, os, subprocess\n\n\n"
        "def test_undo():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    outcome = {}\n"
        "    def attempt(name, result):\n"
        "        outcome[name] = 'done' if result == 0 else os.strerror(ctypes.get_errno())\n"
        "    attempt('remount / rw', libc.mount(None, b'/', None, ctypes.c_ulong(0x20 | 0x1000), None))\n"
        "    attempt('umount /tmp', libc.umount2(b'/tmp', 2))\n"
        "    attempt('new user namespace', libc.unshare(0x10000000 | 0x00020000))\n"
        "    with open('/proc/self/status') as f:\n"
        "        outcome['CapEff'] = [l.split()[1] for l in f if l.startswith('CapEff')][0]\n"
        "    with open('outcome.json', 'w') as f:\n"
        "        json.dump(outcome, f)\n"
    )
    result = _run(sandbox, content)
    assert result["passed"] == 1, result
    outcome = json.loads(sandbox.read("outcome.json"))
    assert "done" not in outcome.values() and outcome["CapEff"] == "0000000000000000", outcome


def _recorder(script: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A recorder of its own (a fresh process, so the credentials are in its initial environment)."""
    root = str(Path(__file__).parents[3])
    return subprocess.Popen([sys.executable, *script.split("\0")], cwd=cwd, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **env, "PYTHONPATH": root})


FORCE_NO_NAMESPACES = ("from tasks.subagents import isolation as isolation_module\n"
                       "isolation_module._probe = lambda: isolation_module.Isolation(False, 'forced by the test')\n")


def test_without_namespaces_the_child_cannot_read_the_recorders_environment(tmp_path: Path) -> None:
    key = f"sk-ant-api03-FAKE-environ-{random.getrandbits(64):x}"  # unique: other runs of this test hold theirs
    hostile = (
        "import os\n"
        "found, recorder = [], 'readable'\n"
        "with open(f'/proc/{os.getppid()}/stat') as f:  # the jail's parent\n"
        "    grandparent = int(f.read().rsplit(')', 1)[1].split()[1])\n"
        "for pid in (p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()):\n"
        "    for name in ('environ', 'mem'):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/{name}', 'rb') as f:\n"
        f"                if {key!r}.encode() in f.read(1 << 20):\n"
        "                    found.append(f'{pid}/{name}')\n"
        "        except OSError as error:\n"
        "            if int(pid) in (os.getppid(), grandparent) and name == 'environ':\n"
        "                recorder = error.strerror\n"
        "print(found, recorder)\n"
    )
    script = FORCE_NO_NAMESPACES + (
        "import sys\n"
        "from tasks.subagents.sandbox import Sandbox\n"
        "with Sandbox.from_files({'a.py': ''}) as box:\n"
        f"    done = isolation_module.run_isolated([sys.executable, '-c', {hostile!r}], box.root, 30)\n"
        "print(done.stdout.strip(), done.stderr.strip()[-300:])\n"
    )
    recorder = _recorder(f"-c\0{script}", {"ANTHROPIC_API_KEY": key}, tmp_path)
    out, err = recorder.communicate(timeout=60)
    assert out.strip() == "[] Permission denied", (out, err)  # before: ['<recorder pid>/environ'] readable


@needs_namespaces
def test_started_from_the_home_folder_the_home_folder_stays_hidden(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "token").write_text("user secret")
    child = f"import os; print(os.path.exists({str(home / '.config' / 'token')!r}))"
    (home / "probe_home.py").write_text(  # run as `python -m probe_home` from the home folder: sys.path[0] is it
        "import sys\n"
        "from tasks.subagents.isolation import run_isolated\n"
        "from tasks.subagents.sandbox import Sandbox\n"
        "with Sandbox.from_files({'a.py': ''}) as box:\n"
        f"    done = run_isolated([sys.executable, '-c', {child!r}], box.root, 30)\n"
        "print(done.stdout.strip(), done.stderr.strip()[-300:])\n"
    )
    recorder = _recorder("-m\0probe_home", {"HOME": str(home)}, home)
    out, err = recorder.communicate(timeout=60)
    assert out.strip() == "False", (out, err)  # before: True, the home folder bound back as sys.path[0]


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_nothing_outlives_a_killed_recorder_and_its_sandbox_is_removed_next_time(
    tmp_path: Path, namespaces: bool
) -> None:
    if namespaces and not PROBED.namespaces:
        pytest.skip(f"no namespace isolation on this machine ({PROBED.problem})")
    token = f"{300 + random.randint(1, 10**6) / 10**7:.7f}"
    start = FORCE_NO_NAMESPACES if not namespaces else "from tasks.subagents import isolation as isolation_module\n"
    script = start + (
        "import sys\n"
        "from tasks.subagents.sandbox import Sandbox\n"
        "box = Sandbox.from_files({'a.py': ''})\n"
        "print(box.root, flush=True)\n"
        f"isolation_module.run_isolated(['/bin/sh', '-c', 'sleep {token}; true'], box.root, 60)\n"
    )
    recorder = _recorder(f"-c\0{script}", {}, tmp_path)
    try:
        assert recorder.stdout is not None
        sandbox = Path(recorder.stdout.readline().strip())
        deadline = time.monotonic() + 20
        while len(_processes_with(f"sleep\0{token}")) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_with(f"sleep\0{token}"), recorder.stderr.read() if recorder.stderr else ""
        recorder.kill()
        recorder.wait()
        deadline = time.monotonic() + 5
        while _processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_with(token) == []  # before: the jail and its sleep ran on
        assert sandbox.is_dir()
        Sandbox.remove_abandoned()  # what every recording run does first
        assert not sandbox.exists()
    finally:
        recorder.kill()
        for pid in _processes_with(token):
            os.kill(pid, 9)


DEEP = "import os\n\n\ndef test_deep():\n    for _ in range(1200):\n        os.mkdir('d')\n        os.chdir('d')\n"
NOT_UTF8 = "def test_name():\n    open(b'tests/\\xff\\xfe.txt', 'w').write('x')\n"
SPARSE = ("def test_sparse():\n    for n in range(8):\n        with open(f'big{n}.bin', 'wb') as f:\n"
          "            f.truncate(63 * 2**20)\n")
LINKS = ("import os\n\n\ndef test_links():\n    open('one.txt', 'w').write('x' * 40000)\n"
         "    for n in range(2500):\n        os.link('one.txt', f'link{n}.txt')\n")


@pytest.mark.parametrize(("content", "said"), [
    (DEEP, "nested more than 64 deep"), (NOT_UTF8, "not UTF-8: b'tests/\\\\xff\\\\xfe.txt'"),
    (SPARSE, "more than 2000 files or 64 MiB"), (LINKS, "more than 2000 files or 64 MiB"),
], ids=["1200-deep", "not-utf8-name", "sparse-files", "hard-links"])
async def test_what_the_tested_code_leaves_is_a_tool_error_and_the_sandbox_is_removed(
    tmp_path: Path, content: str, said: str
) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "calc.py").write_text(SOURCE)
    calls = [ToolCall("write_test_file", {"content": content, "path": "tests/test_calc.py"}),
             ToolCall("run_tests", {"path": "tests/test_calc.py"}),
             ToolCall("read_existing_tests", {}),
             ToolCall("submit_result", {"summary": "-", "tests_generated": 1, "tests_passing": 1,
                                        "changed_files": ["tests/test_calc.py"]})]
    node = SubagentNode(file="pkg/calc.py", node="add")
    mine = f"subagent-{os.getpid()}-"
    before = {p.name for p in Path(tempfile.gettempdir()).glob(f"{mine}*")}
    tracemalloc.start()
    try:
        [outcome] = await record_subagents("test", [node], repo, tmp_path / "run", ScriptedModel(calls))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.state == "finished"  # before: RecursionError, UnicodeEncodeError, or 500 MB read
    [log] = (tmp_path / "run" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    said_back = [m["content"] for r in records if r["kind"] == "model" for m in r["input"]["history"]
                 if m.get("role") == "tool"]
    assert any(said in text and '"error"' in text for text in said_back), said_back
    assert records[-1]["kind"] == "session_end" and records[-1]["changed_files"] is None  # unknown, not wrong
    assert peak < 40 * 2**20, peak  # nothing of the sparse files or links was read
    assert {p.name for p in Path(tempfile.gettempdir()).glob(f"{mine}*")} <= before  # the sandbox is gone
    [again] = await record_subagents("test", [node], repo, tmp_path / "run", ScriptedModel([]), resume=True)
    assert again.state == "already_finished"
