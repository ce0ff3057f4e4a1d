"""What a first try of 0.3.0 as a new user found: a proxy log rotated as logrotate does, long model ids
in narrow tables, the wording of counts."""

import gzip
import json
import os

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, session_path, write_lines

TS = "2026-11-20T10:00:00Z"
SONNET = "claude-sonnet-4-5-20250929"


def proxy_line(msg_id, input, output, ts=TS, model=SONNET):
    return json.dumps({"timestamp": ts, "model": model, "response": {
        "id": msg_id, "usage": {"input_tokens": input, "output_tokens": output}},
        "latency_ms": 100, "status": "success"})


def write(path, lines, mode="w"):
    with open(path, mode, encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def skipped_notes(result):
    """{path: lines skipped} of --verbose's list, and its summary line."""
    lines = [line[len("ccusage: "):] for line in result.err.splitlines() if line.startswith("ccusage: ")]
    summary = [line for line in lines if " malformed lines in " in line or " malformed line in " in line]
    listed = {}
    for line in lines:
        if line.startswith("  "):
            count, path = line.split(None, 1)
            listed[path] = int(count)
    return summary, listed


def test_a_rotated_logs_bad_lines_stay_counted_under_its_new_names(env):
    (env.claude / "projects").mkdir()
    logs = env.tmp / "logs"
    logs.mkdir()
    log = logs / "api_calls.json"
    write(log, [proxy_line("msg_1", 10, 1), "garbage one", "garbage two", proxy_line("msg_2", 20, 2)])
    first = env.run("daily", "--json", "--verbose", "--log", f"proxy:{log}")
    assert skipped_notes(first)[1] == {str(log): 2}
    # logrotate: the log becomes .1 and a new one starts (with one bad line of its own).
    os.rename(log, logs / "api_calls.json.1")
    write(log, [proxy_line("msg_3", 30, 3), "garbage three"])
    second = env.run("daily", "--json", "--verbose", "--log", f"proxy:{log}")
    assert second.json()["totals"]["inputTokens"] == 60
    assert skipped_notes(second)[1] == {str(log): 1, str(logs / "api_calls.json.1"): 2}
    # The next rotation compresses .1 as .2.gz: read whole, its two bad lines are counted there, once.
    with open(logs / "api_calls.json.1", "rb") as f, gzip.open(logs / "api_calls.json.2.gz", "wb") as z:
        z.write(f.read())
    os.unlink(logs / "api_calls.json.1")
    os.rename(log, logs / "api_calls.json.1")
    write(log, [proxy_line("msg_4", 40, 4)])
    third = env.run("daily", "--json", "--verbose", "--log", f"proxy:{log}")
    # 10 + 20 + 30 + 40: nothing counted twice
    assert third.json()["totals"]["inputTokens"] == 100
    assert skipped_notes(third)[1] == {str(logs / "api_calls.json.1"): 1, str(logs / "api_calls.json.2.gz"): 2}


def test_one_bad_line_and_one_unpriced_call_are_said_in_the_singular(env):
    (env.claude / "projects").mkdir()
    log = env.tmp / "calls.jsonl"
    write(log, [json.dumps({"timestamp": TS, "model": "glm-4.7", "input_tokens": 5, "output_tokens": 1}), "garbage"])
    result = env.run("daily", "--json", "--verbose", "--log", f"calls:{log}")
    summary, listed = skipped_notes(result)
    assert summary == ["calls: skipped 1 malformed line in 1 file:"]
    assert listed == {str(log): 1}
    assert "no price for model 'glm-4.7' (1 call): its cost is left out" in result.err


@pytest.mark.parametrize("columns", [40, 80])
def test_a_breakdown_of_bedrock_and_router_ids_fits_a_narrow_terminal(env, monkeypatch, columns):
    bedrock = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    router = "anthropic/claude-4.7-opus-20260416"
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(model=bedrock, input=1000, output=100, session="s1"),
        assistant_line(model=router, input=2000, output=200, session="s1", ts="2026-11-20T12:01:00.000Z")])
    monkeypatch.setenv("COLUMNS", str(columns))
    result = env.run("daily", "--breakdown", "-z", "UTC")
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= columns, result.out
    # Each model keeps a row of its own, its id cut where it does not fit, and Total and Cost stay.
    details = [line.split()[0] for line in lines if line.startswith("  ")]
    assert len(details) == 2
    assert sorted(any(model.startswith(d.rstrip("\u2026")) for model in (bedrock, router)) for d in details) \
        == [True, True], details
    assert lines[0].split()[-2:] == ["Total", "Cost"]


def unpriced_warnings(result):
    return [line for line in result.err.splitlines() if "no price for model" in line]


def test_the_warnings_count_each_unpriced_call_once_and_only_those_shown(env):
    # One unpriced call yesterday, two today in the active window.
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(model="glm-4.7", ts="2026-11-19T10:00:00.000Z", input=10, output=1, session="s1"),
        assistant_line(model="glm-4.7", ts="2026-11-20T10:00:00.000Z", input=10, output=1, session="s1"),
        assistant_line(model="glm-4.7", ts="2026-11-20T10:30:00.000Z", input=10, output=1, session="s1")])
    with freeze_time("2026-11-20T11:00:00Z"):
        prometheus = env.run("export", "--format", "prometheus")
        report = env.run("report", "-z", "UTC")
        other_day = env.run("report", "-z", "UTC", "--date", "2026-11-18")
    assert prometheus.code == report.code == other_day.code == 0
    assert [w.split(" (", 1)[1].split(")")[0] for w in unpriced_warnings(prometheus)] == ["3 calls"]
    # report is of yesterday, the 19th: the one call of that day.
    assert [w.split(" (", 1)[1].split(")")[0] for w in unpriced_warnings(report)] == ["1 call"]
    assert unpriced_warnings(other_day) == []


