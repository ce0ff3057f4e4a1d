"""Reading logs: which lines are calls, how a response is counted once, where the logs are, what is skipped."""

import errno
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import ccusage
import logsynth
from logsynth import assistant_line, progress_copy, user_line, write_lines
from support import daily_by_model, sessions_by_id, tokens_of, truth_daily_by_model, truth_tokens

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"


def session_tokens(env, *args, **kwargs):
    report = env.run("session", "--json", "-z", "UTC", *args, **kwargs).json()
    return {s: tokens_of(entry) for s, entry in sessions_by_id(report).items()}


# ---------------------------------------------------------------------------
# Generated trees: every report equals the generator's truth
# ---------------------------------------------------------------------------

def sum_totals(items):
    total = logsynth.Totals()
    for item in items:
        total.add(item)
    return total


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_daily_report_equals_the_generated_truth(env, synth, seed):
    tree = synth(seed)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == truth_daily_by_model(tree.truth)
    for day in report["daily"]:
        assert tokens_of(day) == truth_tokens(sum_totals(tree.truth.days[day["date"]].values()))
    assert tokens_of(report["totals"]) == truth_tokens(tree.truth.total)


@pytest.mark.parametrize("seed", [1, 4])
def test_session_report_equals_the_generated_truth(env, synth, seed):
    tree = synth(seed)
    sessions = sessions_by_id(env.run("session", "--json", "-z", "UTC").json())
    assert {s: tokens_of(e) for s, e in sessions.items()} == \
        {s: truth_tokens(t) for s, t in tree.truth.sessions.items()}
    # the project is the cwd the lines name, not the lossy directory name
    assert {s: e["projectPath"] for s, e in sessions.items()} == tree.truth.session_projects


def test_a_large_tree_equals_the_generated_truth(env, synth):
    # Big enough (60 MB) for whatever ccusage does with large inputs, such as reading in parallel.
    tree = synth(15, mb=60, days=60)
    assert daily_by_model(env.run("daily", "--json", "-z", "UTC").json()) == truth_daily_by_model(tree.truth)
    assert session_tokens(env) == {s: truth_tokens(t) for s, t in tree.truth.sessions.items()}


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu"])
def test_daily_report_in_other_zones_equals_the_generated_truth(env, synth, zone):
    # Berlin and New York return to winter time within these 30 days; Kathmandu is 5:45 ahead
    # of UTC, so its days do not start on a UTC hour.
    tree = synth(13, days=30)
    report = env.run("daily", "--json", "-z", zone).json()
    assert daily_by_model(report) == {(day, model): truth_tokens(t) for day, models in
                                      tree.truth.local_days(ZoneInfo(zone)).items() for model, t in models.items()}


def test_reading_in_small_chunks_changes_nothing(env, synth, monkeypatch):
    """Chunk boundaries fall inside lines, multi-byte characters and the torn last line."""
    monkeypatch.setattr(ccusage, "READ_CHUNK_BYTES", 997)
    tree = synth(6)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == truth_daily_by_model(tree.truth)


def share_reading(monkeypatch, helpers):
    """Make even a small first read go to `helpers` forked processes, in small batches."""
    monkeypatch.setattr(ccusage, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ccusage, "BULK_MIN_BYTES", 0)
    monkeypatch.setattr(ccusage, "BATCH_BYTES", 64 * 1024)
    monkeypatch.setattr(ccusage, "reader_processes", lambda new_bytes, files: helpers)


def test_reading_shared_with_forked_processes_equals_the_generated_truth(env, synth, monkeypatch, tmp_path):
    share_reading(monkeypatch, 3)
    readers = tmp_path / "readers"
    read_log = ccusage.read_log
    this_process = os.getpid()

    def noting_the_reader(job):
        with open(readers, "a") as f:
            f.write(f"{os.getpid()}\n")
        # Each reader waits on its first file until this process and a helper have both begun,
        # so that neither, however slow to start, finds the work gone.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = set(readers.read_text().split())
            if str(this_process) in pids and len(pids) > 1:
                break
            time.sleep(0.005)
        return read_log(job)

    monkeypatch.setattr(ccusage, "read_log", noting_the_reader)
    tree = synth(5, days=20)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == truth_daily_by_model(tree.truth)
    assert session_tokens(env) == {s: truth_tokens(t) for s, t in tree.truth.sessions.items()}
    pids = readers.read_text().split()
    assert len(pids) == len(list(env.claude.rglob("*.jsonl")))
    assert str(os.getpid()) in pids and len(set(pids)) > 1


