"""Budgets: the [budgets] settings, `check` and its exit status, and the alerts of --notify and --desktop."""

import json
import os
import shlex
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, write_lines
from support import first_line_is_one_error, write_config

# claude-sonnet-4-5 (assistant_line's model): $3 per million input tokens, $15 per million output tokens,
# so 1,000,000 output tokens cost $15.00 and 100,000 cost $1.50.
NOW = "2026-11-20T12:00:00Z"   # a Friday


def spend(env, ts, output, session="s1", cwd="/home/u/proj", **fields):
    write_lines(env.log(session, cwd), [assistant_line(ts=ts, output=output, session=session, cwd=cwd, **fields)])


def check(env, *args):
    result = env.run("check", "--json", *args)
    assert result.code in (0, 3, 4), result
    return result.code, {b["name"]: b for b in json.loads(result.out)["budgets"]}


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# ---------------------------------------------------------------------------
# States and exit status
# ---------------------------------------------------------------------------

def test_no_budgets_is_one_line_and_ok(env):
    result = env.run("check")
    assert result.code == 0
    assert result.out.startswith("No budgets are set: add a [budgets] table to ")
    assert result.out.count("\n") == 1


@pytest.mark.parametrize("limit, state, code, percent", [
    (20, "ok", 0, 75.0),              # $15 of $20
    (18.76, "ok", 0, 1500 / 18.76),   # 79.96%: just under the threshold
    (18.75, "warning", 4, 80.0),      # exactly at the default threshold of 80%
    (15.01, "warning", 4, 1500 / 15.01),
    (15, "exceeded", 3, 100.0),       # the limit reached counts as exceeded
    (10, "exceeded", 3, 150.0),
])
def test_each_state_has_its_exit_status(env, limit, state, code, percent):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": limit}})
    with freeze_time(NOW):
        got, budgets = check(env)
        text = env.run("check")
    assert got == code and text.code == code
    daily = budgets["daily"]
    assert daily["state"] == state
    assert daily["used"] == pytest.approx(15.0)
    assert daily["limit"] == limit
    assert daily["percent"] == pytest.approx(percent, abs=1e-3)
    (line,) = text.out.splitlines()
    assert line.split()[:5] == ["daily", state, "$15.00", "of", f"${limit:.2f}"]


def test_the_percent_shown_never_rounds_up_to_the_threshold(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.76}})     # 79.957%
    with freeze_time(NOW):
        line = env.run("check").out
    assert "79.9%" in line and "80.0%" not in line and " ok " in line


def test_a_threshold_of_its_own_and_for_all(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"threshold": 50,
                                   "daily": 25,                                # 60%: over 50
                                   "weekly": {"limit": 25, "threshold": 70}}})  # 60%: under 70
    with freeze_time(NOW):
        code, budgets = check(env)
    assert (budgets["daily"]["state"], budgets["daily"]["threshold"]) == ("warning", 50)
    assert (budgets["weekly"]["state"], budgets["weekly"]["threshold"]) == ("ok", 70)
    assert code == 4


def test_the_worst_state_decides_the_exit_status(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18, "weekly": 15, "monthly": 100}})
    with freeze_time(NOW):
        code, budgets = check(env)
    assert [budgets[k]["state"] for k in ("daily", "weekly", "monthly")] == ["warning", "exceeded", "ok"]
    assert code == 3


def test_days_weeks_and_months_follow_the_settings(env):
    spend(env, "2026-10-31T23:00:00.000Z", 100_000)    # October: $1.50
    spend(env, "2026-11-01T10:00:00.000Z", 200_000)    # $3
    spend(env, "2026-11-15T10:00:00.000Z", 400_000)    # Sunday: $6
    spend(env, "2026-11-16T10:00:00.000Z", 800_000)    # Monday: $12
    spend(env, "2026-11-20T10:00:00.000Z", 1_000_000)  # today: $15
    write_config(env, {"start_of_week": "monday", "budgets": {"daily": 100, "weekly": 100, "monthly": 100}})
    with freeze_time(NOW):
        _, budgets = check(env)
        _, sunday = check(env, "--start-of-week", "sunday")
    assert budgets["daily"]["used"] == pytest.approx(15)
    assert budgets["weekly"]["used"] == pytest.approx(12 + 15)
    assert budgets["weekly"]["note"] == "since 2026-11-16"
    assert sunday["weekly"]["used"] == pytest.approx(6 + 12 + 15)
    assert budgets["monthly"]["used"] == pytest.approx(3 + 6 + 12 + 15)


