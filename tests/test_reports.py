"""Reports: days in a time zone, filters, periods, order, breakdowns, projects, CSV, and the table."""

import csv
import io
import json
import os
import pty
import select
import subprocess
from datetime import date, timedelta

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, write_lines
from support import tokens_of, truth_tokens


def calls_at(env, *stamps_and_outputs, **fields):
    """One call per (ISO time, output tokens); output identifies each call in the totals."""
    write_lines(env.log(), [assistant_line(ts=ts, output=out, **fields) for ts, out in stamps_and_outputs])


def outputs_by(report, period="daily", field="date"):
    return {row[field]: row["outputTokens"] for row in report[period]}


def sum_tokens(rows):
    return tuple(sum(column) for column in zip(*(tokens_of(r) for r in rows)))


# ---------------------------------------------------------------------------
# Time zones, days, weeks, months
# ---------------------------------------------------------------------------

def test_the_day_of_a_call_is_the_day_in_the_chosen_zone(env):
    calls_at(env, ("2026-11-20T23:30:00.000Z", 7))
    assert outputs_by(env.run("daily", "--json", "-z", "Europe/Berlin").json()) == {"2026-11-21": 7}
    assert outputs_by(env.run("daily", "--json", "-z", "UTC").json()) == {"2026-11-20": 7}
    # Session activity times are UTC whatever the zone.
    session = env.run("session", "--json", "-z", "Europe/Berlin").json()["sessions"][0]
    assert (session["firstActivity"], session["lastActivity"]) == ("2026-11-20T23:30:00.000Z",) * 2


def test_zones_with_half_and_quarter_hour_offsets(env):
    calls_at(env, ("2026-11-20T18:15:00.000Z", 1),    # 23:45 in Kolkata (+5:30), 00:00 in Kathmandu (+5:45)
             ("2026-11-20T18:45:00.000Z", 10))        # 00:15 next day in Kolkata
    assert outputs_by(env.run("daily", "--json", "-z", "Asia/Kolkata").json()) == \
        {"2026-11-20": 1, "2026-11-21": 10}
    assert outputs_by(env.run("daily", "--json", "-z", "Asia/Kathmandu").json()) == {"2026-11-21": 11}


def test_days_follow_daylight_saving_time(env):
    # New York leaves summer time on 2026-11-01 at 06:00 UTC (UTC-4 before, UTC-5 after).
    calls_at(env, ("2026-11-01T03:30:00.000Z", 1),    # 23:30 on Oct 31 (EDT)
             ("2026-11-02T04:30:00.000Z", 10),        # 23:30 on Nov 1 (EST)
             ("2026-11-02T05:30:00.000Z", 100))       # 00:30 on Nov 2 (EST)
    assert outputs_by(env.run("daily", "--json", "-z", "America/New_York").json()) == \
        {"2026-10-31": 1, "2026-11-01": 10, "2026-11-02": 100}


@pytest.mark.parametrize("since, until", [("2026-11-19", "2026-11-21"), ("20261119", "20261121")])
def test_since_and_until_are_inclusive_days(env, since, until):
    calls_at(env, *[(f"2026-11-{day}T12:00:00.000Z", day) for day in range(18, 23)])
    report = env.run("daily", "--json", "-z", "UTC", "--since", since, "--until", until).json()
    assert outputs_by(report) == {"2026-11-19": 19, "2026-11-20": 20, "2026-11-21": 21}
    assert report["totals"]["outputTokens"] == 60
    assert set(outputs_by(env.run("daily", "--json", "-z", "UTC", "-s", since).json())) == \
        {"2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"}
    assert set(outputs_by(env.run("daily", "--json", "-z", "UTC", "-u", until).json())) == \
        {"2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"}


def test_since_is_a_day_of_the_chosen_zone(env):
    calls_at(env, ("2026-11-20T23:30:00.000Z", 7))
    assert env.run("daily", "--json", "-z", "Europe/Berlin", "--since", "2026-11-21").json()["totals"][
        "outputTokens"] == 7
    assert env.run("daily", "--json", "-z", "UTC", "--since", "2026-11-21").json()["totals"]["outputTokens"] == 0


