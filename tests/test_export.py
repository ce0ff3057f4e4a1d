"""export (CSV, JSON lines, JSON, Prometheus text) and prune, checked against the logs written."""

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections import Counter
from datetime import timezone

import pytest

from logsynth import assistant_line, write_lines
from support import first_line_is_one_error

# Sonnet 4.5 at $3 input, $3.75 and $6 cache writes (5 minutes, 1 hour), $0.30 cache reads and $15
# output per million tokens, $0.01 a web search:
# 1000 * 3 + 4000 * 3.75 + 1000 * 6 + 10000 * 0.3 + 2000 * 15 = 57,000 millionths, + 2 searches = $0.077.
SONNET_CALL = dict(ts="2026-11-20T09:15:30.250Z", model="claude-sonnet-4-5-20250929", input=1000, output=2000,
                   cache_5m=4000, cache_1h=1000, cache_read=10000, web_searches=2, session="sess-a",
                   cwd="/home/u/alpha")
SONNET_COST = 0.077
# Haiku 4.5 at $1 input and $5 output: 100 * 1 + 300 * 5 = 1,600 millionths.
HAIKU_CALL = dict(ts="2026-11-20T10:40:00.000Z", model="claude-haiku-4-5-20251001", input=100, output=300,
                  session="sess-b", cwd="/home/u/beta")
HAIKU_COST = 0.0016

promtool = pytest.mark.skipif(not shutil.which("promtool"),
                              reason="promtool is not installed (Debian's prometheus package has it)")


def write_hand_calls(env):
    for call in (SONNET_CALL, HAIKU_CALL):
        write_lines(env.log(session=call["session"], cwd=call["cwd"]), [assistant_line(**call)])


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def by_time_and_model(calls):
    """{(UTC time, model): [input, output, cache write, cache read, web searches]} summed."""
    sums = {}
    for key, *amounts in calls:
        sums[key] = [a + b for a, b in zip(sums.get(key, [0] * 5), amounts)]
    return sums