def test_days_are_the_time_zones(env):
    # 23:30 UTC on the 19th is already the 20th in Berlin (UTC+1).
    spend(env, "2026-11-19T23:30:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 100}})
    with freeze_time(NOW):
        _, utc = check(env)
        _, berlin = check(env, "-z", "Europe/Berlin")
    assert utc["daily"]["used"] == 0
    assert berlin["daily"]["used"] == pytest.approx(15)


def test_session_budget_measures_the_dearest_session_still_going(env):
    spend(env, "2026-11-19T20:00:00.000Z", 200_000, session="going")     # yesterday, same session: $3
    spend(env, "2026-11-20T11:00:00.000Z", 1_000_000, session="going")   # $15
    spend(env, "2026-11-20T06:00:00.000Z", 2_000_000, session="ended")   # $30, but 6 hours ago
    write_config(env, {"budgets": {"session": 25}})   # 18 of 25: 72%
    with freeze_time(NOW):
        code, budgets = check(env)
    assert budgets["session"]["used"] == pytest.approx(18)
    assert budgets["session"]["note"] == "session going"
    assert budgets["session"]["state"] == "ok" and code == 0


def test_project_budgets_count_their_project_alone(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000, cwd="/home/u/api")   # $15
    spend(env, "2026-11-20T09:10:00.000Z", 200_000, cwd="/home/u/web", session="s2")   # $3
    write_config(env, {"budgets": {"daily": 100, "projects": {
        "api": {"daily": 10},
        "/home/u/web": {"daily": 10, "monthly": {"limit": 5, "threshold": 50}}}}})
    with freeze_time(NOW):
        code, budgets = check(env)
    assert budgets["daily"]["used"] == pytest.approx(18)
    assert (budgets["daily@api"]["used"], budgets["daily@api"]["state"]) == (pytest.approx(15), "exceeded")
    assert budgets["daily@api"]["project"] == "api"
    assert (budgets["daily@/home/u/web"]["used"], budgets["daily@/home/u/web"]["state"]) == (pytest.approx(3), "ok")
    assert budgets["monthly@/home/u/web"]["state"] == "warning"    # $3 of $5 is 60%
    assert code == 3


def test_a_project_budget_of_no_known_project_says_so(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000, cwd="/home/u/api")
    write_config(env, {"budgets": {"projects": {"apii": {"daily": 10}}}})
    with freeze_time(NOW):
        code, budgets = check(env)
    assert code == 0
    assert budgets["daily@apii"] == dict(budgets["daily@apii"], used=0, state="ok",
                                         note="no project of this name has calls yet")


def insert_rate_limits(env, *rows):
    conn = sqlite3.connect(env.db)
    with conn:
        conn.executemany("INSERT INTO rate_limits (window, captured_at, used_percentage, resets_at) "
                         "VALUES (?, ?, ?, ?)",
                         [(w, ms(captured), used, ms(resets) // 1000) for w, captured, used, resets in rows])
    conn.close()


def test_window_budgets_measure_the_active_window(env):
    spend(env, "2026-11-20T10:20:00.000Z", 3000)
    spend(env, "2026-11-20T11:50:00.000Z", 1000, input=1000)
    # The window 10:00 to 15:00: 5,000 tokens costing 4,000 * $15 / 1e6 + 1,000 * $3 / 1e6 = $0.063.
    write_config(env, {"token_limit": 10000, "budgets": {"window_tokens": 6000, "window_cost": 0.1,
                                                         "window_percent": 60, "seven_day_percent": 80}})
    with freeze_time(NOW):
        code, budgets = check(env)
        assert budgets["window_tokens"]["used"] == 5000
        assert budgets["window_tokens"]["state"] == "warning"          # 83.3%
        assert budgets["window_cost"]["used"] == pytest.approx(0.063)
        assert budgets["window_cost"]["state"] == "ok"                 # 63%
        # 5,000 of the 10,000-token limit is 50% used; 50 of 60 is 83.3% of the budget.
        assert budgets["window_percent"]["used"] == pytest.approx(50)
        assert budgets["window_percent"]["state"] == "warning"
        assert budgets["window_percent"]["note"].startswith("estimated: ")
        assert budgets["seven_day_percent"]["state"] == "unknown" and budgets["seven_day_percent"]["used"] is None
        assert code == 4
        insert_rate_limits(env, ("five_hour", "2026-11-20T11:55:00Z", 42.0, "2026-11-20T14:00:00Z"),
                           ("seven_day", "2026-11-20T11:55:00Z", 85.0, "2026-11-24T09:00:00Z"))
        code, budgets = check(env)
    assert (budgets["window_percent"]["used"], budgets["window_percent"]["note"]) == (42.0, "official")
    assert budgets["window_percent"]["state"] == "ok"                  # 42 of 60: 70%
    assert (budgets["seven_day_percent"]["used"], budgets["seven_day_percent"]["state"]) == (85.0, "exceeded")
    assert code == 3


def test_window_budgets_without_an_active_window_are_ok(env):
    spend(env, "2026-11-20T01:00:00.000Z", 3000)
    write_config(env, {"budgets": {"window_tokens": 1000, "window_cost": 0.01}})
    with freeze_time(NOW):
        code, budgets = check(env)
    assert code == 0
    assert budgets["window_tokens"] == dict(budgets["window_tokens"], used=0, state="ok", note="no active window")


def test_unknown_counts_as_ok(env):
    write_config(env, {"budgets": {"seven_day_percent": 90}})
    with freeze_time(NOW):
        result = env.run("check")
    assert result.code == 0
    assert result.out.split()[:2] == ["seven_day_percent", "unknown"]


def test_json_config_holds_the_same_budgets(env, monkeypatch):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    path = env.tmp / "config.json"
    path.write_text(json.dumps({"budgets": {"daily": {"limit": 16, "threshold": 90},
                                            "projects": {"proj": {"daily": 12}}}}))
    monkeypatch.setenv("CCUSAGE_CONFIG", str(path))
    with freeze_time(NOW):
        code, budgets = check(env)
    assert budgets["daily"]["state"] == "warning" and budgets["daily"]["threshold"] == 90   # 93.75%
    assert budgets["daily@proj"]["state"] == "exceeded"
    assert code == 3


def test_config_show_lists_the_budgets(env):
    path = write_config(env, {"budgets": {"daily": 20, "projects": {"api": {"monthly": 50}}}})
    text = env.run_raw("config", "show", "--for", "check").out
    assert f"budget          daily: $20.00, warning at 80%  [{path}]" in text
    assert f"budget          monthly@api: $50.00, warning at 80%  [{path}]" in text


@pytest.mark.parametrize("settings, where, expected", [
    ({"budgets": {"daily": -1}}, "[budgets] daily", "US dollars above 0"),
    ({"budgets": {"daily": True}}, "[budgets] daily", "US dollars above 0"),
    ({"budgets": {"hourly": 5}}, "[budgets]", "unknown key 'hourly'"),
    ({"budgets": {"threshold": 120}}, "[budgets] threshold", "at most 100"),
    ({"budgets": {"daily": {"limit": 5, "threshold": 0}}}, "[budgets] daily.threshold", "above 0"),
    ({"budgets": {"daily": {"threshold": 50}}}, "[budgets] daily", "limit is required"),
    ({"budgets": {"window_tokens": 1.5}}, "[budgets] window_tokens", "whole number of tokens"),
    ({"budgets": {"window_percent": 150}}, "[budgets] window_percent", "at most 100"),
    ({"budgets": {"cooldown": -1}}, "[budgets] cooldown", "minutes from 0"),
    ({"budgets": {"notify_timeout": 0}}, "[budgets] notify_timeout", "seconds above 0"),
    ({"budgets": {"projects": 3}}, "[budgets] projects", "a table of projects"),
    ({"budgets": {"projects": {"api": {"window_tokens": 5}}}}, '[budgets.projects."api"]',
     "unknown key 'window_tokens'"),
    ({"budgets": 5}, "[budgets]", "a table of budgets"),
    ({"plan_price": "lots"}, "plan_price", "US dollars"),
])
def test_a_bad_budget_is_one_line_naming_the_file_and_key(env, settings, where, expected):
    path = write_config(env, settings)
    result = env.run("check")
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert f"config file {path}: {where}" in result.err and expected in result.err, result.err


# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------

RECORDER = """\
import json, os, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"argv": sys.argv[2:],
                        "env": {k: v for k, v in os.environ.items() if k.startswith("CCUSAGE_BUDGET")}}) + "\\n")
"""


def recorder(env):
    """(a --notify command that appends its arguments and CCUSAGE_BUDGET* variables to a file, the file)."""
    script = env.tmp / "record.py"
    script.write_text(RECORDER)
    log = env.tmp / "alerts.jsonl"
    return shlex.join([sys.executable, str(script), str(log), "two words", "$HOME;exit 1"]), log


def alerts(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_notify_runs_the_command_without_a_shell_with_the_budget_in_its_environment(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75, "weekly": 100}})
    command, log = recorder(env)
    with freeze_time(NOW):
        result = env.run("check", "--notify", command)
    assert result.code == 4 and result.err == ""
    (alert,) = alerts(log)      # weekly is ok, as it was: no alert
    # No shell: the words arrive as written, $HOME and ; untouched.
    assert alert["argv"] == ["two words", "$HOME;exit 1"]
    assert alert["env"] == {"CCUSAGE_BUDGET": "daily", "CCUSAGE_BUDGET_STATE": "warning",
                            "CCUSAGE_BUDGET_PREVIOUS_STATE": "ok", "CCUSAGE_BUDGET_UNIT": "usd",
                            "CCUSAGE_BUDGET_USED": "15.00", "CCUSAGE_BUDGET_LIMIT": "18.75",
                            "CCUSAGE_BUDGET_PERCENT": "80.0",
                            "CCUSAGE_BUDGET_MESSAGE": "daily  warning  $15.00 of $18.75  80.0%"}


def test_an_alert_per_change_and_none_within_the_cooldown(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75, "cooldown": 60}})
    command, log = recorder(env)

    def run_at(moment):
        with freeze_time(moment):
            return env.run("check", "--notify", command).code

    assert run_at("2026-11-20T12:00:00Z") == 4
    assert run_at("2026-11-20T12:01:00Z") == 4           # the same state: no alert
    assert len(alerts(log)) == 1
    spend(env, "2026-11-20T12:01:30.000Z", 500_000)      # $22.50: exceeded
    assert run_at("2026-11-20T12:02:00Z") == 3           # a change, but within an hour of the last alert
    assert len(alerts(log)) == 1
    assert run_at("2026-11-20T13:00:00Z") == 3           # exactly 60 minutes on
    assert run_at("2026-11-20T13:05:00Z") == 3
    assert run_at("2026-11-21T00:05:00Z") == 0           # a new day: back to ok, and that is a change too
    assert [(a["env"]["CCUSAGE_BUDGET_PREVIOUS_STATE"], a["env"]["CCUSAGE_BUDGET_STATE"]) for a in alerts(log)] == [
        ("ok", "warning"), ("warning", "exceeded"), ("exceeded", "ok")]


def test_a_cooldown_of_zero_alerts_of_every_change(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75, "cooldown": 0}})
    command, log = recorder(env)
    with freeze_time("2026-11-20T12:00:00Z"):
        env.run("check", "--notify", command)
    spend(env, "2026-11-20T12:00:30.000Z", 500_000)
    with freeze_time("2026-11-20T12:01:00Z"):
        env.run("check", "--notify", command)
    assert [a["env"]["CCUSAGE_BUDGET_STATE"] for a in alerts(log)] == ["warning", "exceeded"]


