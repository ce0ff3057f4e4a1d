"""Configuration: the settings file, its precedence against flags and the environment, `ccusage config`."""

import json
import os
import re

import pytest

import ccusage
from logsynth import assistant_line, session_path, write_lines
from support import CONFIG_NAME, CONFIG_SUFFIX, first_line_is_one_error, write_config, write_settings

# The tests write their settings as data, in the form the running Python reads
# (support.write_config), so make test on 3.9 and on 3.13 covers both; the JSON
# path on a new Python is also tested by pretending tomllib is missing.
about_toml = pytest.mark.skipif(CONFIG_SUFFIX != ".toml", reason="about TOML, which Python reads from 3.11 on")

SONNET = "claude-sonnet-4-5-20250929"
OPUS_41 = "claude-opus-4-1-20250805"    # $15 input, $75 output per million tokens, no regional surcharge


@pytest.fixture
def cenv(env, monkeypatch):
    """The isolated env, without the TZ the shared fixture sets: config tests own every variable."""
    monkeypatch.delenv("TZ", raising=False)
    return env


def show(env, *args):
    result = env.run_raw("config", "show", "--json", *args)
    assert result.code == 0, result
    assert result.err == "", result
    return json.loads(result.out)


def setting(env, name, *args):
    item = show(env, *args)["settings"][name]
    return item["value"], item["source"]


def usage_error(result, *words):
    """Exit 2 and one line on stderr that names every one of words."""
    assert result.code == 2, result
    first_line_is_one_error(result)
    for word in words:
        assert str(word) in result.err, (word, result.err)


def calls(env, *lines, root=None):
    write_lines(session_path(str(root or env.claude), "s1"), list(lines))


def daily_dates(result):
    return [row["date"] for row in result.json()["daily"]]


# ---------------------------------------------------------------------------
# Where the file is
# ---------------------------------------------------------------------------

def test_config_path_is_under_xdg_config_home(cenv):
    result = cenv.run_raw("config", "path")
    assert result.code == 0 and result.out == f"{cenv.config_home}/ccusage/{CONFIG_NAME}\n", result


