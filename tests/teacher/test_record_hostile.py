"""`python -m teacher.record` under hostile servers and bad inputs: one line each, no traceback, no hang, no key.

Every case runs the real CLI (a subprocess where the exit, the output or a second process matters) against the
stand-in Anthropic server of tests/fake_anthropic.py on 127.0.0.1, and the real jedi language server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from interpreters.heuristic import HeuristicModel
from interpreters.lsp import LspServer
from interpreters.recording import SCHEMA_VERSION
from teacher.explore import TeachQuery
from teacher.record import main, record, session_id, summarise
from tests.conftest import REPO, SAMPLE_REPO, log_dicts
from tests.fake_anthropic import HOSTILE_KINDS, FakeAnthropic, Hostile
from tests.interpreters.test_lsp import silent_server
from tests.teacher.test_record import KEY, QUERIES, Choosing, assert_no_key, record_args, sessions, write_queries

CLI = [sys.executable, "-m", "teacher.record"]
DEFAULTS = {"budget": 5, "max_depth": 2, "breadth": 3}  # what record_args passes


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([*CLI, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, nearly full (needs root and mount: skipped with the reason elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill a disk: {made.stderr.strip() or made.returncode}")
    try:
        (mount / "filler").write_bytes(b"\0" * 60 * 1024)  # one 4 KiB page left
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def bad_input_cases(tmp_path: Path) -> list[tuple[str, list[str], int, str]]:
    """(name, argv, exit code, text the one line must hold)."""
    queries = write_queries(tmp_path / "q.jsonl", QUERIES[:1])
    base = ["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "heuristic"]
    outs = (str(tmp_path / f"out{number}") for number in range(1000))  # each case its own --out
    cases: list[tuple[str, list[str], int, str]] = []
    for flag, value, rule in [
        ("--concurrency", "0", "an integer >= 1"), ("--concurrency", "-3", "an integer >= 1"),
        ("--budget-usd", "nan", "a number of dollars >= 0"), ("--budget-usd", "-1", "a number of dollars >= 0"),
        ("--budget-usd", "inf", "a number of dollars >= 0"), ("--timeout", "0", "a number of seconds > 0"),
        ("--timeout", "nan", "a number of seconds > 0"), ("--timeout", "inf", "a number of seconds > 0"),
        ("--turn-timeout", "-1", "a number of seconds > 0"), ("--budget", "0", "an integer >= 1"),
        ("--max-depth", "-1", "an integer >= 0"), ("--breadth", "0", "an integer >= 1"),
        ("--thinking-tokens", "100", "an integer of thinking tokens >= 1024"),
        ("--batch-wait", "0", "a number of seconds > 0"), ("--poll-interval", "-1", "a number of seconds > 0"),
        ("--concurrency", "many", "an integer >= 1"),
    ]:
        cases.append((f"{flag} {value}", [*base, "--out", next(outs), flag, value], 2,
                      f"argument {flag}: expected {rule}, got "))
    cases.append(("missing --queries", ["--repo", str(SAMPLE_REPO), "--queries", str(tmp_path / "absent.jsonl"),
                                        "--teacher", "heuristic", "--out", next(outs)], 2, "absent.jsonl: cannot read"))
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(QUERIES[0]) + "\n{not json\n", encoding="utf-8")
    cases.append(("a bad queries line", [*base[:3], str(bad_json), *base[4:], "--out", next(outs)], 1,
                  "bad.jsonl:2: not JSON"))
    wrong_type = tmp_path / "wrong.jsonl"
    wrong_type.write_text(json.dumps({"topic": "t", "seeds": "order_total", "budget": "x"}) + "\n", encoding="utf-8")
    cases.append(("a wrong field type", [*base[:3], str(wrong_type), *base[4:], "--out", next(outs)], 1,
                  "wrong.jsonl:1: "))
    tokens = tmp_path / "tokens.jsonl"
    tokens.write_text(json.dumps(QUERIES[0]) + "\n" + json.dumps(
        {"topic": "Where is <end_of_turn> handled?", "seeds": ["order_total"]}) + "\n", encoding="utf-8")
    cases.append(("a control token in a queries topic", [*base[:3], str(tokens), *base[4:], "--out", next(outs)], 1,
                  "tokens.jsonl:2: topic contains the control token <end_of_turn>"))
    cases.append(("a control token in --topic", ["--repo", str(SAMPLE_REPO), "--topic",
                                                 "Where is <end_of_turn> handled?", "--symbol", "x", "--teacher",
                                                 "heuristic", "--out", next(outs)], 2,
                  "the --topic flag contains the control token <end_of_turn>"))
    cases.append(("a control token in --symbol", ["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol",
                                                  "a<start_function_call>", "--teacher", "heuristic", "--out",
                                                  next(outs)], 2,
                  "--symbol number 0 contains the control token <start_function_call>"))
    cases.append(("a blank --symbol", ["--repo", str(SAMPLE_REPO), "--topic", "t", "--symbol", " ", "--teacher",
                                       "heuristic", "--out", next(outs)], 2, "--symbol: expected a symbol name"))
    cases.append(("--max-failures 0", [*base, "--out", next(outs), "--max-failures", "0"], 2,
                  "argument --max-failures: expected an integer >= 1"))
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    cases.append(("--out is a file", [*base, "--out", str(a_file)], 2, "is not a directory"))
    cases.append(("--out under a file", [*base, "--out", str(a_file / "out")], 2,
                  "cannot write there: Not a directory"))
    cases.append(("an unknown --model", [*base[:4], "--teacher", "haiku", "--out", next(outs), "--model",
                                         "claude-nope"], 2,
                  "--model claude-nope: no price is known"))
    cases.append(("--replay-from missing", [*base[:4], "--teacher", "replay", "--replay-from", str(tmp_path / "none"),
                                            "--out", next(outs)], 2, "no recordings at"))
    # a session log of another schema version (a line of the wrong shape is set aside: see
    # test_a_wrong_shape_line_is_set_aside_and_a_stray_session_end_finishes_nothing)
    for name, line in [
        ("schema", {"schema": 99, "kind": "session_start", "session": "s"}),
    ]:
        corrupt = tmp_path / f"corrupt-{name}"
        sid = session_id(TeachQuery.model_validate({**QUERIES[0], "budget": 20, "max_depth": 3, "breadth": 5}))
        (corrupt / "sessions").mkdir(parents=True)
        (corrupt / "sessions" / f"{sid}.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
        cases.append((f"a session log with bad {name}", [*base, "--out", str(corrupt), "--resume"], 1,
                      f"{sid}.jsonl:1: {name}"))
    return cases


def test_bad_inputs_give_one_line_naming_the_file_line_or_flag_and_no_traceback(tmp_path: Path) -> None:
    cases = bad_input_cases(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: run_cli(case[1], timeout=60), cases))
    failures = []
    for (name, _, code, text), result in zip(cases, results, strict=True):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.returncode != code or len(lines) != 1 or text not in lines[0] or "Traceback" in result.stdout:
            failures.append(f"{name}: exit {result.returncode} (want {code}), stderr {result.stderr[-400:]!r}")
    assert not failures, "\n".join(failures)
    assert len(cases) >= 28


def test_a_full_disk_is_one_line_naming_the_file(tmp_path: Path, tiny_disk: Path) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES)
    result = run_cli(["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "heuristic", "--out",
                      str(tiny_disk / "out"), "--budget", "3"])
    no_traceback(result)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"teacher.record: {tiny_disk / 'out'}") and "No space left on device" in last


def test_a_summary_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    queries = write_queries(tmp_path / "q.jsonl", QUERIES[:1])
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").symlink_to("/dev/full")  # every write there fails with ENOSPC
    result = run_cli(["--repo", str(SAMPLE_REPO), "--queries", str(queries), "--teacher", "heuristic", "--out",
                      str(out), "--budget", "2"])
    no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"teacher.record: {out / 'summary.json'}: cannot write: No space left on device")


def test_a_hostile_server_never_hangs_the_run_and_resume_completes_it_once(tmp_path: Path) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    out = tmp_path / "out"
    fast = ["--timeout", "0.5", "--turn-timeout", "5", "--concurrency", "4"]
    # the kinds that end a turn at once come last, so the turns live long enough to meet every kind
    enders = ("retry_after_inf", "retry_after_huge", "echo_key", "unknown_model")
    kinds = tuple(kind for kind in HOSTILE_KINDS if kind not in enders) + enders
    with FakeAnthropic(responder=Choosing(), hostile=Hostile(kinds, drip_interval=0.2)) as server:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}
        started = time.perf_counter()
        hostile = run_cli([*record_args(out, queries), *fast], env=env, timeout=120)
        elapsed = time.perf_counter() - started
        assert set(server.hostile_kinds_served) == set(HOSTILE_KINDS), (server.hostile_kinds_served, hostile.stderr)
        no_traceback(hostile)
        assert hostile.returncode == 1 and elapsed < 60, hostile.stderr
        [line] = [line for line in hostile.stderr.splitlines() if line.startswith("teacher.record:")]
        assert "3 session(s) not finished" in line and "--resume" in line
        failed = sessions(out)
        assert all(r["kind"] != "session_end" for records in failed.values() for r in records)
        assert all(r["error"]["reason"] for records in failed.values() for r in records if r["kind"] == "model")
        assert_no_key(out, hostile.stdout, hostile.stderr)

        server.hostile = None  # the server recovers: --resume finishes every session
        resumed = run_cli([*record_args(out, queries), *fast, "--resume"], env=env)
    no_traceback(resumed)
    assert resumed.returncode == 0, resumed.stderr
    after = sessions(out)
    assert len(after) == 3 and all(records[-1]["kind"] == "session_end" for records in after.values())
    for records in after.values():
        keys = [r["key"] for r in records if r["kind"] == "model" and not r["error"]]
        assert keys and len(keys) == len(set(keys))  # every finished turn exactly once
    assert_no_key(out, resumed.stdout, resumed.stderr)


def test_a_wrong_key_leaves_every_session_unfinished_and_the_key_unwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    with FakeAnthropic(responder=Choosing(), hostile=Hostile(("echo_key",))) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        assert main(record_args(tmp_path / "out", queries)) == 1
        err = capsys.readouterr().err
        assert err.strip().splitlines()[-1].startswith("teacher.record: 3 session(s) not finished")
        assert "http_401" in err and "invalid x-api-key: [REDACTED]" in err
        assert not any(r["kind"] == "session_end" for rs in sessions(tmp_path / "out").values() for r in rs)
        assert_no_key(tmp_path / "out", err)
        server.hostile = None
        assert main(record_args(tmp_path / "out", queries, "--resume")) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["sessions_finished"] == 3 and summary["failed_sessions"] == 0


async def test_an_lsp_timeout_leaves_the_session_unfinished_and_resume_finishes_it(tmp_path: Path) -> None:

    query = TeachQuery(topic="How is the order total computed?", seeds=("order_total",), budget=2)
    silent = LspServer(SAMPLE_REPO, server_binary=silent_server(tmp_path, initialize=True), timeout=1)
    async with silent:
        summary = await record([query], tmp_path / "out", HeuristicModel(), silent)
    assert summary["failed_sessions"] == 1 and summary["sessions_finished"] == 0
    assert "lsp_unavailable" in summary["failures_this_run"]
    async with LspServer(SAMPLE_REPO) as lsp:
        summary = await record([query], tmp_path / "out", HeuristicModel(), lsp, resume=True)
    assert summary["failed_sessions"] == 0 and summary["sessions_finished"] == 1


def test_two_recorders_on_one_out_refuse_cleanly_and_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    out = tmp_path / "out"
    with FakeAnthropic(responder=Choosing(), latency=0.3) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO), "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}
        first = subprocess.Popen([*CLI, *record_args(out, queries, "--concurrency", "1")], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not server.message_requests() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (out / ".lock").read_text().strip() == str(first.pid)
            second = run_cli([*record_args(out, queries), "--resume"], env=env)
            no_traceback(second)
            assert second.returncode == 2
            assert second.stderr.strip() == (
                f"teacher.record: {out} is in use by another recorder (PID {first.pid}, per {out / '.lock'}): "
                "wait for it to end, or choose another --out")
        finally:
            first.send_signal(signal.SIGKILL)  # a crash: the kernel releases the lock, the file still names it
            first.wait()
        assert (out / ".lock").read_text().strip() == str(first.pid)
        taken = run_cli([*record_args(out, queries), "--resume"], env=env)
    no_traceback(taken)
    assert taken.returncode == 0, taken.stderr
    assert (out / ".lock").read_text() == ""  # released on exit
    assert all(records[-1]["kind"] == "session_end" for records in sessions(out).values())


def test_a_garbage_line_mid_log_is_set_aside_and_resume_asks_nothing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(tmp_path / "queries.jsonl")
    out = tmp_path / "out"
    with FakeAnthropic(responder=Choosing()) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        assert main(record_args(out, queries)) == 0
        path = max((out / "sessions").glob("*.jsonl"), key=lambda p: len(p.read_text().splitlines()))
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]  # drop session_end: unfinished
        middle = len(lines) // 2
        lines.insert(middle, '{"kind": "model", "turn": 9, garbage\n')
        path.write_text("".join(lines), encoding="utf-8")
        asked = len(server.message_requests())
        capsys.readouterr()
        assert main(record_args(out, queries, "--resume")) == 0
        assert len(server.message_requests()) == asked  # every finished turn answered from the log
    err = capsys.readouterr().err
    assert f"{path}: set aside unreadable line(s) {middle + 1} to {path.name}.torn" in err
    assert (path.parent / f"{path.name}.torn").read_text() == f"{path.name}:{middle + 1}: " + lines[middle]
    records, unreadable = log_dicts(path)
    assert unreadable == b"" and records[-1]["kind"] == "session_end"
    assert len(records) == len(lines)  # every line but the garbage one, plus the new session_end



def test_an_interrupt_during_a_dripped_body_is_one_line_and_resume_completes(tmp_path: Path) -> None:
    queries = write_queries(tmp_path / "queries.jsonl", QUERIES[:1])
    out = tmp_path / "out"
    with FakeAnthropic(responder=Choosing(), hostile=Hostile(("drip",), drip_interval=0.4)) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO), "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url,
               "PYTHONFAULTHANDLER": "1"}  # SIGABRT dumps every thread's stack: a hang shows where it waits
        process = subprocess.Popen([*CLI, *record_args(out, queries, "--timeout", "30")], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not server.hostile_served and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # mid-body
        process.send_signal(signal.SIGINT)
        try:  # the clean-up is cut off 20 s after the interrupt (teacher.interrupt), so 30 s is ample
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            stdout, stderr = process.communicate(timeout=30)
            pytest.fail(f"no exit within 30 s of SIGINT; its stacks:\n{stderr[-6000:]}")
        assert "Traceback" not in stdout + stderr, stderr[-2000:]
        assert process.returncode == 130
        last = stderr.strip().splitlines()[-1]
        assert last == f"teacher.record: interrupted; run again with --resume to continue {out}"
        server.hostile = None
        resumed = run_cli([*record_args(out, queries), "--resume"], env=env)
    no_traceback(resumed)
    assert resumed.returncode == 0 and all(rs[-1]["kind"] == "session_end" for rs in sessions(out).values())
    assert_no_key(out, stdout, stderr, resumed.stdout, resumed.stderr)


def test_a_subagent_session_whose_turn_failed_is_not_finished_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["--repo", str(SAMPLE_REPO), "--subagent", "docstring", "--file", "shop/pricing.py", "--node",
            "order_total", "--teacher", "haiku", "--out", str(out), "--timeout", "5"]
    with FakeAnthropic(hostile=Hostile(("echo_key",))) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.strip().splitlines()[-1].startswith("teacher.record: 1 session(s) not finished")
        assert "Traceback" not in err
        assert not any(r["kind"] == "session_end" for rs in sessions(out).values() for r in rs)
        assert_no_key(out, err)
        server.hostile = None
        assert main([*args, "--resume"]) == 0
    ends = [r for rs in sessions(out).values() for r in rs if r["kind"] == "session_end"]
    assert len(ends) == 1


def _holder(folder: Path) -> subprocess.Popen[str]:
    """Another recorder holding ``folder``'s lock (as a run on it would) until killed."""
    script = ("import sys, time\nfrom pathlib import Path\nfrom teacher.dir_lock import hold\n"
              "with hold(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(300)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_nested_outs_exclude_each_other(tmp_path: Path) -> None:
    out = tmp_path / "out"
    several = ["--repo", str(SAMPLE_REPO), "--repo", str(REPO / "examples"), "--topic", "How are orders priced?",
               "--symbol", "Order", "--teacher", "heuristic", "--out", str(out), "--budget", "1", "--no-invert"]
    first = run_cli(several)
    assert first.returncode == 0, first.stderr
    inner = out / "repos" / SAMPLE_REPO.name
    one = ["--repo", str(SAMPLE_REPO), "--topic", "How are orders priced?", "--symbol", "Order", "--teacher",
           "heuristic", "--out", str(inner), "--budget", "1", "--no-invert", "--resume"]
    for held, argv in ((out, one), (inner, [*several, "--resume"])):  # a run of several repositories, then one
        holder = _holder(held)
        try:
            refused = run_cli(argv)
        finally:
            holder.kill()
            holder.wait()
        no_traceback(refused)
        assert refused.returncode == 2, refused.stderr  # before: both ran, duplicating turns and session_end lines
        assert refused.stderr.startswith(f"teacher.record: {held} is in use by another recorder (PID {holder.pid}")


@pytest.mark.parametrize("stray", ["bare", "other-session", "mid-log", "wrong-turn-count"])
def test_a_wrong_shape_line_is_set_aside_and_a_stray_session_end_finishes_nothing(
    tmp_path: Path, stray: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--repo", str(SAMPLE_REPO), "--topic", "How are orders priced?", "--symbol", "Order", "--teacher",
            "heuristic", "--out", str(out), "--budget", "2", "--no-invert"]
    assert main(argv) == 0
    [path] = (out / "sessions").glob("*.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    end = json.loads(lines.pop())  # unfinished now
    wrong_shape = json.dumps({"schema": SCHEMA_VERSION, "kind": "model", "key": "k", "calls": {"name": "x"}}) + "\n"
    lines.insert(2, wrong_shape)
    ends = {"bare": {"schema": SCHEMA_VERSION, "kind": "session_end"},
            "other-session": {**end, "session": "0123456789abcdef"},
            "mid-log": end, "wrong-turn-count": {**end, "turns": 1}}
    at = 3 if stray == "mid-log" else len(lines)
    lines.insert(at, json.dumps(ends[stray]) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    assert summarise(out)["sessions_finished"] == 0  # before: the stray line counted it finished
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0  # before: the wrong-shape line stopped it (exit 1)
    err = capsys.readouterr().err
    assert f"set aside unreadable line(s) 3 to {path.name}.torn" in err
    records, unreadable = log_dicts(path)
    assert unreadable == b"" and records[-1]["kind"] == "session_end" and records[-1]["session"] == path.stem
    assert summarise(out)["sessions_finished"] == 1
    keys = [r["key"] for r in records if r["kind"] == "model"]
    assert len(keys) == len(set(keys))  # no turn asked twice


def test_after_max_failures_sessions_in_a_row_fail_no_further_session_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    five = [{"topic": f"{q['topic']} (take {n})", "seeds": q["seeds"]} for n in range(2) for q in QUERIES][:5]
    queries = write_queries(tmp_path / "queries.jsonl", five)
    with FakeAnthropic(responder=Choosing(), hostile=Hostile(("echo_key",))) as server:  # every turn: 401
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        code = main(record_args(tmp_path / "out", queries, "--concurrency", "1", "--max-failures", "2"))
        asked = len(server.message_requests())
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("teacher.record: 2 session(s) not finished"), last  # before: all 5 were asked
    assert "stopped after 2 in a row, 3 session(s) not started; run again with --resume" in last
    assert len(list((tmp_path / "out" / "sessions").glob("*.jsonl"))) == 2 and asked >= 2