def test_a_check_without_alerts_leaves_the_alert_states_alone(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75}})
    command, log = recorder(env)
    with freeze_time(NOW):
        assert env.run("check").code == 4
        assert env.run("check", "--notify", command).code == 4
    assert len(alerts(log)) == 1


FAILING = """\
import sys
with open(sys.argv[1], "a") as f:
    f.write("tried\\n")
sys.stderr.write("first line\\nsmtp: connection refused\\n")
sys.exit(7)
"""


def test_a_failing_command_is_one_line_and_is_tried_again_after_the_cooldown(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75, "cooldown": 30}})
    script, tries = env.tmp / "fail.py", env.tmp / "tries"
    script.write_text(FAILING)
    command = shlex.join([sys.executable, str(script), str(tries)])
    with freeze_time("2026-11-20T12:00:00Z"):
        result = env.run("check", "--notify", command)
    assert result.code == 4                          # the budget's state, not the command's failure
    assert result.out.startswith("daily  warning")
    assert result.err.count("\n") == 1
    assert result.err == (f"ccusage: warning: notify command {sys.executable!r} for budget daily failed "
                          "(exit status 7): smtp: connection refused\n")
    with freeze_time("2026-11-20T12:10:00Z"):
        assert env.run("check", "--notify", command).err == ""       # within the cooldown
    with freeze_time("2026-11-20T12:31:00Z"):
        assert "failed (exit status 7)" in env.run("check", "--notify", command).err
    assert tries.read_text() == "tried\ntried\n"