def test_weeks_start_on_sunday_unless_told_otherwise(env):
    # 2026-11-21 is a Saturday, 2026-11-22 a Sunday, 2026-11-23 a Monday.
    calls_at(env, ("2026-11-21T12:00:00.000Z", 1), ("2026-11-22T12:00:00.000Z", 10),
             ("2026-11-23T12:00:00.000Z", 100))
    sunday = env.run("weekly", "--json", "-z", "UTC").json()
    assert outputs_by(sunday, "weekly", "week") == {"2026-11-15": 1, "2026-11-22": 110}
    monday = env.run("weekly", "--json", "-z", "UTC", "--start-of-week", "monday").json()
    assert outputs_by(monday, "weekly", "week") == {"2026-11-16": 11, "2026-11-23": 100}


def test_weeks_and_months_add_up_the_generated_days(env, synth):
    tree = synth(14, days=45)
    weeks, months = {}, {}
    for day, models in tree.truth.days.items():
        start = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())   # a Monday
        for key, table in ((start.isoformat(), weeks), (day[:7], months)):
            table[key] = tuple(map(sum, zip(table.get(key, (0, 0, 0, 0)), sum_truth(*models.values()))))
    weekly = env.run("weekly", "--json", "-z", "UTC", "--start-of-week", "monday").json()
    assert {row["week"]: tokens_of(row) for row in weekly["weekly"]} == weeks
    monthly = env.run("monthly", "--json", "-z", "UTC").json()
    assert {row["month"]: tokens_of(row) for row in monthly["monthly"]} == months


def test_months_in_the_chosen_zone(env):
    calls_at(env, ("2026-10-31T23:30:00.000Z", 1), ("2026-11-15T12:00:00.000Z", 10),
             ("2026-12-01T00:30:00.000Z", 100))
    assert outputs_by(env.run("monthly", "--json", "-z", "UTC").json(), "monthly", "month") == \
        {"2026-10": 1, "2026-11": 10, "2026-12": 100}
    assert outputs_by(env.run("monthly", "--json", "-z", "Europe/Berlin").json(), "monthly", "month") == \
        {"2026-11": 11, "2026-12": 100}


def test_today_is_only_todays_calls(env):
    calls_at(env, ("2026-11-19T12:00:00.000Z", 1), ("2026-11-20T00:30:00.000Z", 10),
             ("2026-11-20T23:30:00.000Z", 100), ("2026-11-21T01:00:00.000Z", 1000))
    with freeze_time("2026-11-20 15:00:00"):
        utc = env.run("today", "--json", "-z", "UTC").json()
        berlin = env.run("today", "--json", "-z", "Europe/Berlin").json()
    assert outputs_by(utc) == {"2026-11-20": 110}
    assert outputs_by(berlin) == {"2026-11-20": 10}   # 23:30 UTC is tomorrow in Berlin


def test_order_desc_reverses_the_rows(env):
    calls_at(env, *[(f"2026-11-{day}T12:00:00.000Z", day) for day in (18, 19, 20)])
    assert [r["date"] for r in env.run("daily", "--json", "-z", "UTC", "--order", "desc").json()["daily"]] == \
        ["2026-11-20", "2026-11-19", "2026-11-18"]
    assert [r["date"] for r in env.run("daily", "--json", "-z", "UTC").json()["daily"]] == \
        ["2026-11-18", "2026-11-19", "2026-11-20"]
    table = env.run("daily", "-z", "UTC", "-o", "desc").out
    assert [line[:10] for line in table.splitlines() if line.startswith("2026-")] == \
        ["2026-11-20", "2026-11-19", "2026-11-18"]


# ---------------------------------------------------------------------------
# Breakdown, projects, CSV
# ---------------------------------------------------------------------------

def test_breakdown_adds_a_row_per_model(env):
    write_lines(env.log(), [assistant_line(model="claude-opus-4-6", input=1, output=1_000),
                            assistant_line(model="claude-haiku-4-5-20251001", input=2, output=20)])
    table = env.run("daily", "-z", "UTC", "--breakdown").out
    assert "opus-4-6" in table and "haiku-4-5" in table and "20251001" not in table
    assert not any(line.lstrip().startswith("opus-4-6") for line in env.run("daily", "-z", "UTC").out.splitlines())
    rows = list(csv.DictReader(io.StringIO(env.run("daily", "-z", "UTC", "--csv", "--breakdown").out)))
    assert {r["model"]: (r["input_tokens"], r["output_tokens"]) for r in rows} == {
        "(all)": ("3", "1020"), "claude-opus-4-6": ("1", "1000"), "claude-haiku-4-5-20251001": ("2", "20")}


