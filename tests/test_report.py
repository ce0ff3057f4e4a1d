"""`report`: the summary of a day, week or month, as text for mail, Markdown and JSON; and its crontab lines."""

import json
import os
import re
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, write_lines
from support import CONFIG_NAME, installed_ccusage, write_config, write_settings

README = Path(__file__).resolve().parent.parent / "README.md"
# claude-sonnet-4-5 (assistant_line's model) bills output at $15 per million tokens, so each call below
# costs its output tokens times $0.000015.  Powers of two tell in a sum which calls it holds.
OPUS_41 = "claude-opus-4-1-20250805"   # output $75 per million

# Around the end of summer time in Berlin: at 01:00 UTC on Sunday 2026-10-25 the clocks go from 03:00
# CEST (UTC+2) back to 02:00 CET (UTC+1), so that local day lasts 25 hours, from 2026-10-24T22:00Z to
# 2026-10-25T23:00Z.  October in Berlin runs from 2026-09-30T22:00Z to 2026-10-31T23:00Z.
AUTUMN = {
    "2026-09-30T21:30:00Z": 1,       # 23:30 CEST on 30 September
    "2026-09-30T22:30:00Z": 2,       # 00:30 CEST on 1 October
    "2026-10-18T21:30:00Z": 4,       # 23:30 CEST on Sunday the 18th: the week before
    "2026-10-18T22:30:00Z": 8,       # 00:30 CEST on Monday the 19th
    "2026-10-24T21:59:00Z": 16,      # 23:59 CEST on the 24th
    "2026-10-24T22:01:00Z": 32,      # 00:01 CEST on the 25th
    "2026-10-25T00:30:00Z": 64,      # 02:30 CEST, the first time round
    "2026-10-25T01:30:00Z": 128,     # 02:30 CET, the second
    "2026-10-25T22:59:00Z": 256,     # 23:59 CET on the 25th
    "2026-10-25T23:01:00Z": 512,     # 00:01 CET on the 26th
    "2026-10-31T22:30:00Z": 1024,    # 23:30 CET on 31 October
    "2026-10-31T23:30:00Z": 2048,    # 00:30 CET on 1 November
}
UNIT = 1000   # output tokens per unit above


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def spend(env, calls, session="s1", cwd="/home/u/proj", model=None):
    extra = {"model": model} if model else {}
    write_lines(env.log(session, cwd), [assistant_line(ts=ts.replace("Z", ".000Z"), output=units * UNIT,
                                                       session=session, cwd=cwd, **extra)
                                        for ts, units in calls.items()])


def report(env, *args):
    result = env.run("report", "--json", *args)
    assert result.code == 0, result
    return json.loads(result.out)


def store_output(env, since, until):
    """Output tokens of the calls the store holds from since to until (UTC ISO times)."""
    conn = sqlite3.connect(env.db)
    try:
        return conn.execute("SELECT total(output) FROM calls WHERE ts >= ? AND ts < ?",
                            (ms(since), ms(until))).fetchone()[0]
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# The period and its numbers
# ---------------------------------------------------------------------------

