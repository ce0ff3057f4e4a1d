"""`ccusage statusline`: Claude Code's payloads of several versions, garbage, the official figures it records,
the limit predicted from them, many at once, and the documented settings.json."""

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from freezegun import freeze_time

from logsynth import write_lines
from support import installed_ccusage
from test_limits import SONNET, call, epoch, ms

ROOT = Path(__file__).resolve().parent.parent


def statusline(env, monkeypatch, payload, *args):
    """Run statusline in this process with payload (a dict, str or bytes) on stdin."""
    data = payload if isinstance(payload, bytes) else (
        payload if isinstance(payload, str) else json.dumps(payload)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = env.run("statusline", "--color", "never", *args)
    assert result.code == 0 and "Traceback" not in result.err, result
    return result


def official_rows(env):
    conn = sqlite3.connect(env.db)
    try:
        return conn.execute("SELECT window, captured_at, used_percentage, resets_at "
                            "FROM rate_limits ORDER BY window, captured_at").fetchall()
    finally:
        conn.close()


def spend_rows(env):
    conn = sqlite3.connect(env.db)
    try:
        return conn.execute("SELECT captured_at, used_usd, limit_usd, period FROM spend_limits").fetchall()
    finally:
        conn.close()


def payload_of(version, env, **extra):
    """What Claude Code of a version pipes to its status line (the fields it had by then)."""
    transcript = env.log()
    data = {"hook_event_name": "Status", "session_id": "s1", "transcript_path": transcript, "cwd": "/home/u/proj",
            "model": {"id": "claude-opus-4-5-20251101", "display_name": "Opus 4.5"},
            "workspace": {"current_dir": "/home/u/proj", "project_dir": "/home/u/proj"}, "version": version}
    number = tuple(int(part) for part in version.split("."))
    if number >= (2, 0):
        data["cost"] = {"total_cost_usd": 0.42, "total_duration_ms": 45000, "total_api_duration_ms": 2300}
        data["output_style"] = {"name": "default"}
        data["exceeds_200k_tokens"] = False
    if number >= (2, 1, 6):
        data["context_window"] = {"context_window_size": 200000, "used_percentage": 33.4,
                                  "current_usage": {"input_tokens": 8, "output_tokens": 120,
                                                    "cache_creation_input_tokens": 2000,
                                                    "cache_read_input_tokens": 64000}}
    data.update(extra)
    return data


FIVE_HOUR = {"used_percentage": 42, "resets_at": epoch("2026-11-20T14:30:00Z")}
SEVEN_DAY = {"used_percentage": 17.5, "resets_at": epoch("2026-11-24T09:00:00Z")}


@pytest.fixture
def live(env):
    # 100,000 output tokens of Sonnet, $1.50, in the window 10:00 to 15:00
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    return env


# ---------------------------------------------------------------------------
# Payloads of Claude Code versions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("version, extra, expected", [
    ("1.0.71", {}, "Opus 4.5 · $1.50 today · 2h00m left"),
    ("2.0.37", {}, "Opus 4.5 · $0.42 session · $1.50 today · 2h00m left"),
    ("2.1.39", {}, "Opus 4.5 · $0.42 session · $1.50 today · 2h00m left · ctx 33%"),
    # rate_limits since 2.1.80: the official figure, and its reset, win
    ("2.1.80", {"rate_limits": {"five_hour": FIVE_HOUR, "seven_day": SEVEN_DAY}},
     "Opus 4.5 · $0.42 session · $1.50 today · 42% 5h · 1h30m left · ctx 33%"),
    # some users get no five_hour figure; a later version adds a spend limit and more
    ("2.1.284", {"rate_limits": {"seven_day": SEVEN_DAY,
                                 "spend_limit": {"used_usd": 12.5, "limit_usd": 50, "period": "monthly"}},
                 "session_name": "fix the build", "effort": {"level": "high"}, "thinking": {"enabled": True},
                 "prompt_cache": {"hit_ratio": 0.93, "misses": 2}, "worktree": {"name": "w"}, "pr": {"number": 7}},
     "Opus 4.5 · $0.42 session · $1.50 today · 2h00m left · ctx 33%"),
])
def test_the_line_for_each_version(live, monkeypatch, version, extra, expected):
    with freeze_time("2026-11-20T13:00:00Z"):
        result = statusline(live, monkeypatch, payload_of(version, live, **extra))
    assert result.out == expected + "\n"
    assert result.err == ""