def test_config_path_without_xdg_config_home_is_under_home(cenv, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert cenv.run_raw("config", "path").out == f"{cenv.home}/.config/ccusage/{CONFIG_NAME}\n"


def test_config_flag_and_ccusage_config_name_another_file(cenv, monkeypatch):
    named = write_settings(cenv.tmp / "elsewhere" / f"mine{CONFIG_SUFFIX}", {"order": "desc"})
    other = write_settings(cenv.tmp / f"other{CONFIG_SUFFIX}", {"order": "asc"})
    write_config(cenv, {"order": "asc"})       # the default file must not be read
    assert cenv.run_raw("config", "path", "--config", str(named)).out == f"{named}\n"
    assert setting(cenv, "order", "--config", str(named)) == ("desc", str(named))
    monkeypatch.setenv("CCUSAGE_CONFIG", str(named))
    assert cenv.run_raw("config", "path").out == f"{named}\n"
    assert setting(cenv, "order") == ("desc", str(named))
    # --config wins over CCUSAGE_CONFIG
    assert setting(cenv, "order", "--config", str(other)) == ("asc", str(other))


def test_config_flag_works_before_and_after_a_report_command(cenv):
    calls(cenv, assistant_line(ts="2026-11-18T12:00:00.000Z", output=1),
          assistant_line(ts="2026-11-19T12:00:00.000Z", output=2))
    named = write_settings(cenv.tmp / f"mine{CONFIG_SUFFIX}", {"order": "desc", "timezone": "UTC"})
    db, data = str(cenv.db), str(cenv.claude)
    after = cenv.run_raw("daily", "--json", "--config", str(named), "--db", db, "--data-dir", data)
    before = cenv.run_raw("--config", str(named), "daily", "--json", "--db", db, "--data-dir", data)
    assert daily_dates(after) == daily_dates(before) == ["2026-11-19", "2026-11-18"]


def test_a_relative_config_path_is_made_absolute(cenv, monkeypatch):
    monkeypatch.chdir(cenv.tmp)
    name = f"c{CONFIG_SUFFIX}"
    write_settings(cenv.tmp / "rel" / name, {})
    assert cenv.run_raw("config", "path", "--config", f"rel/{name}").out == f"{cenv.tmp}/rel/{name}\n"


def test_a_named_config_file_that_does_not_exist_is_an_error(cenv, monkeypatch):
    missing = cenv.tmp / f"missing{CONFIG_SUFFIX}"
    usage_error(cenv.run_raw("config", "show", "--config", str(missing)), missing)
    usage_error(cenv.run("daily", "--config", str(missing)), missing)
    monkeypatch.setenv("CCUSAGE_CONFIG", str(missing))
    usage_error(cenv.run("daily"), missing)


def test_an_absent_default_file_means_defaults(cenv):
    data = show(cenv)
    assert data["file"] == f"{cenv.config_home}/ccusage/{CONFIG_NAME}"
    settings = data["settings"]
    assert {name: item["source"] for name, item in settings.items()} == {
        name: "default" for name in ("data_dirs", "db", "timezone", "start_of_week", "color", "mode", "order",
                                     "prices_file", "plan", "token_limit", "session_length", "plan_price",
                                         "prompt_format")}
    values = {name: item["value"] for name, item in settings.items()}
    assert values["data_dirs"] == [f"{cenv.config_home}/claude", f"{cenv.home}/.claude"]
    assert values["db"] == f"{cenv.data_home}/ccusage/usage.db"
    assert values["prices_file"] == f"{cenv.config_home}/ccusage/prices.json"
    assert (values["start_of_week"], values["color"], values["mode"], values["order"], values["plan"],
            values["token_limit"], values["session_length"], values["prompt_format"]) == \
        ("sunday", "auto", "auto", "asc", "auto", None, 5, "{today_cost} today")
    assert data["prices"] == {}


# ---------------------------------------------------------------------------
# Precedence: environment, then [command], then the top level, then the default
# ---------------------------------------------------------------------------

# name: (environment variable, top-level value, [daily] value, environment text,
#        and what each means: top, section, environment)
PRECEDENCE = {
    "data_dirs": ("CCUSAGE_DATA_DIR", ["{tmp}/top"], ["{tmp}/sec/projects"], "{tmp}/e1,{tmp}/e2",
                  ["{tmp}/top"], ["{tmp}/sec"], ["{tmp}/e1", "{tmp}/e2"]),
    "db": ("CCUSAGE_DB", "{tmp}/top.db", "{tmp}/sec.db", "{tmp}/env.db",
           "{tmp}/top.db", "{tmp}/sec.db", "{tmp}/env.db"),
    "timezone": ("CCUSAGE_TIMEZONE", "Europe/Berlin", "Asia/Tokyo", "America/New_York",
                 "Europe/Berlin", "Asia/Tokyo", "America/New_York"),
    "start_of_week": ("CCUSAGE_START_OF_WEEK", "monday", "Tuesday", "FRIDAY", "monday", "tuesday", "friday"),
    "color": ("CCUSAGE_COLOR", "always", "never", "auto", "always", "never", "auto"),
    "mode": ("CCUSAGE_MODE", "calculate", "display", "auto", "calculate", "display", "auto"),
    "order": ("CCUSAGE_ORDER", "desc", "asc", "desc", "desc", "asc", "desc"),
    "prices_file": ("CCUSAGE_PRICES", "{tmp}/top.json", "{tmp}/sec.json", "{tmp}/env.json",
                    "{tmp}/top.json", "{tmp}/sec.json", "{tmp}/env.json"),
    "plan": ("CCUSAGE_PLAN", "pro", "max5", "max20", "pro", "max5", "max20"),
    "token_limit": ("CCUSAGE_TOKEN_LIMIT", 1000, "max", "3000", 1000, "max", 3000),
    "session_length": ("CCUSAGE_SESSION_LENGTH", 3, 2.5, "4", 3, 2.5, 4.0),
    "prompt_format": ("CCUSAGE_PROMPT_FORMAT", "top {today_cost}", "sec", "env", "top {today_cost}", "sec", "env"),
}


def _fill(value, tmp):
    if isinstance(value, list):
        return [_fill(v, tmp) for v in value]
    return value.replace("{tmp}", str(tmp)) if isinstance(value, str) else value


@pytest.mark.parametrize("name", sorted(PRECEDENCE))
def test_each_setting_comes_from_env_then_section_then_file_then_default(cenv, monkeypatch, name):
    var, top, section, env_text, want_top, want_section, want_env = (_fill(v, cenv.tmp) for v in PRECEDENCE[name])
    path = str(cenv.config_home / "ccusage" / CONFIG_NAME)

    # Only the top level.
    write_config(cenv, {name: top})
    assert setting(cenv, name) == (want_top, path)

    # [daily] wins for daily (the default of --for), and only for it.
    write_config(cenv, {name: top, "daily": {name: section}})
    value, source = setting(cenv, name)
    assert value == want_section and path in source and "[daily]" in source, source
    assert setting(cenv, name, "--for", "daily")[0] == want_section
    assert setting(cenv, name, "--for", "weekly") == (want_top, path)
    assert setting(cenv, name, "--for", "status") == (want_top, path)

    # [weekly] alone: only `--for weekly` sees it.
    write_config(cenv, {"weekly": {name: section}})
    assert setting(cenv, name)[1] == "default"
    value, source = setting(cenv, name, "--for", "weekly")
    assert value == want_section and "[weekly]" in source

    # The environment wins over both.
    write_config(cenv, {name: top, "daily": {name: section}})
    monkeypatch.setenv(var, env_text)
    value, source = setting(cenv, name)
    assert value == want_env and var in source, source
    assert setting(cenv, name, "--for", "weekly")[0] == want_env

    # No file, no environment: the default.
    monkeypatch.delenv(var)
    os.remove(path)
    assert setting(cenv, name)[1] == "default"


def test_claude_config_dir_names_the_data_dir_below_ccusage_data_dir(cenv, monkeypatch):
    write_config(cenv, {"data_dirs": [f"{cenv.tmp}/file"]})
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{cenv.tmp}/claude-env")
    value, source = setting(cenv, "data_dirs")
    assert value == [f"{cenv.tmp}/claude-env"] and "CLAUDE_CONFIG_DIR" in source
    monkeypatch.setenv("CCUSAGE_DATA_DIR", f"{cenv.tmp}/ccusage-env")
    value, source = setting(cenv, "data_dirs")
    assert value == [f"{cenv.tmp}/ccusage-env"] and "CCUSAGE_DATA_DIR" in source


def test_tz_names_the_zone_below_ccusage_timezone(cenv, monkeypatch):
    write_config(cenv, {"timezone": "Asia/Tokyo"})
    monkeypatch.setenv("TZ", ":Europe/Paris")    # the leading colon of the C library's form
    value, source = setting(cenv, "timezone")
    assert value == "Europe/Paris" and "TZ" in source
    monkeypatch.setenv("CCUSAGE_TIMEZONE", "America/Chicago")
    value, source = setting(cenv, "timezone")
    assert value == "America/Chicago" and "CCUSAGE_TIMEZONE" in source


def test_a_posix_rule_in_tz_is_not_an_error(cenv, monkeypatch):
    monkeypatch.setenv("TZ", "CET-1CEST")
    assert setting(cenv, "timezone")[1] == "default"           # TZ names no zone we can load: it says nothing
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=5))
    result = cenv.run("daily", "--json")
    assert result.code == 0 and result.err == "", result
    assert result.json()["totals"]["outputTokens"] == 5
    # ... and the file's zone still applies.
    write_config(cenv, {"timezone": "Asia/Tokyo"})
    assert setting(cenv, "timezone")[0] == "Asia/Tokyo"