def break_the_helpers(env, monkeypatch, how):
    """Make every forked reader call how() on its first batch; this process reads as ever."""
    share_reading(monkeypatch, 1)
    this_process = os.getpid()
    read_logs, read_log = ccusage.read_logs, ccusage.read_log
    started = env.tmp / "a helper started"

    def broken_in_a_helper(jobs):
        if os.getpid() != this_process:
            started.touch()
            how()
        return read_logs(jobs)

    def once_a_helper_started(job):
        # However slow a helper is to start, this process leaves it a batch to break on.
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        return read_log(job)

    monkeypatch.setattr(ccusage, "read_logs", broken_in_a_helper)
    monkeypatch.setattr(ccusage, "read_log", once_a_helper_started)
    return read_logs


def test_a_reader_process_that_dies_leaves_the_store_untouched(env, synth, monkeypatch):
    read_logs = break_the_helpers(env, monkeypatch, lambda: os._exit(3))
    tree = synth(2)
    result = env.run("daily", "--json")
    assert result.code == 1 and result.out == ""
    assert re.fullmatch(r"ccusage: error: a reader process stopped before it finished; .*\n", result.err)
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("SELECT (SELECT count(*) FROM calls) + (SELECT count(*) FROM files)").fetchone() == (0,)
    monkeypatch.setattr(ccusage, "read_logs", read_logs)
    assert daily_by_model(env.run("daily", "--json", "-z", "UTC").json()) == truth_daily_by_model(tree.truth)


def test_a_reader_process_that_fails_says_why_in_one_line(env, synth, monkeypatch):
    def an_unforeseen_bug():
        raise TypeError("an unforeseen bug")

    break_the_helpers(env, monkeypatch, an_unforeseen_bug)
    synth(2)
    result = env.run("daily", "--json")
    assert result.code == 1 and result.out == ""
    assert re.fullmatch(r"ccusage: error: a reader process failed \(TypeError: an unforeseen bug\); .*\n", result.err)


def test_reading_goes_on_without_helpers_when_none_can_be_forked(env, synth, monkeypatch):
    share_reading(monkeypatch, 2)
    forks = []

    def fork_fails_the_second_time():
        forks.append(1)
        if len(forks) == 2:
            raise OSError(11, "Resource temporarily unavailable")
        return real_fork()

    real_fork = os.fork
    monkeypatch.setattr(os, "fork", fork_fails_the_second_time)
    tree = synth(9)
    assert daily_by_model(env.run("daily", "--json", "-z", "UTC").json()) == truth_daily_by_model(tree.truth)
    assert len(forks) == 2


def test_a_large_read_into_a_store_holding_some_of_its_calls_counts_them_once(env, synth, monkeypatch, tmp_path):
    """The rollups rebuilt at the end of a large read include what the store held before."""
    tree = synth(7)
    first = env.run("daily", "--json", "-z", "UTC").json()
    copy = tmp_path / "copy"
    shutil.copytree(env.claude, copy)
    more = logsynth.synthesize(copy, 8, end=logsynth.DEFAULT_END - timedelta(days=40))
    share_reading(monkeypatch, 1)
    both = env.run("daily", "--json", "-z", "UTC", data_dirs=[env.claude, copy]).json()
    expected = truth_daily_by_model(tree.truth)
    for key, tokens in truth_daily_by_model(more.truth).items():
        expected[key] = tuple(a + b for a, b in zip(expected.get(key, (0, 0, 0, 0)), tokens))
    assert daily_by_model(both) == expected
    assert daily_by_model(env.run("daily", "--json", "-z", "UTC").json()) == daily_by_model(first)


def test_real_claude_code_1_0_17_transcripts(env, tmp_path):
    """Three real transcripts (shared/fixtures) with placeholder output on early lines."""
    fixture = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "claude-code-1.0.17"
    if not fixture.is_dir():
        pytest.skip(f"{fixture} is not beside this checkout")
    root = tmp_path / "real"
    shutil.copytree(fixture, root)
    report = env.run("daily", "--json", "-z", "UTC", data_dirs=[root]).json()
    # The expected figures are those of the fixture's README.
    assert {d["date"]: tokens_of(d) for d in report["daily"]} == {
        "2025-06-08": (205, 19035, 190624, 4257841),
        "2025-06-10": (88, 278, 16000, 44544),
    }