def test_a_command_that_cannot_be_run_is_one_line(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75}})
    with freeze_time(NOW):
        result = env.run("check", "--notify", str(env.tmp / "no-such-command"))
    assert result.code == 4
    assert result.err.startswith(f"ccusage: warning: cannot run notify command '{env.tmp / 'no-such-command'}'")
    assert result.err.count("\n") == 1


HANGING = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as f:
    f.write(str(child.pid))
time.sleep(120)
"""


def process_gone(pid):
    """Has pid ended (gone, or a zombie not yet reaped)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_hanging_command_is_stopped_at_the_timeout_with_what_it_started(env):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75, "weekly": 18.75, "notify_timeout": 0.5}})
    script, pid_file = env.tmp / "hang.py", env.tmp / "child.pid"
    script.write_text(HANGING)
    command = shlex.join([sys.executable, str(script), str(pid_file)])
    # tick: the timeout is measured on a clock that moves.
    with freeze_time(NOW, tick=True):
        result = env.run("check", "--notify", command)
    assert result.code == 4
    lines = result.err.splitlines()
    assert lines == [f"ccusage: warning: notify command {sys.executable!r} for budget {name} did not finish "
                     "within 0.5 seconds: stopped it" for name in ("daily", "weekly")]
    assert process_gone(int(pid_file.read_text()))