def test_a_posix_rule_in_tz_still_decides_the_local_day(cenv, monkeypatch):
    # With no zone configured, "the system's" zone is what the C library uses, and TZ=CET-1CEST makes
    # that UTC+1 (no daylight saving rule applies in November): 23:30Z is 00:30 on the 21st.
    monkeypatch.setenv("TZ", "CET-1CEST")
    calls(cenv, assistant_line(ts="2026-11-20T23:30:00.000Z", output=5))
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-21"]


@pytest.mark.parametrize("environment, want", [
    ({"NO_COLOR": "1"}, ("never", "NO_COLOR")),
    ({"FORCE_COLOR": "1"}, ("always", "FORCE_COLOR")),
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, ("never", "NO_COLOR")),
    ({"CCUSAGE_COLOR": "always", "NO_COLOR": "1"}, ("always", "CCUSAGE_COLOR")),
    ({"NO_COLOR": ""}, ("auto", "default")),            # an empty NO_COLOR says nothing
    ({"FORCE_COLOR": "0"}, ("auto", "default")),        # FORCE_COLOR=0 asks for nothing
])
def test_color_from_no_color_and_force_color(cenv, monkeypatch, environment, want):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    value, source = setting(cenv, "color")
    assert value == want[0] and want[1] in source, source


def test_no_color_wins_over_the_file(cenv, monkeypatch):
    write_config(cenv, {"color": "always"})
    assert setting(cenv, "color")[0] == "always"
    monkeypatch.setenv("NO_COLOR", "1")
    assert setting(cenv, "color")[0] == "never"


def test_data_dirs_may_be_a_single_string(cenv):
    # One directory written as a string rather than a list is taken as that one directory:
    # it is unambiguous, and a comma is a legal character of a path, so it is not split.
    write_config(cenv, {"data_dirs": f"{cenv.tmp}/a,b"})
    assert setting(cenv, "data_dirs")[0] == [f"{cenv.tmp}/a,b"]


def test_paths_in_the_file_expand_the_home_directory(cenv):
    write_config(cenv, {"db": "~/x/usage.db", "data_dirs": ["~/claude-a"], "prices_file": "~/p.json"})
    settings = show(cenv)["settings"]
    assert settings["db"]["value"] == f"{cenv.home}/x/usage.db"
    assert settings["data_dirs"]["value"] == [f"{cenv.home}/claude-a"]
    assert settings["prices_file"]["value"] == f"{cenv.home}/p.json"


def test_show_for_every_command(cenv):
    write_config(cenv, {"order": "desc", "blocks": {"order": "asc", "plan": "max5"}, "status": {"plan": "pro"},
                        "session": {"mode": "display"}, "config": {"mode": "calculate"}})
    assert setting(cenv, "order", "--for", "blocks")[0] == "asc"
    assert setting(cenv, "order", "--for", "monthly")[0] == "desc"
    assert setting(cenv, "plan", "--for", "blocks")[0] == "max5"
    assert setting(cenv, "plan", "--for", "status")[0] == "pro"
    assert setting(cenv, "plan", "--for", "today")[0] == "auto"
    assert setting(cenv, "mode", "--for", "session")[0] == "display"
    assert setting(cenv, "mode", "--for", "config")[0] == "calculate"
    usage_error(cenv.run_raw("config", "show", "--for", "yearly"), "yearly")