# ---------------------------------------------------------------------------
# One response, several lines
# ---------------------------------------------------------------------------

def test_response_lines_count_once_with_max_output_on_the_first_lines_day(env):
    # Claude Code writes a line per content block; early lines carry a placeholder output_tokens.
    lines = [assistant_line(ts=ts, msg_id="msg_A", request_id="req_A", input=7, cache_5m=300, cache_read=9000,
                            output=out)
             for ts, out in (("2026-11-20T23:59:59.700Z", 3), ("2026-11-21T00:00:00.300Z", 12),
                             ("2026-11-21T00:00:01.100Z", 640))]
    write_lines(env.log(), lines)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == {("2026-11-20", SONNET): (7, 640, 300, 9000)}


def test_a_tie_on_output_takes_the_later_lines_model(env):
    first = assistant_line(msg_id="msg_T", request_id="req_T", model="claude-opus-4-6", input=1, output=50)
    later = assistant_line(msg_id="msg_T", request_id="req_T", model="claude-opus-4-8", input=1, output=50,
                           ts="2026-11-20T12:00:01.000Z")
    write_lines(env.log(), [first, later])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == {("2026-11-20", "claude-opus-4-8"): (1, 50, 0, 0)}


def test_lines_without_request_id_group_by_message_id(env):
    lines = [assistant_line(msg_id="msg_N", input=4, output=out) for out in (2, 90)]
    for line in lines:
        del line["requestId"]
    write_lines(env.log(), lines)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert tokens_of(report["totals"]) == (4, 90, 0, 0)


def test_a_response_continued_in_another_file_counts_once(env):
    # After a resume, a new transcript may repeat lines of the old one.
    line = assistant_line(msg_id="msg_R", request_id="req_R", input=3, output=70, session="old")
    write_lines(env.log("old"), [line])
    write_lines(env.log("new"), [dict(line, sessionId="new")])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert tokens_of(report["totals"]) == (3, 70, 0, 0)


# ---------------------------------------------------------------------------
# Subagents and their copies in progress lines
# ---------------------------------------------------------------------------

def subagent_reply(**fields):
    line = assistant_line(session="parent", model=HAIKU, **fields)
    line.update(isSidechain=True, agentId="a1b2c3d")
    return line


def test_progress_copy_and_subagent_file_count_once_for_the_parent(env):
    reply = subagent_reply(msg_id="msg_S", request_id="req_S", input=5, output=80, cache_read=1000)
    write_lines(env.log("parent", agent="a1b2c3d"), [reply])
    write_lines(env.log("parent"), [user_line(session="parent"), progress_copy(reply),
                                    assistant_line(session="parent", input=1, output=10)])
    assert session_tokens(env) == {"parent": (6, 90, 0, 1000)}


def test_a_progress_copy_without_its_subagent_file_counts_at_the_calls_time(env):
    # The subagent file is gone: the copy is the only record.  The progress line itself was
    # written after midnight; the call it copies was made before.
    reply = subagent_reply(msg_id="msg_O", request_id="req_O", input=9, output=33, ts="2026-11-20T23:59:59.900Z")
    write_lines(env.log("parent"), [progress_copy(reply, ts="2026-11-21T00:00:02.000Z")])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == {("2026-11-20", HAIKU): (9, 33, 0, 0)}
    assert session_tokens(env) == {"parent": (9, 33, 0, 0)}


def test_progress_copies_beside_a_2_0_subagent_file_count_once(env):
    reply = subagent_reply(msg_id="msg_F", request_id="req_F", input=3, output=30)
    write_lines(os.path.join(os.path.dirname(env.log()), "agent-a1b2c3d.jsonl"), [reply])
    write_lines(env.log("parent"), [progress_copy(reply, agent_id="a1b2c3d"), progress_copy(reply, agent_id="a1b2c3d")])
    assert session_tokens(env) == {"parent": (3, 30, 0, 0)}


def test_subagent_lines_belong_to_the_parent_session(env):
    # 2.1 layout: <parent>/subagents/agent-<id>.jsonl, even when its lines name no session;
    # 2.0 layout: agent-<id>.jsonl beside the sessions, whose lines name the parent.
    nested = subagent_reply(input=1, output=11)
    del nested["sessionId"]
    write_lines(env.log("parent", agent="a1b2c3d"), [nested])
    write_lines(os.path.join(os.path.dirname(env.log()), "agent-9f8e7d6.jsonl"),
                [dict(subagent_reply(input=2, output=22), sessionId="older-parent")])
    assert session_tokens(env) == {"parent": (1, 11, 0, 0), "older-parent": (2, 22, 0, 0)}