def fake_program(directory, name, log):
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    path.chmod(0o755)


def test_desktop_notification_with_notify_send(env, monkeypatch):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 10}})
    log = env.tmp / "desktop.jsonl"
    fake_program(env.tmp / "bin", "notify-send", log)
    monkeypatch.setenv("PATH", str(env.tmp / "bin"))
    with freeze_time(NOW):
        result = env.run("check", "--desktop")
    assert (result.code, result.err) == (3, "")
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        ["--app-name=ccusage", "ccusage: budget daily exceeded", "$15.00 of $10.00 (150.0%)"]]


def test_no_desktop_notifier_is_a_note_not_a_failure(env, monkeypatch):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000)
    write_config(env, {"budgets": {"daily": 18.75}})
    (env.tmp / "empty").mkdir()
    monkeypatch.setenv("PATH", str(env.tmp / "empty"))
    command, log = recorder(env)
    with freeze_time(NOW):
        result = env.run("check", "--desktop", "--notify", command)
    assert result.code == 4
    assert result.err == "ccusage: warning: no notify-send or osascript found: no desktop notification shown\n"
    assert len(alerts(log)) == 1        # --notify still ran


def test_osascript_is_given_quoted_text(env, monkeypatch):
    spend(env, "2026-11-20T09:00:00.000Z", 1_000_000, cwd='/home/u/say "hi"')
    write_config(env, {"budgets": {"projects": {'say "hi"': {"daily": 10}}}})
    log = env.tmp / "osascript.jsonl"
    fake_program(env.tmp / "bin", "osascript", log)
    monkeypatch.setenv("PATH", str(env.tmp / "bin"))
    with freeze_time(NOW):
        assert env.run("check", "--desktop").code == 3
    (argv,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv == ["-e", 'display notification "$15.00 of $10.00 (150.0%)" '
                          'with title "ccusage: budget daily@say \\"hi\\" exceeded"']


@pytest.mark.parametrize("value, message", [
    ("", "argument --notify: expected a command, got an empty string"),
    ("'unclosed", "argument --notify: No closing quotation"),
])
def test_a_bad_notify_command_is_a_usage_error(env, value, message):
    result = env.run("check", "--notify", value)
    assert result.code == 2
    first_line_is_one_error(result)
    assert message in result.err


def test_check_help_documents_the_exit_status(env):
    result = env.run_raw("check", "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    assert "0 every budget is ok, 4 one is at its warning threshold and none over, 3 one is exceeded" in text