def test_show_as_text_says_where_each_setting_came_from(cenv, monkeypatch):
    absent = cenv.run_raw("config", "show")
    assert absent.code == 0
    assert absent.out.splitlines()[0] == f"config file: {cenv.config_home}/ccusage/{CONFIG_NAME} (absent)"
    path = write_config(cenv, {"timezone": "Asia/Tokyo", "daily": {"order": "desc"},
                               "prices": {"claude-x-1": {"input": 1, "output": 2}}})
    monkeypatch.setenv("CCUSAGE_MODE", "calculate")
    result = cenv.run_raw("config", "show")
    assert result.code == 0 and result.err == "", result
    lines = result.out.splitlines()
    assert lines[0] == f"config file: {path}"
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert by_name["timezone"].split() == ["timezone", "Asia/Tokyo", f"[{path}]"]
    assert "desc" in by_name["order"] and "[daily]" in by_name["order"]
    assert "calculate" in by_name["mode"] and "CCUSAGE_MODE" in by_name["mode"]
    assert by_name["plan"].split() == ["plan", "auto", "[default]"]
    assert "claude-x-1" in by_name["price"]
    assert len(by_name) == 14   # the 13 settings and the price


# ---------------------------------------------------------------------------
# Precedence as the commands see it
# ---------------------------------------------------------------------------

def test_timezone_from_the_file_decides_the_day(cenv, monkeypatch):
    calls(cenv, assistant_line(ts="2026-11-20T23:30:00.000Z", output=7))
    write_config(cenv, {"timezone": "Europe/Berlin"})          # 23:30Z is 00:30 on the 21st in Berlin (+1)
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-21"]
    assert daily_dates(cenv.run("daily", "--json", "-z", "UTC")) == ["2026-11-20"]          # flag over file
    monkeypatch.setenv("TZ", "America/New_York")                  # 18:30 on the 20th in New York (-5)
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-20"]                      # env over file
    monkeypatch.setenv("CCUSAGE_TIMEZONE", "Asia/Tokyo")          # 08:30 on the 21st in Tokyo (+9)
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-21"]
    assert daily_dates(cenv.run("daily", "--json", "--timezone", "UTC")) == ["2026-11-20"]  # flag over env
    write_config(cenv, {"timezone": "Europe/Berlin", "daily": {"timezone": "Pacific/Kiritimati"}})
    monkeypatch.delenv("CCUSAGE_TIMEZONE")
    monkeypatch.delenv("TZ")
    # Kiritimati is UTC+14: 23:30Z is 13:30 on the 21st
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-21"]
    # [daily] does not reach weekly: Berlin's Saturday the 21st is in the week of Sunday the 15th
    assert [r["week"] for r in cenv.run("weekly", "--json").json()["weekly"]] == ["2026-11-15"]


def test_order_desc_in_the_daily_section_reverses_daily_only(cenv, monkeypatch):
    calls(cenv, *[assistant_line(ts=f"2026-11-{d:02d}T12:00:00.000Z", output=d) for d in (9, 18, 19)])
    write_config(cenv, {"timezone": "UTC", "daily": {"order": "desc"}})
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-19", "2026-11-18", "2026-11-09"]
    # 2026-11-09 is a Monday: weeks (from Sunday) of the 8th and the 15th, ascending
    assert [r["week"] for r in cenv.run("weekly", "--json").json()["weekly"]] == ["2026-11-08", "2026-11-15"]
    assert daily_dates(cenv.run("daily", "--json", "--order", "asc")) == ["2026-11-09", "2026-11-18", "2026-11-19"]
    monkeypatch.setenv("CCUSAGE_ORDER", "asc")
    assert daily_dates(cenv.run("daily", "--json")) == ["2026-11-09", "2026-11-18", "2026-11-19"]
    assert daily_dates(cenv.run("daily", "--json", "-o", "desc")) == ["2026-11-19", "2026-11-18", "2026-11-09"]


def test_start_of_week_in_the_weekly_section(cenv, monkeypatch):
    # 2026-01-01 is a Thursday; 2026-11-20 is day 304 + 20 = 324 of the year: 323 days later,
    # 323 = 46 * 7 + 1, so a Friday.  Its week starts on Sunday the 15th, Monday the 16th,
    # Wednesday the 18th, Thursday the 19th.
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=3))
    weeks = lambda *a: [r["week"] for r in cenv.run("weekly", "--json", "-z", "UTC", *a).json()["weekly"]]
    assert weeks() == ["2026-11-15"]
    write_config(cenv, {"start_of_week": "thursday", "weekly": {"start_of_week": "monday"}})
    assert weeks() == ["2026-11-16"]
    assert weeks("--start-of-week", "wednesday") == ["2026-11-18"]
    monkeypatch.setenv("CCUSAGE_START_OF_WEEK", "thursday")
    assert weeks() == ["2026-11-19"]
    assert weeks("--start-of-week", "wednesday") == ["2026-11-18"]


def test_mode_from_the_environment(cenv, monkeypatch):
    # An old log line with costUSD; claude-opus-4-1 prices 1000 input and 1000 output tokens at
    # (1000 * 15 + 1000 * 75) / 1e6 = $0.09.
    line = assistant_line(ts="2026-11-20T12:00:00.000Z", model=OPUS_41, input=1000, output=1000)
    line["costUSD"] = 0.5
    calls(cenv, line)
    cost = lambda *a: cenv.run("daily", "--json", "-z", "UTC", *a).json()["totals"]["totalCost"]
    assert cost() == pytest.approx(0.5)                        # auto: the logged cost
    monkeypatch.setenv("CCUSAGE_MODE", "calculate")
    assert cost() == pytest.approx(0.09)
    assert cost("--mode", "display") == pytest.approx(0.5)     # flag over env
    write_config(cenv, {"mode": "display"})
    assert cost() == pytest.approx(0.09)                       # env over file
    monkeypatch.delenv("CCUSAGE_MODE")
    assert cost() == pytest.approx(0.5)
    assert cost("-m", "calculate") == pytest.approx(0.09)