def test_sessions_are_found_when_the_data_dir_sits_below_a_directory_named_subagents(env):
    # Only the part of a path below projects/ says whether a file is a subagent's.
    root = env.tmp / "subagents" / "claude"
    for session, output in (("s-one", 10), ("s-two", 20)):
        write_lines(logsynth.session_path(str(root), session), [assistant_line(session=session, output=output)])
    assert session_tokens(env, data_dirs=[root]) == {"s-one": (0, 10, 0, 0), "s-two": (0, 20, 0, 0)}


# ---------------------------------------------------------------------------
# Lines that bill nothing
# ---------------------------------------------------------------------------

def test_only_assistant_lines_with_usage_bill(env):
    synthetic = assistant_line(model="<synthetic>", input=100, output=100)
    synthetic["isApiErrorMessage"] = True
    unknown = assistant_line(input=1000, output=1000)
    unknown["type"] = "x-future-line-type"
    task_result = user_line()
    task_result["toolUseResult"] = {"status": "completed", "usage": {"input_tokens": 500, "output_tokens": 500}}
    no_usage = assistant_line()
    del no_usage["message"]["usage"]
    hook = {"type": "progress", "data": {"type": "hook_progress", "hookEvent": "PostToolUse"},
            "timestamp": "2026-11-20T12:00:00.000Z", "sessionId": "s1"}
    write_lines(env.log(), [
        {"type": "summary", "summary": "Fix the build", "leafUuid": "x"},
        user_line(), synthetic, unknown, task_result, no_usage, hook,
        {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}},
        {"type": "system", "content": "compacted", "timestamp": "2026-11-20T12:00:00.000Z"},
        assistant_line(input=2, output=20),
    ])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == {("2026-11-20", SONNET): (2, 20, 0, 0)}


def test_a_timestamp_with_a_utc_offset(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-21T01:30:00.000+02:00", output=5)])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert daily_by_model(report) == {("2026-11-20", SONNET): (0, 5, 0, 0)}


# ---------------------------------------------------------------------------
# Where the logs are
# ---------------------------------------------------------------------------

def write_call(root, session, output):
    write_lines(logsynth.session_path(str(root), session), [assistant_line(session=session, output=output)])


def test_claude_config_dir_names_several_roots(env, monkeypatch):
    write_call(env.tmp / "work-claude", "from-work", 10)
    write_call(env.home / "alt-claude", "from-alt", 20)
    write_call(env.home / ".claude", "from-default", 40)   # replaced by CLAUDE_CONFIG_DIR: not read
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{env.tmp / 'work-claude' / 'projects'},~/alt-claude")
    report = env.run_raw("session", "--json", "--db", env.db).json()
    assert {s["sessionId"]: s["outputTokens"] for s in report["sessions"]} == {"from-work": 10, "from-alt": 20}


def test_both_default_roots_are_read(env):
    write_call(env.config_home / "claude", "from-xdg", 10)
    write_call(env.home / ".claude", "from-dot-claude", 20)
    report = env.run_raw("session", "--json", "--db", env.db).json()
    assert {s["sessionId"]: s["outputTokens"] for s in report["sessions"]} == \
        {"from-xdg": 10, "from-dot-claude": 20}


def test_a_transcript_present_under_both_default_roots_counts_once(env):
    write_call(env.config_home / "claude", "copied", 10)
    shutil.copytree(env.config_home / "claude", env.home / ".claude")
    report = env.run_raw("daily", "--json", "--db", env.db).json()
    assert report["totals"]["outputTokens"] == 10


def test_reports_cover_the_data_dirs_in_use(env):
    write_call(env.tmp / "a", "only-in-a", 10)
    write_call(env.tmp / "b", "only-in-b", 20)
    write_call(env.tmp / "a", "in-both", 40)
    shutil.copy(logsynth.session_path(str(env.tmp / "a"), "in-both"),
                Path(logsynth.session_path(str(env.tmp / "b"), "only-in-b")).parent)
    both = env.run("session", "--json", data_dirs=[env.tmp / "a", env.tmp / "b"]).json()
    assert sum(s["outputTokens"] for s in both["sessions"]) == 70
    for root, expected in (("a", {"only-in-a": 10, "in-both": 40}), ("b", {"only-in-b": 20, "in-both": 40})):
        report = env.run("session", "--json", data_dirs=[env.tmp / root]).json()
        assert {s["sessionId"]: s["outputTokens"] for s in report["sessions"]} == expected, root


def test_missing_default_roots_are_not_an_error(env):
    result = env.run_raw("daily", "--json", "--db", env.db)
    assert result.code == 0
    assert result.json()["daily"] == []
    assert "Traceback" not in result.err


def test_data_dir_overrides_claude_config_dir(env, monkeypatch):
    write_call(env.tmp / "configured", "configured", 10)
    write_call(env.claude, "named", 20)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.tmp / "configured"))
    report = env.run("session", "--json").json()
    assert [s["sessionId"] for s in report["sessions"]] == ["named"]