def truth_calls(tree):
    """by_time_and_model of the calls the generator wrote (a torn line's completion is a second entry)."""
    return by_time_and_model(
        ((moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"), model),
         t.input, t.output, t.cache_creation, t.cache_read, t.web_searches) for moment, model, t in tree.truth.calls)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

def test_csv_has_one_row_per_call_of_the_generated_logs(env, synth):
    tree = synth(21)
    rows = csv_rows(env.run("export").out)
    exported = by_time_and_model(((r["timestamp"], r["model"]), int(r["input_tokens"]), int(r["output_tokens"]),
                                  int(r["cache_creation_tokens"]), int(r["cache_read_tokens"]),
                                  int(r["web_searches"])) for r in rows)
    assert len(rows) == tree.truth.total.responses
    assert exported == truth_calls(tree)
    assert {r["session_id"] for r in rows} == set(tree.truth.sessions)
    assert {r["source"] for r in rows} == {"claude-code"}
    # Each call priced as the reports price them: the sums agree to the rounding of each row.
    total = env.run("daily", "--json").json()["totals"]["totalCost"]
    assert abs(sum(float(r["cost_usd"]) for r in rows) - total) < 1e-6 * len(rows)


def test_every_field_of_a_call_in_csv_jsonl_and_json(env):
    write_hand_calls(env)
    rows = csv_rows(env.run("export").out)
    assert rows == [
        {"timestamp": "2026-11-20T09:15:30.250Z", "session_id": "sess-a", "project_path": "/home/u/alpha",
         "model": "claude-sonnet-4-5-20250929", "input_tokens": "1000", "output_tokens": "2000",
         "cache_creation_tokens": "5000", "cache_read_tokens": "10000", "total_tokens": "18000",
         "cost_usd": "0.077000", "web_searches": "2", "source": "claude-code"},
        {"timestamp": "2026-11-20T10:40:00.000Z", "session_id": "sess-b", "project_path": "/home/u/beta",
         "model": "claude-haiku-4-5-20251001", "input_tokens": "100", "output_tokens": "300",
         "cache_creation_tokens": "0", "cache_read_tokens": "0", "total_tokens": "400",
         "cost_usd": "0.001600", "web_searches": "0", "source": "claude-code"},
    ]
    first = {"timestamp": "2026-11-20T09:15:30.250Z", "sessionId": "sess-a", "projectPath": "/home/u/alpha",
             "modelName": "claude-sonnet-4-5-20250929", "inputTokens": 1000, "outputTokens": 2000,
             "cacheCreationTokens": 5000, "cacheReadTokens": 10000, "totalTokens": 18000,
             "totalCost": SONNET_COST, "webSearches": 2, "source": "claude-code"}
    lines = env.run("export", "--format", "jsonl").out.splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == first
    assert json.loads(lines[1])["totalCost"] == HAIKU_COST
    document = env.run("export", "-f", "json").json()
    assert document["calls"][0] == first
    assert document["totals"] == {"inputTokens": 1100, "outputTokens": 2300, "cacheCreationTokens": 5000,
                                  "cacheReadTokens": 10000, "totalTokens": 18400,
                                  "totalCost": round(SONNET_COST + HAIKU_COST, 6), "webSearches": 2}


def test_aggregates_sum_the_calls_of_an_hour_or_a_day_of_the_zone(env):
    calls = [("2026-11-20T14:10:00.000Z", 1), ("2026-11-20T14:50:00.000Z", 2), ("2026-11-20T15:05:00.000Z", 4)]
    write_lines(env.log(), [assistant_line(ts=ts, output=out) for ts, out in calls])
    hours = env.run("export", "--aggregate", "hour", "-f", "json").json()["hourly"]
    assert [(h["hour"], h["calls"], h["outputTokens"]) for h in hours] == [
        ("2026-11-20T14:00:00.000Z", 2, 3), ("2026-11-20T15:00:00.000Z", 1, 4)]
    # 15:00 UTC is midnight in Tokyo (UTC+9): the last call is of the next day there.
    days = env.run("export", "--aggregate", "day", "-f", "jsonl", "-z", "Asia/Tokyo").out.splitlines()
    assert [(d["date"], d["calls"], d["outputTokens"]) for d in map(json.loads, days)] == [
        ("2026-11-20", 2, 3), ("2026-11-21", 1, 4)]
    days = csv_rows(env.run("export", "--aggregate", "day", "-z", "UTC").out)
    assert [(d["date"], d["project_path"], d["calls"], d["output_tokens"]) for d in days] == [
        ("2026-11-20", "/home/u/proj", "3", "7")]


def test_since_until_and_project_choose_the_calls(env):
    write_hand_calls(env)
    write_lines(env.log(session="sess-c"), [assistant_line(ts="2026-11-22T08:00:00.000Z", output=9, session="sess-c")])
    assert [r["session_id"] for r in csv_rows(env.run("export", "-s", "2026-11-21").out)] == ["sess-c"]
    assert [r["session_id"] for r in csv_rows(env.run("export", "-u", "2026-11-20").out)] == ["sess-a", "sess-b"]
    assert [r["session_id"] for r in csv_rows(env.run("export", "-p", "beta").out)] == ["sess-b"]


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(env):
    hostile = {"=HYPERLINK(\"http://x\")": "+cmd|' /C calc'!A0", "@SUM(A1:A9)": "-2+3", "\tTAB": "\rCR"}
    for session, cwd in hostile.items():
        write_lines(env.log(session="plain", cwd="/plain"), [assistant_line(session=session, cwd=cwd, output=1)])
    write_lines(env.log(session="plain", cwd="/plain"), [assistant_line(session="plain", cwd="/a=b", output=1)])
    result = env.run("export")
    cells = {(r["session_id"], r["project_path"]) for r in csv_rows(result.out)}
    assert cells == {("'=HYPERLINK(\"http://x\")", "'+cmd|' /C calc'!A0"), ("'@SUM(A1:A9)", "'-2+3"),
                     ("'\\x09TAB", "'\\x0dCR"), ("plain", "/a=b")}
    # Quoted as RFC 4180 quotes: the cell with quotes is in quotes, its quotes doubled.
    assert '"\'=HYPERLINK(""http://x"")"' in result.out


# ---------------------------------------------------------------------------
# Prometheus text
# ---------------------------------------------------------------------------

SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """[(name, {label: value}, number)] of a text exposition, label values unescaped."""
    found = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, labels, value = SAMPLE.match(line).groups()
        unescaped = {key: re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), raw)
                     for key, raw in LABEL.findall(labels or "")}
        found.append((name, unescaped, float(value)))
    return found


def promtool_check(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=60)