def test_a_day_of_25_hours_in_berlin(env):
    spend(env, AUTUMN)
    with freeze_time("2026-11-02T12:00:00Z"):
        data = report(env, "--date", "2026-10-25", "-z", "Europe/Berlin")
    units = 32 + 64 + 128 + 256
    assert data["period"] == {"kind": "day", "first": "2026-10-25", "last": "2026-10-25",
                              "timezone": "Europe/Berlin"}
    assert data["totals"]["outputTokens"] == units * UNIT
    assert data["totals"]["calls"] == 4
    assert data["totals"]["totalCost"] == pytest.approx(units * UNIT * 15 / 1e6)
    assert store_output(env, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z") == units * UNIT
    assert data["previous"]["first"] == "2026-10-24"
    assert data["previous"]["totalCost"] == pytest.approx(16 * UNIT * 15 / 1e6)
    assert data["previous"]["costChangePercent"] == pytest.approx((units - 16) / 16 * 100)


def test_a_week_across_the_change(env):
    spend(env, AUTUMN)
    write_config(env, {"start_of_week": "monday"})
    with freeze_time("2026-11-02T12:00:00Z"):
        data = report(env, "--week", "--date", "2026-10-21", "-z", "Europe/Berlin")
    # Monday the 19th 00:00 CEST to Monday the 26th 00:00 CET.
    units = 8 + 16 + 32 + 64 + 128 + 256
    assert (data["period"]["first"], data["period"]["last"]) == ("2026-10-19", "2026-10-25")
    assert data["totals"]["outputTokens"] == units * UNIT
    assert store_output(env, "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z") == units * UNIT
    assert (data["previous"]["first"], data["previous"]["last"]) == ("2026-10-12", "2026-10-18")
    assert data["previous"]["totalTokens"] == 4 * UNIT


def test_a_month_across_the_change(env):
    spend(env, AUTUMN)
    with freeze_time("2026-11-02T12:00:00Z"):
        data = report(env, "--month", "--date", "2026-10-09", "-z", "Europe/Berlin")
        default = report(env, "--month", "-z", "Europe/Berlin")     # the last whole month: the same
    units = 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 512 + 1024
    assert (data["period"]["first"], data["period"]["last"]) == ("2026-10-01", "2026-10-31")
    assert data["totals"]["outputTokens"] == units * UNIT
    assert store_output(env, "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z") == units * UNIT
    assert data["previous"]["totalTokens"] == 1 * UNIT
    assert default["totals"] == data["totals"]


def test_a_day_of_23_hours_in_spring(env):
    # At 01:00 UTC on 2026-03-29 Berlin goes from 02:00 CET to 03:00 CEST: that day is
    # 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    spend(env, {"2026-03-28T22:59:00Z": 1, "2026-03-28T23:01:00Z": 2, "2026-03-29T01:30:00Z": 4,
                "2026-03-29T21:59:00Z": 8, "2026-03-29T22:01:00Z": 16})
    with freeze_time("2026-04-02T12:00:00Z"):
        data = report(env, "--date", "2026-03-29", "-z", "Europe/Berlin")
    assert data["totals"]["outputTokens"] == (2 + 4 + 8) * UNIT
    assert store_output(env, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z") == (2 + 4 + 8) * UNIT


def test_the_default_is_yesterday_in_the_users_zone(env):
    spend(env, AUTUMN)
    # 23:30 UTC on the 25th is 00:30 on the 26th in Berlin: there yesterday is the 25th, in UTC the 24th.
    with freeze_time("2026-10-25T23:30:00Z"):
        berlin = report(env, "-z", "Europe/Berlin")
        utc = report(env, "-z", "UTC")
    assert berlin["period"]["first"] == "2026-10-25"
    assert berlin["totals"]["outputTokens"] == (32 + 64 + 128 + 256) * UNIT
    assert utc["period"]["first"] == "2026-10-24"
    assert utc["totals"]["outputTokens"] == (16 + 32) * UNIT


def test_the_default_week_is_the_last_whole_one(env):
    spend(env, AUTUMN)
    with freeze_time("2026-10-28T12:00:00Z"):     # a Wednesday; weeks start on Sunday by default
        data = report(env, "--week", "-z", "Europe/Berlin")
    assert (data["period"]["first"], data["period"]["last"]) == ("2026-10-18", "2026-10-24")
    # Sunday the 18th 00:00 CEST to Sunday the 25th 00:00 CEST.
    assert data["totals"]["outputTokens"] == (4 + 8 + 16) * UNIT


def test_the_empty_period_is_one_line(env):
    spend(env, AUTUMN)
    with freeze_time("2026-11-02T12:00:00Z"):
        day = env.run("report", "--date", "2026-10-10", "-z", "Europe/Berlin")
        month = env.run("report", "--month", "--date", "2026-07-04", "--markdown")
        data = report(env, "--date", "2026-10-10")
    assert (day.code, day.out) == (0, "No usage on Saturday 2026-10-10 (Europe/Berlin).\n")
    assert (month.code, month.out) == (0, "No usage in July 2026 (UTC).\n")
    assert data["totals"]["calls"] == 0 and data["totals"]["totalCost"] == 0


def test_an_empty_store_is_one_line_too(env):
    with freeze_time("2026-11-02T12:00:00Z"):
        result = env.run("report")
    assert (result.code, result.out) == (0, "No usage on Sunday 2026-11-01 (UTC).\n")


def test_cost_by_model_project_and_the_top_sessions(env):
    day = "2026-11-19T"
    spend(env, {day + "09:00:00Z": 100}, session="a", cwd="/home/u/api")                   # $1.50
    spend(env, {day + "10:00:00Z": 200}, session="b", cwd="/home/u/api", model=OPUS_41)    # $15
    spend(env, {day + "11:00:00Z": 300}, session="c", cwd="/home/u/web")                   # $4.50
    with freeze_time("2026-11-20T08:00:00Z"):
        data = report(env)
        text = env.run("report").out
    assert [(m["modelName"], m["cost"]) for m in data["models"]] == [
        (OPUS_41, pytest.approx(15)), ("claude-sonnet-4-5-20250929", pytest.approx(6))]
    assert [(p["projectPath"], p["cost"]) for p in data["projects"]] == [
        ("/home/u/api", pytest.approx(16.5)), ("/home/u/web", pytest.approx(4.5))]
    assert [s["sessionId"] for s in data["topSessions"]] == ["b", "c", "a"]
    assert data["totals"]["totalCost"] == pytest.approx(21)
    assert re.search(r"^opus-4-1 +200,000 +\$15\.00 +71\.4%$", text, re.M), text
    assert re.search(r"^/home/u/web +300,000 +\$4\.50 +21\.4%$", text, re.M), text


def test_top_sessions_are_five(env):
    for n in range(7):
        spend(env, {f"2026-11-19T0{n}:00:00Z": n + 1}, session=f"s{n}")
    with freeze_time("2026-11-20T08:00:00Z"):
        data = report(env)
    assert [s["sessionId"] for s in data["topSessions"]] == ["s6", "s5", "s4", "s3", "s2"]


# ---------------------------------------------------------------------------
# API value against the plan
# ---------------------------------------------------------------------------

def test_a_month_of_api_value_on_a_max20_plan(env):
    spend(env, {"2026-11-03T10:00:00Z": 28_000, "2026-11-17T10:00:00Z": 28_000})   # 56M tokens: $840
    write_config(env, {"plan": "max20"})
    with freeze_time("2026-12-01T08:00:00Z"):
        text = env.run("report", "--month").out
        data = report(env, "--month")
        monthly = env.run("monthly").out
    assert "API value $840.00 on a $200 plan (4.2x)" in text
    assert "plan price: Anthropic's list price of Max 20x, a month" in text
    assert data["apiValue"] == {"cost": pytest.approx(840), "planPrice": 200, "planShare": 200,
                                "planPriceBasis": "Anthropic's list price of Max 20x", "multiple": pytest.approx(4.2)}
    # monthly: a Vs plan column
    assert re.search(r"^2026-11 .* \$840\.00 +4\.2x$", monthly, re.M), monthly
    assert "Vs plan: API value as a multiple of $200.00 a month (Anthropic's list price of Max 20x)" in monthly


def test_a_day_takes_its_share_of_the_monthly_price(env):
    spend(env, {"2026-11-19T10:00:00Z": 1000})      # 1M tokens: $15
    write_config(env, {"plan": "pro"})
    with freeze_time("2026-11-20T08:00:00Z"):
        text = env.run("report").out
        data = report(env)
    # $20 a month is 20 / (365.25 / 12) = $0.657 a day; 15 / 0.657 = 22.8
    assert "API value $15.00 on a $20 plan, $0.66 of it for this day (22.8x)" in text
    assert data["apiValue"]["planShare"] == pytest.approx(20 * 12 / 365.25)


def test_plan_price_wins_over_the_list_price(env, monkeypatch):
    spend(env, {"2026-11-19T10:00:00Z": 1000})
    write_config(env, {"plan": "max5", "plan_price": 150})
    with freeze_time("2026-11-20T08:00:00Z"):
        assert report(env)["apiValue"]["planPrice"] == 150
        monkeypatch.setenv("CCUSAGE_PLAN_PRICE", "30")
        data = report(env)
    assert data["apiValue"]["planPrice"] == 30 and data["apiValue"]["planPriceBasis"] == "your plan_price"


def test_without_a_plan_the_value_stands_alone(env):
    spend(env, {"2026-11-19T10:00:00Z": 1000})
    with freeze_time("2026-11-20T08:00:00Z"):
        text = env.run("report").out
        monthly = env.run("monthly").out
    assert "API value $15.00 (set plan (pro, max5, max20) or plan_price to compare)" in text
    assert "Vs plan" not in monthly


# ---------------------------------------------------------------------------
# Windows and budgets
# ---------------------------------------------------------------------------

def limit_line(ts, reset_epoch):
    line = assistant_line(ts=ts, model="<synthetic>")
    line["isApiErrorMessage"] = True
    line["message"]["content"] = [{"type": "text", "text": f"Claude AI usage limit reached|{reset_epoch}"}]
    return line


def test_windows_that_reached_a_limit(env):
    spend(env, {"2026-11-19T01:10:00Z": 1, "2026-11-19T09:10:00Z": 20, "2026-11-19T16:00:00Z": 3})
    write_lines(env.log(), [limit_line("2026-11-19T17:00:00.000Z", ms("2026-11-19T21:00:00Z") // 1000)])
    write_config(env, {"token_limit": 10000})
    with freeze_time("2026-11-20T08:00:00Z"):
        data = report(env)
        text = env.run("report").out
    assert [(w["startTime"], w["totalTokens"], w["limitReached"]) for w in data["windows"]] == [
        ("2026-11-19T01:00:00.000Z", 1000, None),
        ("2026-11-19T09:00:00.000Z", 20000, "estimated"),         # over the 10,000-token limit
        ("2026-11-19T16:00:00.000Z", 3000, "limit message")]      # Claude Code said so
    assert "3 windows, 2 reached a limit; limit 10,000 tokens, your limit" in text
    assert re.search(r"^2026-11-19 09:00-14:00 +20,000 +\$0\.30 +200% +reached \(estimated\)$", text, re.M), text


def test_a_window_the_official_figure_put_at_100_percent(env):
    spend(env, {"2026-11-19T09:10:00Z": 1, "2026-11-19T16:00:00Z": 2})
    with freeze_time("2026-11-20T08:00:00Z"):
        report(env)     # makes the store
        conn = sqlite3.connect(env.db)
        with conn:      # as the status line records it, captured at 13:30 in the window 09:00 to 14:00
            conn.execute("INSERT INTO rate_limits (window, captured_at, used_percentage, resets_at) "
                         "VALUES ('five_hour', ?, 100.0, ?)",
                         (ms("2026-11-19T13:30:00Z"), ms("2026-11-19T14:00:00Z") // 1000))
        conn.close()
        data = report(env)
    assert [w["limitReached"] for w in data["windows"]] == ["official", None]


def test_a_week_lists_only_the_windows_that_reached_a_limit(env):
    spend(env, {"2026-11-16T01:10:00Z": 1, "2026-11-17T09:10:00Z": 20})
    write_config(env, {"token_limit": 10000})
    with freeze_time("2026-11-23T08:00:00Z"):
        text = env.run("report", "--week").out
    assert "2 windows, 1 reached a limit" in text
    assert "2026-11-17 09:00-14:00" in text and "2026-11-16 01:00" not in text


def test_budgets_as_of_the_end_of_the_period(env):
    spend(env, {"2026-11-18T10:00:00Z": 500, "2026-11-19T10:00:00Z": 1000})    # $7.50, then $15
    write_config(env, {"budgets": {"daily": 18.75, "monthly": 20, "session": 100, "seven_day_percent": 50}})
    with freeze_time("2026-11-20T08:00:00Z"):
        data = report(env)
        text = env.run("report").out
    budgets = {b["name"]: b for b in data["budgets"]}
    assert (budgets["daily"]["used"], budgets["daily"]["state"]) == (pytest.approx(15), "warning")
    assert (budgets["monthly"]["used"], budgets["monthly"]["state"]) == (pytest.approx(22.5), "exceeded")
    assert budgets["session"]["used"] == pytest.approx(15)      # the session's calls in the period
    assert budgets["seven_day_percent"]["state"] == "unknown"
    assert "Budgets (as of 2026-11-19)" in text
    assert re.search(r"^daily +warning +\$15\.00 of \$18\.75 +80\.0%$", text, re.M), text


# ---------------------------------------------------------------------------
# Text for mail, Markdown
# ---------------------------------------------------------------------------

def test_text_for_mail_is_plain_and_fits_80_columns(env):
    long_project = "/home/u/" + "a-very-long-project-name-" * 6
    spend(env, {"2026-11-19T10:00:00Z": 1000}, cwd=long_project)
    spend(env, {"2026-11-19T11:00:00Z": 10}, cwd="/home/u/\x1b[31mred", session="s2")
    with freeze_time("2026-11-20T08:00:00Z"):
        result = env.run("report", "--color", "auto")
        forced = env.run("report", "--color", "always")
    assert result.code == 0
    assert "\x1b" not in result.out
    assert max(len(line) for line in result.out.splitlines()) <= 80
    assert result.out.startswith("Usage report for Thursday 2026-11-19 (UTC)\n\n"
                                 "Cost    $15.15 (nothing on 2026-11-18)\n")
    assert "\\x1b[31mred" in result.out
    assert "\x1b[1m" in forced.out


def test_markdown(env):
    spend(env, {"2026-11-19T10:00:00Z": 1000}, cwd="/home/u/a|b")
    with freeze_time("2026-11-20T08:00:00Z"):
        text = env.run("report", "--markdown").out
    lines = text.splitlines()
    assert lines[0] == "# Usage report for Thursday 2026-11-19 (UTC)"
    assert "- **Cost**: $15.00 (nothing on 2026-11-18)" in lines
    assert "## Cost by project" in lines
    at = lines.index("## Cost by project")
    assert lines[at + 2:at + 5] == ["| Project | Tokens | Cost | Share |", "| --- | ---: | ---: | ---: |",
                                    "| /home/u/a\\|b | 1,000,000 | $15.00 | 100.0% |"]


@pytest.mark.parametrize("args", [["--week", "--month"], ["--json", "--markdown"], ["--date", "2026-13-01"]])
def test_report_usage_errors(env, args):
    result = env.run("report", *args)
    assert result.code == 2 and result.err.count("\n") == 1


# ---------------------------------------------------------------------------
# The crontab lines of the README, run as cron runs them
# ---------------------------------------------------------------------------

def crontab_lines():
    """The README's crontab example: (variable assignments, [(schedule, command)])."""
    block = re.search(r"```crontab\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README has no ```crontab block"
    variables, jobs = {}, []
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.match(r"([A-Z_]+)=(.*)$", line)
        if match:
            variables[match.group(1)] = match.group(2)
            continue
        fields = line.split(None, 5)
        jobs.append((" ".join(fields[:5]), fields[5]))
    return variables, jobs


ALERT_SCRIPT = """\
#!/bin/sh
printf '%s %s %s of %s\\n' "$CCUSAGE_BUDGET" "$CCUSAGE_BUDGET_STATE" "$CCUSAGE_BUDGET_USED" \
    "$CCUSAGE_BUDGET_LIMIT" >> "$HOME/alerts.log"
"""


def test_the_crontab_lines_run_as_cron_runs_them(tmp_path):
    variables, jobs = crontab_lines()
    assert "MAILTO" in variables
    assert [schedule for schedule, _ in jobs] == ["0 7 * * *", "*/10 * * * *"]
    home = tmp_path / "home"
    # What the commands expect: ccusage where the README installs it, logs in ~/.claude, settings.
    (home / ".local" / "bin").mkdir(parents=True)
    os.symlink(installed_ccusage(), home / ".local" / "bin" / "ccusage")
    (home / "bin").mkdir()
    alert = home / "bin" / "claude-budget-alert"
    alert.write_text(ALERT_SCRIPT)
    alert.chmod(0o755)
    now = datetime.now(timezone.utc)
    yesterday = (now - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    path = Path(os.path.join(home, ".claude", "projects", "-home-u-proj", "s1.jsonl"))
    write_lines(str(path), [assistant_line(ts=yesterday.strftime("%Y-%m-%dT%H:%M:%S.000Z"), output=1_000_000,
                                           session="s1"),
                            assistant_line(ts=(now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                           output=1_000_000, session="s2")])
    write_settings(home / ".config" / "ccusage" / CONFIG_NAME, {"timezone": "UTC", "budgets": {"session": 10}})
    # cron's environment: no TERM, no XDG variables, a short PATH.
    cron_env = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "user", "HOME": str(home)}
    outputs = []
    for _, command in jobs:
        proc = subprocess.run(["/bin/sh", "-c", command], env=cron_env, capture_output=True, text=True,
                              timeout=60, cwd=home)
        outputs.append(proc)
    daily, checking = outputs
    assert daily.returncode == 0, daily.stderr
    assert daily.stderr == ""
    text = daily.stdout
    assert text.startswith(f"Usage report for {yesterday.strftime('%A %Y-%m-%d')} (UTC)\n")
    assert "\x1b" not in text and max(len(line) for line in text.splitlines()) <= 80
    # (Just after midnight UTC the call of two minutes ago was yesterday's too.)
    cost = 30 if (now - timedelta(minutes=2)).date() == yesterday.date() else 15
    assert f"Cost    ${cost}.00" in text
    # The check: nothing on stdout (it goes to /dev/null), exit 3 for cron, one alert.
    assert (checking.stdout, checking.stderr) == ("", "")
    assert checking.returncode == 3
    assert (home / "alerts.log").read_text() == "session exceeded 15.00 of 10.00\n"
    again = subprocess.run(["/bin/sh", "-c", jobs[1][1]], env=cron_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 3
    assert (home / "alerts.log").read_text() == "session exceeded 15.00 of 10.00\n"    # once, not every run