# ---------------------------------------------------------------------------
# Garbage
# ---------------------------------------------------------------------------

def _line(**changes):
    """An assistant line (as bytes) with some of its fields replaced."""
    line = assistant_line(input=1000, output=1000)
    usage = line["message"]["usage"]
    for key, value in changes.items():
        if key in usage:
            usage[key] = value
        elif key == "usage":
            line["message"]["usage"] = value
        elif key == "message":
            line["message"] = value
        else:
            line[key] = value
    return logsynth.dumps(line).encode()


# Each is a line that must be skipped and counted as malformed.
MALFORMED = {
    "not json": b"not json at all",
    "array": b"[1, 2, 3]",
    "string": b'"just a string"',
    "number": b"42",
    "usage is a string": _line(usage="lots"),
    "tokens are strings": _line(input_tokens="12"),
    "negative tokens": _line(output_tokens=-5),
    "boolean tokens": _line(output_tokens=True),
    "timestamp is a number": _line(timestamp=1763683200),
    "message is a list": _line(message=[{"usage": {"input_tokens": 1000}}]),
    "binary bytes": b"\x00\x01\xfe\xff\x80garbage\x1b[2J",
    "invalid UTF-8 in a call": _line().replace(b'"text":"ok"', b'"text":"\xff\xfe"'),
    "cut short by a crash": _line()[:150],
}
# Lines with no usage key are not parsed (most of a log's bytes are in them):
# damage inside one that keeps the shape of an object is passed over uncounted.
DAMAGED_BUT_UNBILLED = {
    "not json, braced": b"{oops}",
    "invalid UTF-8 in a user line": logsynth.dumps(user_line("caf\udce9")).encode("utf-8", "surrogateescape"),
}


def test_malformed_lines_change_no_totals(env):
    good = [assistant_line(input=1, output=10), assistant_line(input=2, output=20, cache_read=300)]
    deep = b'{"a":' * 100_000 + b'{"usage":{}}' + b"}" * 100_000   # deeper than Python's JSON parser goes
    write_lines(env.log(), [good[0]] + list(MALFORMED.values()) + list(DAMAGED_BUT_UNBILLED.values())
                + [deep, good[1]])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert result.code == 0 and "Traceback" not in result.err
    assert tokens_of(result.json()["totals"]) == (3, 30, 0, 300)


def count_reported_for(stderr, path):
    """The number --verbose gives on the line that names path."""
    lines = [line.replace(str(path), "") for line in stderr.splitlines() if str(path) in line]
    assert lines, stderr
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", lines[0])]


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_verbose_counts_each_malformed_line_where_it_is(env, kind):
    path = write_lines(env.log(), [assistant_line(output=10), MALFORMED[kind], assistant_line(output=20)])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert result.json()["totals"]["outputTokens"] == 30
    assert count_reported_for(result.err, path) == [1]


def test_a_line_longer_than_the_limit_is_skipped(env, monkeypatch):
    monkeypatch.setattr(ccusage, "MAX_LINE_BYTES", 1_000_000)
    huge = user_line("x" * 9_000_000)   # spans several read chunks
    path = write_lines(env.log(), [assistant_line(output=10), huge, assistant_line(output=20)])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert result.json()["totals"]["outputTokens"] == 30
    assert count_reported_for(result.err, path) == [1]