def test_project_filter_by_last_component_path_or_directory(env, synth):
    tree = synth(9)
    projects = tree.truth.projects

    def project_tokens(name):
        return tokens_of(env.run("daily", "--json", "-z", "UTC", f"--project={name}").json()["totals"])

    # Two projects end in api-server; two cwds share the directory -home-dev-src-web-app-v2.
    assert project_tokens("api-server") == \
        sum_truth(projects["/home/dev/src/api-server"], projects["/home/dev/old/api-server"])
    assert project_tokens("/home/dev/src/api-server") == truth_tokens(projects["/home/dev/src/api-server"])
    assert project_tokens("-home-dev-src-web-app-v2") == \
        sum_truth(projects["/home/dev/src/web_app.v2"], projects["/home/dev/src/web-app-v2"])
    assert project_tokens("no-such-project") == (0, 0, 0, 0)


def sum_truth(*totals):
    return tuple(map(sum, zip(*(truth_tokens(t) for t in totals))))


def test_by_project_groups_rows_under_each_projects_path(env, synth):
    tree = synth(10)
    report = env.run("daily", "--json", "-z", "UTC", "--by-project").json()
    assert set(report) == {"projects", "totals"}
    assert {path: sum_tokens(rows) for path, rows in report["projects"].items()} == \
        {path: truth_tokens(t) for path, t in tree.truth.projects.items()}
    for rows in report["projects"].values():
        assert all(set(row) >= {"date", "inputTokens", "totalCost", "modelBreakdowns"} for row in rows)
    assert tokens_of(report["totals"]) == truth_tokens(tree.truth.total)


def test_csv_parses_and_adds_up_to_the_truth(env, synth):
    tree = synth(11)
    rows = list(csv.DictReader(io.StringIO(env.run("daily", "--csv", "-z", "UTC").out)))
    per_day = {r["date"]: tuple(int(r[k]) for k in ("input_tokens", "output_tokens", "cache_creation_tokens",
                                                     "cache_read_tokens")) for r in rows}
    expected = {day: sum_truth(*models.values()) for day, models in tree.truth.days.items()}
    assert per_day == expected
    sessions = list(csv.DictReader(io.StringIO(env.run("session", "--csv", "-z", "UTC").out)))
    assert {r["session_id"]: int(r["output_tokens"]) for r in sessions} == \
        {s: t.output for s, t in tree.truth.sessions.items()}


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

def test_the_table_has_thousands_separators_and_a_totals_row(env):
    write_lines(env.log(), [assistant_line(input=1_234_567, output=7_654_321, ts="2026-11-19T12:00:00.000Z"),
                            assistant_line(input=1_000_000, output=1, ts="2026-11-20T12:00:00.000Z")])
    lines = env.run("daily", "-z", "UTC").out.splitlines()
    assert "1,234,567" in lines[[i for i, l in enumerate(lines) if l.startswith("2026-11-19")][0]]
    total = lines[-1].split()
    assert total[0] == "Total" and total[1:3] == ["2,234,567", "7,654,322"]
    assert all(len(line) <= 80 for line in lines)


HUGE = dict(input=987_654_321_098, output=876_543_210_987, cache_5m=765_432_109_876,
            cache_read=9_876_543_210_987)