@promtool
def test_promtool_accepts_the_exposition_of_a_generated_corpus(env, synth):
    synth(22)
    path = env.tmp / "ccusage.prom"
    assert env.run("export", "--format", "prometheus", "--output", path).code == 0
    checked = promtool_check(path.read_text(encoding="utf-8"))
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_the_counters_add_up_to_the_generated_logs(env, synth):
    tree = synth(23)
    found = samples(env.run("export", "-f", "prometheus").out)
    by_type = Counter()
    for name, labels, value in found:
        if name == "ccusage_tokens_total":
            by_type[labels["type"]] += value
    total = tree.truth.total
    assert dict(by_type) == {"input": total.input, "output": total.output, "cacheRead": total.cache_read,
                             "cacheCreation": total.cache_creation}
    assert sum(v for n, _, v in found if n == "ccusage_calls_total") == total.responses
    assert sum(v for n, _, v in found if n == "ccusage_web_searches_total") == total.web_searches
    labels = [set(lb) for n, lb, _ in found if n == "ccusage_calls_total"]
    assert labels and all(lb == {"source", "project", "model", "tier"} for lb in labels)
    tiers = {(lb["model"], lb["tier"]) for n, lb, _ in found if n == "ccusage_calls_total"}
    assert ("claude-opus-4-6", "opus") in tiers and ("claude-haiku-4-5-20251001", "haiku") in tiers
    assert {lb["project"] for n, lb, _ in found if n == "ccusage_calls_total"} == set(tree.truth.projects)


def test_cost_is_a_gauge_and_the_window_gauges_are_there(env):
    write_hand_calls(env)
    text = env.run("export", "-f", "prometheus").out
    assert "# TYPE ccusage_cost_usd gauge" in text and "# TYPE ccusage_tokens_total counter" in text
    costs = {lb["model"]: v for n, lb, v in samples(text) if n == "ccusage_cost_usd"}
    assert costs == {"claude-sonnet-4-5-20250929": SONNET_COST, "claude-haiku-4-5-20251001": HAIKU_COST}
    # The calls are of 2026-11-20, long before now: no window is active, so its figures are left out.
    names = {n for n, _, _ in samples(text)}
    assert ("ccusage_window_active", {}, 0.0) in samples(text)
    assert "ccusage_window_tokens" not in names and "ccusage_window_reset_seconds" not in names


@promtool
def test_label_values_are_escaped(env):
    cwd = '/home/u/a "quoted" \\ back\nslash'
    write_lines(env.log(cwd="/home/u/x"), [assistant_line(cwd=cwd, output=5)])
    text = env.run("export", "-f", "prometheus").out
    checked = promtool_check(text)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    projects = {lb["project"] for n, lb, _ in samples(text) if n == "ccusage_calls_total"}
    # The newline is written as clean() writes control characters, then escaped as the format says.
    assert projects == {'/home/u/a "quoted" \\ back\\x0aslash'}


def test_prometheus_takes_no_aggregate(env):
    result = env.run("export", "-f", "prometheus", "--aggregate", "day")
    assert result.code == 2 and "--aggregate" in result.err
    first_line_is_one_error(result)


# ---------------------------------------------------------------------------
# --output
# ---------------------------------------------------------------------------

def test_output_replaces_the_file_whole_and_keeps_its_mode(env):
    write_hand_calls(env)
    path = env.tmp / "out" / "calls.csv"
    path.parent.mkdir()
    path.write_text("old contents\n")
    path.chmod(0o640)
    with open(path) as reader:
        assert env.run("export", "--output", path).out == ""
        # A reader of the old file still reads the old file, whole.
        assert reader.read() == "old contents\n"
    assert [r["session_id"] for r in csv_rows(path.read_text())] == ["sess-a", "sess-b"]
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.listdir(path.parent) == ["calls.csv"]


def test_a_new_output_file_takes_the_umask_mode(env):
    write_hand_calls(env)
    path = env.tmp / "metrics.prom"
    mask = os.umask(0o027)
    try:
        assert env.run("export", "-f", "prometheus", "--output", path).code == 0
    finally:
        os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert path.read_text().startswith("# HELP ccusage_tokens_total ")


def test_output_that_cannot_be_written_is_one_error(env):
    write_hand_calls(env)
    result = env.run("export", "--output", env.tmp / "missing" / "calls.csv")
    assert result.code == 1 and "cannot write" in result.err
    first_line_is_one_error(result)
    result = env.run("export", "--output", env.tmp)
    assert result.code == 2 and "--output" in result.err
    first_line_is_one_error(result)