def test_data_dirs_from_the_file_is_the_directory_read(cenv, monkeypatch):
    there, elsewhere = cenv.tmp / "there", cenv.tmp / "elsewhere"
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=11), root=there)
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=100), root=elsewhere)
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=1000))   # cenv.claude: not configured
    write_config(cenv, {"data_dirs": [str(there)]})
    run = lambda *a: cenv.run_raw("daily", "--json", "--db", str(cenv.db), *a)
    assert run().json()["totals"]["outputTokens"] == 11
    write_config(cenv, {"data_dirs": [str(there), f"{elsewhere}/projects"]})
    assert run().json()["totals"]["outputTokens"] == 111
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(elsewhere))
    assert run().json()["totals"]["outputTokens"] == 100                       # env over file
    assert run("--data-dir", str(cenv.claude)).json()["totals"]["outputTokens"] == 1000   # flag over env
    monkeypatch.setenv("CCUSAGE_DATA_DIR", f"{there},{cenv.claude}")
    assert run().json()["totals"]["outputTokens"] == 1011


def test_a_configured_data_dir_that_does_not_exist_is_an_error(cenv):
    missing = cenv.tmp / "no-such-dir"
    write_config(cenv, {"data_dirs": [str(missing)]})
    usage_error(cenv.run_raw("daily", "--db", str(cenv.db)), missing)


def test_db_from_ccusage_db(cenv, monkeypatch):
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=4))
    env_db, file_db, flag_db = cenv.tmp / "env" / "u.db", cenv.tmp / "file" / "u.db", cenv.tmp / "flag" / "u.db"
    default_db = cenv.data_home / "ccusage" / "usage.db"
    for db in (env_db, file_db, flag_db):
        db.parent.mkdir()
    run = lambda *a: cenv.run_raw("daily", "--json", "--data-dir", str(cenv.claude), *a)
    write_config(cenv, {"db": str(file_db)})
    monkeypatch.setenv("CCUSAGE_DB", str(env_db))
    assert run().json()["totals"]["outputTokens"] == 4
    assert env_db.exists() and not file_db.exists() and not default_db.exists()
    assert run("--db", str(flag_db)).json()["totals"]["outputTokens"] == 4
    assert flag_db.exists() and not file_db.exists()
    monkeypatch.delenv("CCUSAGE_DB")
    assert run().json()["totals"]["outputTokens"] == 4
    assert file_db.exists() and not default_db.exists()


def test_prices_table_prices_an_unknown_model(cenv):
    # input 2000, output 1000, 5-minute cache writes 1000, 1-hour cache writes 500, cache reads 10000, 2 searches
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", model="claude-x-1", input=2000, output=1000,
                               cache_5m=1000, cache_1h=500, cache_read=10000, web_searches=2))
    unpriced = cenv.run("daily", "--json", "-z", "UTC")
    assert unpriced.json()["totals"]["totalCost"] is None   # no price at all: unknown, not free
    assert "claude-x-1" in unpriced.err
    write_config(cenv, {"prices": {"claude-x-1": {"input": 2, "output": 10}}})
    # Only input and output given: cache writes 1.25x (5m) and 2x (1h) input, reads 0.1x, searches $0.01:
    # (2000*2 + 1000*10 + 1000*2.5 + 500*4 + 10000*0.2) / 1e6 + 2 * 0.01
    # = (4000 + 10000 + 2500 + 2000 + 2000) / 1e6 + 0.02 = 0.0205 + 0.02 = 0.0405
    priced = cenv.run("daily", "--json", "-z", "UTC")
    assert priced.err == "", priced
    assert priced.json()["totals"]["totalCost"] == pytest.approx(0.0405)
    assert show(cenv)["prices"] == {"claude-x-1": {"input": 2, "cache_write_5m": 2.5, "cache_write_1h": 4,
                                                   "cache_read": 0.2, "output": 10, "web_search": 0.01}}
    write_config(cenv, {"prices": {"claude-x-1": {"input": 2, "output": 10, "cache_write_5m": 3, "cache_write_1h": 5,
                                                  "cache_read": 0.5, "web_search": 0.05}}})
    # (4000 + 10000 + 1000*3 + 500*5 + 10000*0.5) / 1e6 + 2 * 0.05 = 24500 / 1e6 + 0.1 = 0.1245
    assert cenv.run("daily", "--json", "-z", "UTC").json()["totals"]["totalCost"] == pytest.approx(0.1245)


def test_prices_table_overrides_a_known_model(cenv):
    # claude-opus-4-1 costs $15/$75 built in; the table makes it $1/$2: (1000*1 + 1000*2) / 1e6
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", model=OPUS_41, input=1000, output=1000))
    assert cenv.run("daily", "--json").json()["totals"]["totalCost"] == pytest.approx(0.09)
    write_config(cenv, {"prices": {"claude-opus-4-1": {"input": 1, "output": 2}}})
    assert cenv.run("daily", "--json").json()["totals"]["totalCost"] == pytest.approx(0.003)