def test_symlink_loops_and_dangling_links(env):
    write_lines(env.log(), [assistant_line(output=10)])
    projects = env.claude / "projects"
    project = Path(env.log()).parent
    os.symlink(project, project / "loop")                   # a directory inside itself
    os.symlink(projects / "pong", projects / "ping")        # two links pointing at each other
    os.symlink(projects / "ping", projects / "pong")
    os.symlink("self.jsonl", project / "self.jsonl")        # a file link pointing at itself
    os.symlink("/nonexistent/x.jsonl", project / "gone.jsonl")
    os.symlink(project, projects / "second-path")           # the same transcripts twice: count once
    # In a subprocess: a loop that is followed would hang the test run instead of failing it.
    result = env.module("daily", "--json", "-z", "UTC", timeout=30)
    assert result.code == 0 and "Traceback" not in result.err
    assert result.json()["totals"]["outputTokens"] == 10


@pytest.fixture
def deny(monkeypatch):
    """deny(path): make a file or directory unreadable to ccusage; allow(path) undoes it.

    chmod 000 does not stop root, so as root ccusage's open(), os.open() and
    os.scandir() of that path fail with EACCES as they would for anyone else.
    """
    denied = set()
    as_root = os.geteuid() == 0
    if as_root:
        real_open, real_os_open, real_scandir = open, os.open, os.scandir

        def guard(path):
            if os.fspath(path) in denied:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

        def fake_open(path, *args, **kwargs):
            guard(path)
            return real_open(path, *args, **kwargs)

        def fake_os_open(path, *args, **kwargs):
            guard(path)
            return real_os_open(path, *args, **kwargs)

        def fake_scandir(path="."):
            guard(path)
            return real_scandir(path)

        monkeypatch.setattr(ccusage, "open", fake_open, raising=False)
        monkeypatch.setattr(os, "open", fake_os_open)
        monkeypatch.setattr(os, "scandir", fake_scandir)

    class Deny:
        def __call__(self, path):
            denied.add(str(path))
            if not as_root:
                os.chmod(path, 0)

        def allow(self, path):
            denied.discard(str(path))
            if not as_root:
                os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)

    handle = Deny()
    yield handle
    for path in list(denied):
        handle.allow(path)


def test_unreadable_file_and_directory_are_reported_and_read_later(env, deny):
    write_lines(env.log("readable"), [assistant_line(session="readable", output=10)])
    locked_file = write_lines(env.log("locked"), [assistant_line(session="locked", output=20)])
    locked_dir = Path(env.log("hidden", cwd="/home/u/secret")).parent
    write_lines(env.log("hidden", cwd="/home/u/secret"), [assistant_line(session="hidden", output=40)])
    deny(locked_file)
    deny(locked_dir)
    result = env.run("session", "--json", "--verbose")
    assert result.code == 0 and "Traceback" not in result.err
    assert {s["sessionId"]: s["outputTokens"] for s in result.json()["sessions"]} == {"readable": 10}
    assert str(locked_file) in result.err and str(locked_dir) in result.err
    deny.allow(locked_file)
    deny.allow(locked_dir)
    again = env.run("session", "--json").json()
    assert {s["sessionId"]: s["outputTokens"] for s in again["sessions"]} == \
        {"readable": 10, "locked": 20, "hidden": 40}


def test_a_file_unreadable_alone_is_read_once_it_can_be(env, deny):
    """Nothing else changes between the runs: the walk finds what it found before."""
    write_lines(env.log("readable"), [assistant_line(session="readable", output=10)])
    locked_file = write_lines(env.log("locked"), [assistant_line(session="locked", output=20)])
    deny(locked_file)
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 10
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 10
    deny.allow(locked_file)
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 30


@pytest.mark.parametrize("damage", [
    pytest.param(dict(output=2 ** 63), id="a count past 64 bits"),
    pytest.param(dict(output=2 ** 40), id="a count no call comes near"),
    pytest.param(dict(ts="0001-01-01T00:00:00Z"), id="the year 1"),
    pytest.param(dict(ts="9999-12-31T23:59:59-05:00"), id="past the year 9999"),
])
def test_absurd_values_are_skipped_and_counted(env, damage):
    path = write_lines(env.log(), [assistant_line(output=10), assistant_line(**damage), assistant_line(output=20)])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert result.json()["totals"]["outputTokens"] == 30
    assert count_reported_for(result.err, path) == [1]
    assert env.run("session", "--json").code == 0 and env.run("blocks", "--json").code == 0