def test_every_rate_limits_object_is_recorded_with_the_time_it_was_seen(live, monkeypatch):
    payload = payload_of("2.1.284", live, rate_limits={
        "five_hour": FIVE_HOUR, "seven_day": SEVEN_DAY,
        "spend_limit": {"used_usd": 12.5, "limit_usd": 50, "period": "monthly",
                        "resets_at": epoch("2026-12-01T00:00:00Z")}})
    with freeze_time("2026-11-20T13:00:00Z"):
        statusline(live, monkeypatch, payload)
    with freeze_time("2026-11-20T13:00:30Z"):
        statusline(live, monkeypatch, payload)          # the same figures half a minute later: kept once
    changed = dict(payload, rate_limits={"five_hour": dict(FIVE_HOUR, used_percentage=44)})
    with freeze_time("2026-11-20T13:01:00Z"):
        statusline(live, monkeypatch, changed)
    assert official_rows(live) == [
        ("five_hour", ms("2026-11-20T13:00:00Z"), 42.0, epoch("2026-11-20T14:30:00Z")),
        ("five_hour", ms("2026-11-20T13:01:00Z"), 44.0, epoch("2026-11-20T14:30:00Z")),
        ("seven_day", ms("2026-11-20T13:00:00Z"), 17.5, epoch("2026-11-24T09:00:00Z")),
        ("spend_limit", ms("2026-11-20T13:00:00Z"), 25.0, epoch("2026-12-01T00:00:00Z")),
    ]
    assert spend_rows(live) == [(ms("2026-11-20T13:00:00Z"), 12.5, 50, "monthly")]
    # and every other view shows them, marked official with their age
    with freeze_time("2026-11-20T13:11:00Z"):
        status = live.run("status").out
        blocks = live.run("blocks", "--json").json()
        prompt = live.run("prompt", "--format", "{used} {used_kind} {week_used}").out
    assert "Used    44% (official, 10m ago)" in status
    assert "Week    18% used (official, 11m ago), resets Tue 09:00" in status
    assert blocks["official"] == {
        "fiveHour": {"usedPercentage": 44.0, "resetsAt": "2026-11-20T14:30:00.000Z",
                     "capturedAt": "2026-11-20T13:01:00.000Z", "ageMinutes": 10.0},
        "sevenDay": {"usedPercentage": 17.5, "resetsAt": "2026-11-24T09:00:00.000Z",
                     "capturedAt": "2026-11-20T13:00:00.000Z", "ageMinutes": 11.0}}
    assert prompt == "44% official 18%\n"


def test_numbers_written_as_strings_are_numbers(live, monkeypatch):
    payload = payload_of("2.1.80", live, cost={"total_cost_usd": "0.42"},
                         context_window={"used_percentage": "33.4"},
                         rate_limits={"five_hour": {"used_percentage": "42", "resets_at": str(FIVE_HOUR["resets_at"])}})
    with freeze_time("2026-11-20T13:00:00Z"):
        result = statusline(live, monkeypatch, payload)
    assert result.out == "Opus 4.5 · $0.42 session · $1.50 today · 42% 5h · 1h30m left · ctx 33%\n"


def test_the_context_percent_from_the_counts_when_not_given(live, monkeypatch):
    # 2,008 + 64,000 + 8 prompt tokens... input 8, cache write 2,000, cache read 64,000: 66,008 of 200,000 is 33%
    payload = payload_of("2.1.39", live)
    del payload["context_window"]["used_percentage"]
    with freeze_time("2026-11-20T13:00:00Z"):
        result = statusline(live, monkeypatch, payload, "--format", "{context}")
    assert result.out == "33%\n"


def test_the_line_is_coloured_by_default_unless_no_color(live, monkeypatch):
    payload = payload_of("2.1.80", live, rate_limits={"five_hour": dict(FIVE_HOUR, used_percentage=91)})
    with freeze_time("2026-11-20T13:00:00Z"):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
        coloured = live.run("statusline", "--format", "{used}").out
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
        plain = live.run("statusline", "--format", "{used}").out
    assert coloured == "\x1b[31m91%\x1b[0m\n"
    assert plain == "91%\n"


def test_a_transcript_outside_the_data_directories_is_read_too(env, monkeypatch, tmp_path):
    elsewhere = tmp_path / "other-claude"
    transcript = elsewhere / "projects" / "-home-u-proj" / "s9.jsonl"
    write_lines(str(transcript), [call("2026-11-20T10:20:00.000Z", 100_000)])
    payload = {"session_id": "s9", "transcript_path": str(transcript), "model": {"display_name": "Opus"}}
    with freeze_time("2026-11-20T13:00:00Z"):
        result = statusline(env, monkeypatch, payload)
    assert result.out == "Opus · $1.50 today · 2h00m left\n"


# ---------------------------------------------------------------------------
# Garbage: a sane line, exit 0
# ---------------------------------------------------------------------------