def test_prices_file_setting(cenv, monkeypatch):
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", model="claude-x-1", input=1000, output=1000))
    a, b = cenv.tmp / "a.json", cenv.tmp / "b.json"
    a.write_text(json.dumps({"claude-x-1": {"input": 1, "output": 1}}))     # (1000 + 1000) / 1e6 = 0.002
    b.write_text(json.dumps({"claude-x-1": {"input": 10, "output": 30}}))   # (10000 + 30000) / 1e6 = 0.04
    cost = lambda *a: cenv.run("daily", "--json", *a).json()["totals"]["totalCost"]
    write_config(cenv, {"prices_file": str(a)})
    assert cost() == pytest.approx(0.002)
    monkeypatch.setenv("CCUSAGE_PRICES", str(b))
    assert cost() == pytest.approx(0.04)
    assert cost("--prices", str(a)) == pytest.approx(0.002)
    monkeypatch.delenv("CCUSAGE_PRICES")
    write_config(cenv, {"prices_file": f"{cenv.tmp}/missing.json"})
    usage_error(cenv.run("daily"), "missing.json")


def test_no_color_and_color_always(cenv, monkeypatch):
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=5))
    escapes = lambda *a: "\x1b[" in cenv.run("daily", "-z", "UTC", *a).out
    assert not escapes()                           # auto, and stdout is not a terminal
    assert escapes("--color", "always")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert escapes()
    assert not escapes("--color", "never")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not escapes()
    assert escapes("--color", "always")            # flag over NO_COLOR
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.delenv("FORCE_COLOR")
    write_config(cenv, {"color": "always"})
    assert escapes()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not escapes()                           # NO_COLOR over the file


def test_plan_token_limit_and_session_length_from_the_file(cenv, monkeypatch):
    from freezegun import freeze_time
    calls(cenv, assistant_line(ts="2026-11-20T10:17:00.000Z", output=5))
    write_config(cenv, {"session_length": 2, "blocks": {"plan": "pro"}})
    with freeze_time("2026-11-22T00:00:00Z"):
        blocks = cenv.run("blocks", "--json").json()
        assert blocks["limit"]["tokens"] == 10_000_000
        assert blocks["blocks"][0]["endTime"] == "2026-11-20T12:00:00.000Z"   # 10:00 + 2 h
        monkeypatch.setenv("CCUSAGE_PLAN", "max20")
        monkeypatch.setenv("CCUSAGE_SESSION_LENGTH", "3")
        blocks = cenv.run("blocks", "--json").json()
        assert blocks["limit"]["tokens"] == 200_000_000
        assert blocks["blocks"][0]["endTime"] == "2026-11-20T13:00:00.000Z"   # 10:00 + 3 h
        blocks = cenv.run("blocks", "--json", "--plan", "max5", "-l", "1").json()
        assert blocks["limit"]["tokens"] == 50_000_000
        assert blocks["blocks"][0]["endTime"] == "2026-11-20T11:00:00.000Z"
        monkeypatch.setenv("CCUSAGE_TOKEN_LIMIT", "777")
        assert cenv.run("blocks", "--json").json()["limit"]["tokens"] == 777
        assert cenv.run("blocks", "--json", "-t", "888").json()["limit"]["tokens"] == 888
        monkeypatch.delenv("CCUSAGE_TOKEN_LIMIT")
        monkeypatch.delenv("CCUSAGE_PLAN")
        write_config(cenv, {"plan": "custom", "token_limit": 4242})
        assert cenv.run("blocks", "--json").json()["limit"]["tokens"] == 4242
        write_config(cenv, {"plan": "custom"})
        usage_error(cenv.run("blocks", "--json"), "token")


# ---------------------------------------------------------------------------
# config init
# ---------------------------------------------------------------------------

@about_toml
def test_init_writes_a_starter_file_whose_settings_are_commented_out(cenv):
    import tomllib  # novermin: about_toml skips this test where tomllib is missing
    path = cenv.config_home / "ccusage" / "config.toml"
    result = cenv.run_raw("config", "init")
    assert result.code == 0 and str(path) in result.out, result
    text = path.read_text()
    assert tomllib.loads(text) == {}
    for name in ("data_dirs", "db", "timezone", "start_of_week", "color", "mode", "order", "prices_file",
                 "plan", "token_limit", "session_length", "prompt_format"):
        assert f"# {name} = " in text, name
    assert all(item["source"] == "default" for item in show(cenv)["settings"].values())


@about_toml
def test_the_starter_files_examples_are_valid_settings(cenv):
    cenv.run_raw("config", "init")
    path = cenv.config_home / "ccusage" / "config.toml"
    # Uncomment every example line: what the file suggests must be accepted.
    lines = []
    for line in path.read_text().splitlines():
        if re.match(r"# (\[|[a-z_0-9]+ = )", line):
            lines.append(line[2:])
    path.write_text("\n".join(lines) + "\n")
    data = show(cenv)
    assert data["settings"]["start_of_week"]["source"] == str(path)
    assert data["prices"] != {}
    value, source = setting(cenv, "start_of_week", "--for", "weekly")
    assert "[weekly]" in source