@pytest.mark.parametrize("argv, lines", [
    pytest.param(("daily",), [assistant_line(model="claude-opus-4-1-20250805", **HUGE)], id="daily, huge numbers"),
    pytest.param(("session",), [assistant_line(model="claude-opus-4-1-20250805", **HUGE)],
                 id="session, huge numbers"),
    pytest.param(("monthly", "--breakdown"),
                 [assistant_line(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", **HUGE),
                  assistant_line(model="claude-opus-4-1-20250805", **HUGE)], id="breakdown, a Bedrock model id"),
    pytest.param(("daily", "--by-project"),
                 [assistant_line(cwd="/home/dev/" + "/".join(["a-rather-long-directory-name"] * 8), **HUGE)],
                 id="by project, a long path"),
    pytest.param(("session", "--breakdown"),
                 [assistant_line(session="f" * 60, cwd="/home/dev/" + "x" * 120,
                                 model="global.anthropic.claude-haiku-4-5-20251001-v1:0", **HUGE)],
                 id="session breakdown, long names and a Bedrock model id"),
])
def test_the_table_fits_80_columns_when_not_a_terminal(env, argv, lines):
    write_lines(env.log(), lines)
    out = env.run(*argv, "-z", "UTC").out
    assert out.strip()
    assert [line for line in out.splitlines() if len(line) > 80] == []


def test_colour_only_when_asked_for_or_on_a_terminal(env, monkeypatch):
    calls_at(env, ("2026-11-20T12:00:00.000Z", 5))
    assert "\x1b" not in env.run("daily").out            # captured: not a terminal
    assert "\x1b[" in env.run("daily", "--color", "always").out
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in env.run("daily").out
    assert "\x1b" not in env.run("daily", "--color", "never").out
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in env.run("daily").out


def run_on_a_terminal(env, *argv):
    """The installed command with a pseudo-terminal as its stdout; what it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(env.command(*argv), stdout=slave, stderr=subprocess.PIPE, env=dict(os.environ))
    os.close(slave)
    chunks = []
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:   # the terminal closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_a_terminal_gets_colour_unless_no_color(env, monkeypatch):
    calls_at(env, ("2026-11-20T12:00:00.000Z", 5))
    monkeypatch.setenv("TERM", "xterm-256color")
    assert "\x1b[" in run_on_a_terminal(env, "daily")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in run_on_a_terminal(env, "daily")


EVIL_MODEL = "claude-\x1b[31mred\x1b[0m\x9b2J"
EVIL_CWD = "/home/u/\x1b]0;pwned\x07proj\u202eevil"
EVIL_SESSION = "sess\x1b[2Jion"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.mark.parametrize("argv", [
    ("daily", "--breakdown", "--by-project"),
    ("session", "--breakdown"),
    ("daily", "--csv", "--breakdown", "--by-project"),
    ("session", "--csv", "--breakdown"),
    ("daily", "--json", "--by-project"),
    ("session", "--json"),
])
def test_control_characters_from_the_logs_never_reach_the_output_raw(env, argv, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")   # wide enough that no name is cut short
    write_lines(env.log(EVIL_SESSION, cwd=EVIL_CWD),
                [assistant_line(model=EVIL_MODEL, session=EVIL_SESSION, cwd=EVIL_CWD, output=5),
                 b'{"usage": broken'])   # a skipped line: --verbose names the file
    result = env.run(*argv, "-z", "UTC", "--verbose")
    assert result.code == 0
    for text in (result.out, result.err):
        assert [c for c in RAW if c in text] == []
    assert "red" in result.out and "pwned" in result.out   # shown, escaped
    assert "red" in result.err                              # the warning names the unpriced model
    assert "ion.jsonl" in result.err                        # --verbose names the file of the skipped line
    if "--json" in argv:
        # Escaped, not lost: the JSON still holds the names as logged.
        assert {EVIL_MODEL, EVIL_CWD} <= strings_in(json.loads(result.out))


def strings_in(value):
    """Every string (keys included) in a parsed JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(strings_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value))
    return {value} if isinstance(value, str) else set()


def test_a_project_is_named_by_its_directory_with_or_without_the_leading_dash(env):
    write_lines(env.log(cwd="/home/u/game"), [assistant_line(output=5, cwd="/home/u/game")])
    for name in ("-home-u-game", "home-u-game", "game", "/home/u/game"):
        report = env.run("daily", "--json", f"--project={name}").json()
        assert report["totals"]["outputTokens"] == 5, name


def test_an_unknown_project_is_named_with_the_known_ones(env):
    write_lines(env.log(cwd="/home/u/game"), [assistant_line(output=5, cwd="/home/u/game")])
    result = env.run("daily", "--json", "--project", "gaem")
    assert result.json()["totals"]["outputTokens"] == 0
    assert result.err.count("\n") == 1 and "'gaem'" in result.err and "game" in result.err


def test_the_session_table_keeps_its_last_activity_in_80_columns(env):
    huge = 10 ** 11
    write_lines(env.log(session="a-very-long-session-identifier", cwd="/home/u/a-project-with-a-long-name"),
                [assistant_line(ts="2026-11-20T09:15:00.000Z", output=huge, cache_read=huge, input=huge,
                                cwd="/home/u/a-project-with-a-long-name")])
    table = env.run("session", "-z", "UTC").out
    assert all(len(line) <= 80 for line in table.splitlines()), table
    assert "2026-11-20 09:15" in table