# ---------------------------------------------------------------------------
# prune
# ---------------------------------------------------------------------------

# Midnight of 2026-11-20 in Kolkata (UTC+05:30) is 18:30 UTC: the cut falls inside an hour.
PRUNE_CALLS = [("2026-11-18T12:00:00.000Z", "claude-sonnet-4-5-20250929", 1),
               ("2026-11-19T18:29:59.999Z", "claude-haiku-4-5-20251001", 2),
               ("2026-11-19T18:30:00.000Z", "claude-haiku-4-5-20251001", 4),
               ("2026-11-19T18:45:00.000Z", "claude-sonnet-4-5-20250929", 8),
               ("2026-11-21T07:00:00.000Z", "claude-sonnet-4-5-20250929", 16)]


def write_prune_calls(env):
    for n, (ts, model, output) in enumerate(PRUNE_CALLS):
        write_lines(env.log(session=f"s{n}", cwd=f"/p/{n % 2}"),
                    [assistant_line(ts=ts, model=model, output=output, input=10, session=f"s{n}",
                                    cwd=f"/p/{n % 2}")])


def store_rows(env):
    conn = sqlite3.connect(env.db)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("calls", "hourly", "hourly_models")}
    finally:
        conn.close()


def test_a_dry_run_shows_the_days_and_models_and_deletes_nothing(env):
    write_prune_calls(env)
    before = env.run("export").out
    stored = store_rows(env)
    result = env.run("prune", "--before", "2026-11-20", "-z", "Asia/Kolkata", "--dry-run")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split() for line in lines if line.startswith("2026-")] == [
        ["2026-11-18", "claude-sonnet-4-5-20250929", "1", "11"],
        ["2026-11-19", "claude-haiku-4-5-20251001", "1", "12"]]
    assert lines[-1] == "Would delete 2 calls before 2026-11-20 (Asia/Kolkata); nothing was deleted (--dry-run)."
    assert store_rows(env) == stored
    assert env.run("export").out == before


def blocks(env):
    """(start, calls) of the windows blocks shows."""
    return [(b["startTime"], b["entries"]) for b in env.run("blocks", "--json").json()["blocks"] if not b["isGap"]]


def test_prune_deletes_exactly_the_calls_before_the_day_and_the_reports_still_add_up(env):
    write_prune_calls(env)
    # The store keeps the windows this computes: pruning must not leave them as they were.
    assert blocks(env) == [("2026-11-18T12:00:00.000Z", 1), ("2026-11-19T18:00:00.000Z", 3),
                           ("2026-11-21T07:00:00.000Z", 1)]
    result = env.run("prune", "--before", "2026-11-20", "-z", "Asia/Kolkata")
    assert result.code == 0, result.err
    assert "Deleted 2 calls before 2026-11-20 (Asia/Kolkata)" in result.out
    assert [int(r["output_tokens"]) for r in csv_rows(env.run("export").out)] == [4, 8, 16]
    # The rollups (daily in UTC reads them) agree with the calls (the session report reads those).
    daily = env.run("daily", "-z", "UTC", "--json").json()
    assert [(d["date"], d["outputTokens"]) for d in daily["daily"]] == [("2026-11-19", 12), ("2026-11-21", 16)]
    assert daily["totals"] == env.run("session", "--json").json()["totals"]
    assert blocks(env) == [("2026-11-19T18:00:00.000Z", 2), ("2026-11-21T07:00:00.000Z", 1)]
    by_project = env.run("daily", "-z", "UTC", "-p", "/p/0", "--json").json()
    assert [(d["date"], d["outputTokens"]) for d in by_project["daily"]] == [("2026-11-19", 4), ("2026-11-21", 16)]
    # The logs are still there, but what was read is not read again.
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 28
    write_lines(env.log(session="s1", cwd="/p/1"), [assistant_line(ts="2026-11-22T00:00:00.000Z", output=32)])
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 60


def test_prune_with_nothing_before_the_day_deletes_nothing(env):
    write_prune_calls(env)
    env.run("daily")
    stored = store_rows(env)
    result = env.run("prune", "--before", "2026-01-01")
    assert (result.code, result.out) == (0, "No calls before 2026-01-01 (UTC): nothing to delete.\n")
    assert store_rows(env) == stored


def test_prune_needs_a_day(env):
    result = env.run("prune")
    assert result.code == 2 and "--before" in result.err
    first_line_is_one_error(result)