def test_init_never_overwrites(cenv):
    path = cenv.config_home / "ccusage" / CONFIG_NAME
    assert cenv.run_raw("config", "init").code == 0
    text = write_config(cenv, {"order": "desc"}).read_text()
    again = cenv.run_raw("config", "init")
    assert again.code != 0
    first_line_is_one_error(again)
    assert str(path) in again.err
    assert path.read_text() == text


def test_init_writes_the_named_file(cenv):
    named = cenv.tmp / "new" / "dir" / f"c{CONFIG_SUFFIX}"
    assert cenv.run_raw("config", "init", "--config", str(named)).code == 0
    assert setting(cenv, "order", "--config", str(named))[0] == "asc"
    assert not (cenv.config_home / "ccusage" / CONFIG_NAME).exists()


# ---------------------------------------------------------------------------
# Python before 3.11: config.json
# ---------------------------------------------------------------------------

@pytest.fixture
def old_python(monkeypatch):
    monkeypatch.setattr(ccusage, "_has_tomllib", lambda: False)


def test_old_python_reads_config_json(cenv, old_python):
    path = write_config(cenv, json.dumps({"timezone": "Asia/Tokyo", "daily": {"order": "desc"},
                                          "prices": {"claude-x-1": {"input": 1, "output": 2}}}), "config.json")
    data = show(cenv)
    assert data["file"] == str(path)
    assert data["settings"]["timezone"] == {"value": "Asia/Tokyo", "source": str(path)}
    assert data["settings"]["order"]["value"] == "desc"
    assert setting(cenv, "order", "--for", "weekly")[0] == "asc"
    assert set(data["prices"]) == {"claude-x-1"}
    assert cenv.run_raw("config", "path").out == f"{path}\n"


def test_old_python_with_only_config_toml_explains_and_goes_on(cenv, old_python):
    toml_path = write_config(cenv, 'order = "desc"\n', "config.toml")
    result = cenv.run_raw("config", "show", "--json")
    assert result.code == 0, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert str(toml_path) in result.err and "config.json" in result.err
    assert json.loads(result.out)["settings"]["order"] == {"value": "asc", "source": "default"}
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=1))
    report = cenv.run("daily", "--json")
    assert report.code == 0 and report.err.count("\n") == 1, report


def test_old_python_prefers_config_json_over_config_toml(cenv, old_python):
    write_config(cenv, 'order = "desc"\n', "config.toml")
    json_path = write_config(cenv, '{"order": "asc", "plan": "pro"}', "config.json")
    result = cenv.run_raw("config", "show", "--json")
    assert result.code == 0 and result.err == "", result
    assert json.loads(result.out)["settings"]["plan"] == {"value": "pro", "source": str(json_path)}


@about_toml
def test_new_python_reads_config_json_when_there_is_no_toml(cenv):
    json_path = write_config(cenv, '{"plan": "max5"}', "config.json")
    assert setting(cenv, "plan") == ("max5", str(json_path))
    toml_path = write_config(cenv, 'plan = "pro"\n', "config.toml")
    assert setting(cenv, "plan") == ("pro", str(toml_path))     # both: TOML wins


def test_old_python_and_a_named_toml_file_is_one_line_error(cenv, old_python, monkeypatch):
    named = cenv.tmp / "c.toml"
    named.write_text('order = "desc"\n')
    usage_error(cenv.run_raw("config", "show", "--config", str(named)), named, "3.11")
    usage_error(cenv.run("daily", "--config", str(named)), named)
    monkeypatch.setenv("CCUSAGE_CONFIG", str(named))
    usage_error(cenv.run("daily"), named)


def test_old_python_init_writes_json_with_the_defaults(cenv, old_python):
    result = cenv.run_raw("config", "init")
    path = cenv.config_home / "ccusage" / "config.json"
    assert result.code == 0 and str(path) in result.out, result
    data = json.loads(path.read_text())
    assert data["order"] == "asc" and data["session_length"] == 5 and data["plan"] == "auto"
    shown = show(cenv)["settings"]
    assert (shown["order"]["value"], shown["start_of_week"]["value"], shown["mode"]["value"]) == \
        ("asc", "sunday", "auto")


def test_bad_json_config_is_one_line_error(cenv, old_python):
    path = write_config(cenv, '{"order": "desc",}', "config.json")
    usage_error(cenv.run_raw("config", "show"), path)
    write_config(cenv, '["order"]', "config.json")
    usage_error(cenv.run_raw("config", "show"), path)


# ---------------------------------------------------------------------------
# Invalid files and values
# ---------------------------------------------------------------------------

@about_toml
@pytest.mark.parametrize("text", ["timezone = \n", "order = 'desc\n", "[daily\norder = 'desc'\n"])
def test_invalid_toml_is_one_line_naming_the_file(cenv, text):
    path = write_config(cenv, text)
    usage_error(cenv.run_raw("config", "show"), path, "TOML")
    usage_error(cenv.run_raw("daily", "--json"), path, "TOML")
    assert path.read_text() == text