def test_the_live_views_note_on_columns_given_up_offers_no_json(env, monkeypatch):
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(ts="2026-11-20T10:00:00.000Z", input=1000, output=100, cache_read=5000, session="s1")])
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "24")
    with freeze_time("2026-11-20T11:00:00Z"):
        result = env.run("live", "--once", "--view", "sessions")
    text = " ".join(result.out.split())
    assert "Not shown at 40 columns:" in text, result.out
    assert "a wider terminal shows them." in text
    assert "--json" not in text
    # The reports, which take --json, still offer it.
    report = env.run("session", "-z", "UTC")
    assert "a wider terminal or --json shows them." in " ".join(report.out.split())


def test_a_logs_session_is_shown_by_its_whole_name_a_uuid_by_its_first_8(env, monkeypatch):
    (env.claude / "projects").mkdir()
    uuid = "714951d3-32df-4f64-a3ee-b12047488d8c"
    write_lines(session_path(env.claude, uuid), [assistant_line(input=100, output=10, session=uuid)])
    log = env.tmp / "api_calls.json"
    write(log, [proxy_line("msg_p1", 1000, 100)])
    monkeypatch.setenv("COLUMNS", "120")
    result = env.run("session", "-z", "UTC", "--log", f"proxy:{log}")
    first_cells = [line.split()[0] for line in result.out.splitlines()[2:-2]]
    # The README: calls that name no session are the log's, under its name without the ending.
    assert sorted(first_cells) == ["714951d3", "api_calls"], result.out


def test_status_after_a_window_reset_does_not_say_there_were_no_calls(env):
    # The window of a call at 07:10 runs 07:00 to 12:00.
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(ts="2026-11-20T07:10:00.000Z", input=1000, output=100, session="s1"),
        assistant_line(ts="2026-11-20T10:50:00.000Z", input=1000, output=100, session="s1")])
    with freeze_time("2026-11-20T12:30:00Z"):
        after_reset = env.run("status", "-z", "UTC")
    with freeze_time("2026-11-20T16:00:00Z"):
        idle = env.run("status", "-z", "UTC")
    assert after_reset.out == "No active window: the last one reset at 12:00; the next call starts one.\n"
    # 16:00 is more than 5 hours after 10:50.
    assert idle.out == "No active window: no calls in the last 5h 00m.\n"


def test_the_live_view_after_a_window_reset_does_not_say_there_were_no_calls(env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(ts="2026-11-20T07:10:00.000Z", input=1000, output=100, session="s1"),
        assistant_line(ts="2026-11-20T10:50:00.000Z", input=1000, output=100, session="s1")])
    with freeze_time("2026-11-20T12:30:00Z"):
        after_reset = env.run("live", "--once", "-z", "UTC")
    with freeze_time("2026-11-20T16:00:00Z"):
        idle = env.run("live", "--once", "-z", "UTC")
    assert "5-hour window: none active (the last one reset at 12:00; the next call starts one)" in after_reset.out
    assert "5-hour window: none active (no calls in the last 5h 00m)" in idle.out


@pytest.mark.parametrize("command", [("status",), ("blocks",), ("live", "--once")])
def test_the_windows_warnings_count_each_unpriced_call_once(env, command):
    # Two unpriced calls, both in the window of 10:00 to 15:00: the windows, the current one and its
    # rate each sum them, and the warning still says two.
    write_lines(session_path(env.claude, "s1"), [
        assistant_line(model="glm-4.7", ts="2026-11-20T10:00:00.000Z", input=10, output=1, session="s1"),
        assistant_line(model="glm-4.7", ts="2026-11-20T10:30:00.000Z", input=10, output=1, session="s1")])
    with freeze_time("2026-11-20T11:00:00Z"):
        result = env.run(*command)
    assert result.code == 0, result
    assert [w.split(" (", 1)[1].split(")")[0] for w in unpriced_warnings(result)] == ["2 calls"]


def test_a_session_table_with_a_logs_long_session_name_fits_40_columns(env, monkeypatch):
    # A calls log's session of 20 characters, beside a transcript's project: the table cuts both.
    monkeypatch.setenv("COLUMNS", "40")
    write_lines(session_path(env.claude, "s1"), [assistant_line(input=1000, output=100, session="s1",
                                                                cwd="/home/u/a-project-with-a-long-name")])
    log = env.tmp / "calls.jsonl"
    log.write_text(json.dumps({"timestamp": TS, "model": SONNET, "session_id": "voice-agent-nightly-run",
                               "input_tokens": 5, "output_tokens": 1}) + "\n")
    result = env.run("session", "--log", f"calls:{log}")
    assert result.code == 0, result
    assert max(len(line) for line in result.out.splitlines()) <= 40
    assert "voice-ag" in result.out