def test_an_absurd_cost_from_an_old_log_is_not_believed(env):
    line = assistant_line(model="claude-sonnet-4-5-20250929", input=1_000, ts="2025-05-01T12:00:00.000Z")
    line["costUSD"] = 10 ** 400
    write_lines(env.log(), [line])
    assert env.run("daily", "--json").json()["totals"]["totalCost"] == pytest.approx(1_000 * 3 / 1_000_000)


# ---------------------------------------------------------------------------
# Lines written otherwise, and what is no log at all
# ---------------------------------------------------------------------------

def test_lines_written_with_json_default_spacing_bill_as_compact_ones(env):
    # As json.dumps writes them, or a tool that re-serialises transcripts.
    spaced = assistant_line(input=1, output=10)
    indented = " " + json.dumps(assistant_line(input=2, output=20), separators=(",", " : "))
    orphan = subagent_reply(msg_id="msg_P", request_id="req_P", input=4, output=40)
    user = user_line("the assistant's usage, as a user line", session="s1")
    # Only the first pair spaced, before its colon: the rest is compact.
    type_first = assistant_line(input=16, output=160)
    type_first = logsynth.dumps(dict([("type", type_first.pop("type"))] + list(type_first.items())))
    type_first = type_first.replace('{"type":', '{"type" :', 1)
    write_lines(env.log("s1"), [json.dumps(spaced), indented, json.dumps(progress_copy(orphan)), type_first,
                                json.dumps(user), assistant_line(session="s1", input=8, output=80)])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert tokens_of(result.json()["totals"]) == (31, 310, 0, 0)
    assert "skipped" not in result.err


def test_a_spaced_line_repeating_a_compact_one_counts_once(env):
    line = assistant_line(msg_id="msg_X", request_id="req_X", input=3, output=30)
    write_lines(env.log(), [line, json.dumps(line, indent=None)])
    assert tokens_of(env.run("daily", "--json").json()["totals"]) == (3, 30, 0, 0)


@pytest.mark.parametrize("field", ["cwd", "sessionId", "model", "message.id", "requestId"])
def test_a_lone_surrogate_escape_is_stored_replaced_and_stops_nothing(env, field):
    line = assistant_line(msg_id="msg_U", request_id="req_U", session="s-bad", cwd="/x", input=1, output=2)
    where, key = (line["message"], "id") if field == "message.id" else \
        (line["message"], "model") if field == "model" else (line, field)
    where[key] += "\ud800"
    # json.dumps escapes the lone surrogate as \ud800: valid JSON, invalid Unicode.
    write_lines(env.log("s-bad"), [json.dumps(line, separators=(",", ":"))])
    write_lines(env.log("s-good"), [assistant_line(session="s-good", input=10, output=20)])
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert tokens_of(report["totals"]) == (11, 22, 0, 0)
    sessions = sessions_by_id(env.run("session", "--json").json())
    bad = "s-bad\ufffd" if field == "sessionId" else "s-bad"
    assert tokens_of(sessions[bad]) == (1, 2, 0, 0)
    assert sessions[bad]["projectPath"] == ("/x\ufffd" if field == "cwd" else "/x")
    # read again from the store, not from the logs: the same
    assert tokens_of(env.run("daily", "--json").json()["totals"]) == (11, 22, 0, 0)


def test_a_fifo_listed_as_a_log_is_skipped_without_blocking(env, monkeypatch):
    # The file becomes a FIFO between the walk and the reading.
    write_lines(env.log("s1"), [assistant_line(session="s1", output=10)])
    fifo = os.path.join(os.path.dirname(env.log("s1")), "swapped.jsonl")
    os.mkfifo(fifo)
    find_logs = ccusage.find_logs

    def listing_the_fifo(root, report, **options):
        return find_logs(root, report, **options) + [(fifo, (1, 2, 3, 4))]

    monkeypatch.setattr(ccusage, "find_logs", listing_the_fifo)
    results = []
    reading = threading.Thread(target=lambda: results.append(env.run("daily", "--json", "--verbose")), daemon=True)
    reading.start()
    reading.join(20)
    if reading.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))   # let the blocked reader go
        pytest.fail("opening a FIFO blocked the run")
    result, = results
    assert result.json()["totals"]["outputTokens"] == 10
    assert f"unreadable: {fifo}: not a regular file" in result.err