GARBAGE = {
    "empty": b"",
    "not JSON": b"hello, status line",
    "torn": json.dumps({"model": {"display_name": "Opus"}, "cost": {"total_cost_usd": 1}}).encode()[:25],
    "an array": b"[1, 2, 3]",
    "null": b"null",
    "invalid UTF-8": b'{"model": {"display_name": "\xff\xfe"}}',
    "deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "wrong types": json.dumps({"model": 5, "cost": "lots", "rate_limits": [1], "context_window": {
        "used_percentage": {"x": 1}, "context_window_size": "big"}, "transcript_path": 7}).encode(),
    "bad numbers": json.dumps({"model": {"display_name": "Opus"}, "cost": {"total_cost_usd": "NaN"},
                               "rate_limits": {"five_hour": {"used_percentage": "Infinity", "resets_at": "soon"},
                                               "seven_day": {"used_percentage": 1e308, "resets_at": -1}}}).encode(),
    "booleans": json.dumps({"model": {"display_name": True}, "cost": {"total_cost_usd": True},
                            "rate_limits": {"five_hour": {"used_percentage": True, "resets_at": True}}}).encode(),
    "unknown fields": json.dumps({"future": {"thing": [1, 2]}, "model": {"display_name": "Opus", "new": 1},
                                  "rate_limits": {"ten_minute": {"used_percentage": 3}}}).encode(),
    "ten megabytes": json.dumps({"model": {"display_name": "Opus"}, "padding": "x" * 10_000_000}).encode(),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_gives_a_sane_line(live, monkeypatch, name):
    with freeze_time("2026-11-20T13:00:00Z"):
        result = statusline(live, monkeypatch, GARBAGE[name])
    assert result.err == ""
    # what the store knows is there whatever the payload; nothing else made it in
    assert "$1.50 today" in result.out and result.out.count("\n") == 1, result.out
    assert official_rows(live) == []


@pytest.mark.parametrize("name", ["empty", "not JSON", "deep nesting", "ten megabytes"])
def test_garbage_through_the_installed_command(live, name):
    proc = subprocess.run(live.command("statusline", "--color", "never"), input=GARBAGE[name], capture_output=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert proc.stdout.count(b"\n") <= 1 and b"Traceback" not in proc.stdout


def test_a_terminal_on_stdin_is_not_waited_for(live):
    # Run by hand, the command reads no payload from the terminal: the line comes from the store.
    import pty
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(live.command("statusline", "--color", "never"), stdin=terminal, capture_output=True,
                              timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 0
    assert b"today" in proc.stdout


# ---------------------------------------------------------------------------
# Many sessions at once
# ---------------------------------------------------------------------------

def test_fifty_at_once_all_answer_and_none_is_left_behind(live):
    procs = []
    for n in range(50):
        payload = payload_of("2.1.80", live, session_id=f"s{n}",
                             rate_limits={"five_hour": {"used_percentage": n, "resets_at": 4102444800}})
        proc = subprocess.Popen(live.command("statusline", "--color", "never"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # as Claude Code does: the payload at once, then end of input
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()
        procs.append(proc)
    results = []
    for proc in procs:
        out, err = proc.stdout.read(), proc.stderr.read()     # a line, and nothing: no pipe fills
        results.append((out, err, proc.wait(timeout=120)))
        proc.stdout.close()
        proc.stderr.close()
    assert [code for _, _, code in results] == [0] * 50, [err for _, err, _ in results]
    assert all(out.startswith(b"Opus 4.5") and out.count(b"\n") == 1 for out, _, _ in results), results[:3]
    assert [err for _, err, _ in results if err] == []
    # no process of these (nor a reader helper of theirs) is still running
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    assert str(live.db) not in ps
    assert official_rows(live), "none of them recorded its figures"


# ---------------------------------------------------------------------------
# The documented settings.json
# ---------------------------------------------------------------------------

def test_the_documented_settings_json_runs(live, tmp_path):
    block = re.findall(r"```json\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    settings = [json.loads(b) for b in block if "statusLine" in b]
    assert len(settings) == 1
    status_line = settings[0]["statusLine"]
    assert status_line["type"] == "command"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import test_docs
    assert any(status_line["command"] in line for line in test_docs.man_examples())
    bin_dir = os.path.dirname(installed_ccusage())
    environ = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(live.home), "TZ": "UTC", "NO_COLOR": "1",
               "CCUSAGE_DB": str(live.db), "CCUSAGE_DATA_DIR": str(live.claude)}
    payload = payload_of("2.1.80", live, rate_limits={"five_hour": {"used_percentage": 42, "resets_at": 4102444800}})
    # Claude Code runs the command with a shell, the payload on its stdin.
    proc = subprocess.run(["sh", "-c", status_line["command"]], input=json.dumps(payload), env=environ,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Opus 4.5 · $0.42 session · ") and " · 42% 5h · " in proc.stdout, proc.stdout