@pytest.mark.parametrize("settings, words", [
    ({"colour": "never"}, ["colour"]),
    ({"daily": {"colour": "never"}}, ["colour", "daily"]),
    ({"monthly": {"foo": 1}}, ["foo", "monthly"]),
    ({"dialy": {"order": "desc"}}, ["dialy"]),
    ({"timezone": 5}, ["timezone"]),
    ({"timezone": ""}, ["timezone"]),
    ({"timezone": "Mars/Olympus_Mons"}, ["timezone", "Mars/Olympus_Mons"]),
    ({"daily": {"timezone": "Not/AZone"}}, ["timezone", "Not/AZone", "daily"]),
    ({"data_dirs": 5}, ["data_dirs"]),
    ({"data_dirs": []}, ["data_dirs"]),
    ({"data_dirs": [1, 2]}, ["data_dirs"]),
    ({"db": 3}, ["db"]),
    ({"db": ""}, ["db"]),
    ({"token_limit": -5}, ["token_limit"]),
    ({"token_limit": 0}, ["token_limit"]),
    ({"token_limit": 1.5}, ["token_limit"]),
    ({"token_limit": True}, ["token_limit"]),
    ({"token_limit": "lots"}, ["token_limit"]),
    ({"session_length": 0}, ["session_length"]),
    ({"session_length": -2}, ["session_length"]),
    ({"session_length": "five"}, ["session_length"]),
    ({"plan": "gold"}, ["plan"]),
    ({"mode": "bogus"}, ["mode"]),
    ({"order": "up"}, ["order"]),
    ({"color": True}, ["color"]),
    ({"start_of_week": "someday"}, ["start_of_week"]),
    ({"prompt_format": 5}, ["prompt_format"]),
    ({"daily": {"start_of_week": "caturday"}}, ["start_of_week", "daily"]),
    ({"prices": {"claude-x-1": {"input": 3}}}, ["claude-x-1", "output"]),
    ({"prices": {"claude-x-1": {"input": -1, "output": 15}}}, ["claude-x-1", "input"]),
    ({"prices": {"claude-x-1": {"input": 3, "output": 15, "cache_write": 4}}}, ["claude-x-1", "cache_write"]),
    ({"prices": {"claude-x-1": {"input": "3", "output": 15}}}, ["claude-x-1", "input"]),
    ({"prices": {"claude-x-1": {"input": 3, "output": 15, "web_search": -0.01}}}, ["claude-x-1", "web_search"]),
    ({"prices": 5}, ["prices"]),
    ({"prices": {"claude-x-1": 3}}, ["claude-x-1"]),
])
def test_an_invalid_file_is_one_line_naming_file_and_key(cenv, settings, words):
    path = write_config(cenv, settings)
    text = path.read_text()
    usage_error(cenv.run_raw("config", "show"), path, *words)
    # no --db or --data-dir here: they would stand in for the file's db and data_dirs
    usage_error(cenv.run_raw("daily", "--json"), path, *words)
    assert path.read_text() == text


def test_a_bad_value_in_another_commands_section_is_still_an_error(cenv):
    # A file is valid or not, whatever command reads it: a typo in [monthly] is reported by `daily`
    # just as an unknown key in [monthly] is.
    path = write_config(cenv, {"monthly": {"order": "sideways"}})
    usage_error(cenv.run("daily", "--json"), path, "order", "monthly")


@pytest.mark.parametrize("var, value", [
    ("CCUSAGE_MODE", "bogus"),
    ("CCUSAGE_TOKEN_LIMIT", "-3"),
    ("CCUSAGE_TOKEN_LIMIT", "0"),
    ("CCUSAGE_TOKEN_LIMIT", "many"),
    ("CCUSAGE_SESSION_LENGTH", "0"),
    ("CCUSAGE_SESSION_LENGTH", "five"),
    ("CCUSAGE_PLAN", "gold"),
    ("CCUSAGE_ORDER", "up"),
    ("CCUSAGE_COLOR", "sometimes"),
    ("CCUSAGE_START_OF_WEEK", "caturday"),
    ("CCUSAGE_TIMEZONE", "Mars/Olympus_Mons"),
])
def test_a_bad_environment_value_is_one_line_naming_the_variable(cenv, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    usage_error(cenv.run_raw("config", "show"), var)
    usage_error(cenv.run("daily", "--json"), var)


def test_a_flag_hides_a_bad_environment_value(cenv, monkeypatch):
    # The flag is the setting's source: the environment is not consulted.
    calls(cenv, assistant_line(ts="2026-11-20T12:00:00.000Z", output=2))
    monkeypatch.setenv("CCUSAGE_ORDER", "up")
    assert cenv.run("daily", "--json", "--order", "asc").json()["totals"]["outputTokens"] == 2


def test_token_limit_max_is_spelled_alike_everywhere(cenv, monkeypatch):
    # --token-limit takes MAX in any case; the same word from the environment or the file means the same.
    monkeypatch.setenv("CCUSAGE_TOKEN_LIMIT", "MAX")
    assert setting(cenv, "token_limit", "--for", "blocks")[0] == "max"
    monkeypatch.delenv("CCUSAGE_TOKEN_LIMIT")
    write_config(cenv, {"token_limit": "Max"})
    assert setting(cenv, "token_limit", "--for", "blocks")[0] == "max"


def test_config_path_answers_even_when_the_file_is_broken(cenv):
    path = write_config(cenv, "timezone = = 1\n")
    result = cenv.run_raw("config", "path")
    assert (result.code, result.out.strip()) == (0, str(path))
    assert cenv.run_raw("daily").code == 2
