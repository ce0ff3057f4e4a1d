"""Hostile and unlucky input: dates at the calendar's ends, files that are no settings file, formulas in CSV,
escapes in the user's own words, paths that cannot be read or do not exist."""

import csv
import io
import os
import stat
import subprocess
import sys

import pytest

from logsynth import assistant_line, write_lines
from support import Result, first_line_is_one_error, installed_ccusage

SONNET = "claude-sonnet-4-5-20250929"


def one_call(env, output=7, **fields):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T12:00:00.000Z", output=output, **fields)])


def bounded_cli(env, *argv, environ=None):
    """The installed command with at most 20 s and 1 GiB: a run that reads forever fails instead of eating the box."""
    def limit_memory():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    proc = subprocess.run(env.command(*argv), capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, **(environ or {})),
                          preexec_fn=limit_memory if sys.platform.startswith("linux") else None)
    return proc.returncode, proc.stdout, proc.stderr


def installed(env, *argv, environ=None):
    """The installed command with argv alone (no --db or --data-dir: config takes neither)."""
    proc = subprocess.run([installed_ccusage()] + [str(a) for a in argv], capture_output=True, text=True,
                          env=dict(os.environ, **(environ or {})), timeout=60)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def usage_error(result, *words):
    first_line_is_one_error(result)
    assert result.code == 2, result
    for word in words:
        assert str(word) in result.err, result


# ---------------------------------------------------------------------------
# Dates: every day the parser takes works, however far from today
# ---------------------------------------------------------------------------

FAR_DAYS = [  # (flags, output tokens counted: the call is on 2026-11-20)
    (("--until", "9999-12-31"), 7),
    (("--since", "0001-01-01"), 7),
    (("--since", "0001-01-01", "--until", "9999-12-31"), 7),
    (("--since", "9999-12-31"), 0),
    (("--until", "0001-01-01"), 0),
    (("--since", "99991231", "--until", "99991231"), 0),
]


@pytest.mark.parametrize("command", ["daily", "weekly", "monthly", "session"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize("flags, output", FAR_DAYS)
def test_days_at_the_ends_of_the_calendar_filter_as_any_other(env, command, zone, flags, output):
    one_call(env)
    report = env.run(command, "--json", "-z", zone, *flags).json()
    assert report["totals"]["outputTokens"] == output


@pytest.mark.parametrize("start", ["monday", "sunday"])
def test_weeks_near_the_first_and_last_day_a_date_can_have(env, start):
    # 0001-01-01 is a Monday: a Sunday week holding it would start in year 0.
    one_call(env)
    for flags in (("--since", "0001-01-01", "--until", "0001-01-07"), ("--since", "9999-12-27")):
        report = env.run("weekly", "--json", "--start-of-week", start, *flags).json()
        assert report["weekly"] == [] and report["totals"]["outputTokens"] == 0
    report = env.run("weekly", "--json", "--start-of-week", start, "--until", "9999-12-31").json()
    assert [w["week"] for w in report["weekly"]] == ["2026-11-16" if start == "monday" else "2026-11-15"]


def test_far_days_in_a_zone_only_the_c_library_knows(env):
    # A POSIX TZ rule that zoneinfo cannot read is reckoned by the C library, whose years are fewer.
    one_call(env)
    for flags, output in FAR_DAYS:
        result = env.cli("daily", "--csv", *flags, env={"TZ": "CET-1CEST"})
        assert result.code == 0 and result.err == "", result
        rows = list(csv.reader(io.StringIO(result.out)))[1:]
        assert sum(int(row[3]) for row in rows) == output


@pytest.mark.parametrize("day", ["٢٠٢٦-١١-٢٠", "２０２６-１１-２０", "2026-١١-20", "۲۰۲۶۱۱۲۰"])
@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_dates_are_written_in_ascii_digits(env, day, flag):
    one_call(env)
    usage_error(env.run("daily", flag, day), flag, "YYYY-MM-DD")


# ---------------------------------------------------------------------------
# Settings and price files: regular files of a few megabytes, not too deep
# ---------------------------------------------------------------------------

def test_a_device_as_a_price_or_config_file_is_refused_at_once(env, tmp_path):
    one_call(env)
    link = tmp_path / "config.toml"
    link.symlink_to("/dev/zero")
    for argv, environ, named in [
        (("daily", "--prices", "/dev/zero"), None, "price file /dev/zero"),
        (("daily",), {"CCUSAGE_PRICES": "/dev/urandom"}, "price file /dev/urandom"),
        (("daily", "--config", "/dev/zero"), None, "config file /dev/zero"),
        (("daily",), {"CCUSAGE_CONFIG": "/dev/zero"}, "config file /dev/zero"),
        (("daily", "--config", str(link)), None, f"config file {link}"),
    ]:
        code, out, err = bounded_cli(env, *argv, environ=environ)
        assert code == 2 and out == "" and err == f"ccusage: error: {named} is not a regular file\n", err


def test_a_fifo_as_a_price_or_config_file_is_refused_without_waiting_for_a_writer(env, tmp_path):
    one_call(env)
    fifo = tmp_path / "prices.json"
    os.mkfifo(fifo)
    for flag, what in (("--prices", "price file"), ("--config", "config file")):
        code, out, err = bounded_cli(env, "daily", flag, fifo)
        assert code == 2 and err == f"ccusage: error: {what} {fifo} is not a regular file\n", err


def test_a_directory_as_a_price_file_is_refused(env, tmp_path):
    usage_error(env.run("daily", "--prices", tmp_path), f"price file {tmp_path} is not a regular file")


@pytest.mark.parametrize("flag, name, what", [("--prices", "prices.json", "price file"),
                                              ("--config", "config.json", "config file")])
def test_a_settings_file_over_the_size_limit_is_refused(env, tmp_path, flag, name, what):
    big = tmp_path / name
    with open(big, "wb") as f:
        f.truncate(4 * 1024 * 1024 + 1)   # sparse: nothing written, all read
    code, out, err = bounded_cli(env, "daily", flag, big)
    assert code == 2 and err == f"ccusage: error: {what} {big} is larger than 4 MB\n", err


def test_a_settings_file_at_the_size_limit_is_read(env, tmp_path):
    one_call(env)
    prices = tmp_path / "prices.json"
    body = '{"claude-sonnet-4-5": {"input": 3, "output": 15}}'
    prices.write_text(body + " " * (4 * 1024 * 1024 - len(body)))
    assert env.run("daily", "--json", "--prices", prices).json()["totals"]["outputTokens"] == 7


@pytest.mark.parametrize("name, text", [
    ("prices.json", "[" * 100_000),
    ("prices.json", '{"m": ' * 100_000),
])
def test_a_price_file_nested_too_deep_is_one_line_naming_it(env, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    usage_error(env.run("daily", "--prices", path), f"price file {path}: nested too deeply")


@pytest.mark.parametrize("name, text", [
    ("config.json", "[" * 100_000),
    ("config.json", '{"prices": ' * 100_000),
    ("config.toml", "a = " + "[" * 500 + "]" * 500 + "\n"),
    ("config.toml", "a = " + "{b = " * 500 + "1" + "}" * 500 + "\n"),
])
def test_a_config_file_nested_too_deep_is_one_line_naming_it(env, tmp_path, name, text):
    if name.endswith(".toml"):
        pytest.importorskip("tomllib")
    path = tmp_path / name
    path.write_text(text)
    result = env.run("daily", "--config", path)
    usage_error(result, f"config file {path}: ")
    assert "nested too deeply" in result.err or "invalid TOML" in result.err, result


@pytest.mark.parametrize("setting, what", [("prices_file", "price file"), ("db", "the store's directory")])
def test_a_path_with_a_nul_byte_in_the_settings_is_one_line(env, tmp_path, setting, what):
    one_call(env)
    config = tmp_path / "config.json"
    config.write_text('{"%s": "%s/a\\u0000b/x"}' % (setting, tmp_path))
    usage_error(env.run_raw("daily", "--config", config, "--data-dir", env.claude), what, "a\\x00b")


# ---------------------------------------------------------------------------
# CSV: nothing from the logs becomes a formula
# ---------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x")', "=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


def csv_rows(result):
    assert result.code == 0, result
    return list(csv.reader(io.StringIO(result.out)))


def assert_no_live_formula(rows):
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (cell, row)


def test_session_csv_neutralises_formulas_in_session_ids_projects_and_models(env):
    lines = [assistant_line(session="=1+2", cwd='=HYPERLINK("http://x")', output=1),
             assistant_line(session="@SUM(1)", cwd="-2+3", model="+cmd|' /C calc'!A0", output=2),
             assistant_line(session="plain", cwd="/home/u/proj", model="-2+3", output=4),
             assistant_line(session="\t=1", cwd="\r=1", model="@SUM(1)", output=8)]
    write_lines(env.log(), lines)
    rows = csv_rows(env.run("session", "--csv", "--breakdown"))
    assert_no_live_formula(rows)
    cells = {cell for row in rows for cell in row}
    assert {"'=1+2", "'=HYPERLINK(\"http://x\")", "'@SUM(1)", "'-2+3", "'+cmd|' /C calc'!A0",
            "'\\x09=1", "'\\x0d=1"} <= cells, cells
    assert "plain" in cells and "/home/u/proj" in cells


@pytest.mark.parametrize("command", ["daily", "weekly", "monthly"])
def test_period_csv_neutralises_formulas_in_projects_and_models(env, command):
    write_lines(env.log(), [assistant_line(cwd=text, model=text, output=1) for text in FORMULAS])
    rows = csv_rows(env.run(command, "--csv", "--breakdown", "--by-project"))
    assert_no_live_formula(rows)
    projects = {row[0] for row in rows[1:]}
    assert projects == {"'" + text.replace("\t", "\\x09").replace("\r", "\\x0d") for text in FORMULAS}
    # Tokens stay numbers: 7 calls of one output token each, once in (all) rows, once in the model rows.
    assert sum(int(row[4]) for row in rows[1:]) == 14


# ---------------------------------------------------------------------------
# The user's own words come back escaped
# ---------------------------------------------------------------------------

ESCAPE = "\x1b]0;pwned\x07"


def assert_escaped(text):
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


@pytest.mark.parametrize("argv", [
    ("daily", ESCAPE),
    ("daily", "--mode", ESCAPE),
    ("daily", "--since", ESCAPE),
    ("daily", "--timezone", ESCAPE),
    ("blocks", "--token-limit", ESCAPE),
    ("daily", "--data-dir", "/nowhere/" + ESCAPE),
    ("daily", "--prices", "/nowhere/\u202e" + ESCAPE),
    (ESCAPE,),
    ("config", ESCAPE),
])
def test_usage_errors_escape_what_the_user_typed(env, argv):
    result = env.run_raw(*argv)
    usage_error(result)
    assert_escaped(result.err)
    assert "\\x1b]0;pwned\\x07" in result.err


def test_the_installed_command_escapes_a_bad_argument(env):
    result = env.cli("daily", ESCAPE)
    usage_error(result, "\\x1b]0;pwned\\x07")
    assert_escaped(result.err)


def test_a_project_filter_matching_nothing_is_escaped_in_the_warning(env):
    one_call(env)
    result = env.run("daily", "--project", ESCAPE)
    assert result.code == 0 and "no project is called" in result.err
    assert_escaped(result.err)


def test_config_path_and_init_escape_a_config_path_from_the_environment(env, monkeypatch, tmp_path):
    directory = tmp_path / ("conf" + ESCAPE)
    directory.mkdir()
    monkeypatch.setenv("CCUSAGE_CONFIG", str(directory / "config.json"))
    for argv in (("config", "path"), ("config", "init"), ("config", "show")):
        result = env.run_raw(*argv)
        assert result.code == 0, result
        assert_escaped(result.out + result.err)
        assert "conf\\x1b]0;pwned\\x07" in result.out
    assert (directory / "config.json").is_file()


def test_lone_surrogates_and_escapes_in_a_json_config_are_shown_escaped(env, tmp_path):
    # JSON may spell a lone surrogate (\ud800), which no encoding can write to a terminal.
    config = tmp_path / "config.json"
    config.write_text('{"prices": {"m\\ud800\\u001b": {"input": 1, "output": 2}}, '
                      '"prompt_format": "\\ud800\\u001b[31m"}')
    shown = installed(env, "config", "show", "--config", config)
    assert shown.code == 0 and shown.err == "", shown
    assert "\\ud800\\x1b[31m" in shown.out and "m\\ud800\\x1b" in shown.out
    assert_escaped(shown.out)
    as_json = installed(env, "config", "show", "--json", "--config", config)
    assert as_json.code == 0, as_json
    assert '"m\\ud800\\u001b"' in as_json.out and "\x1b" not in as_json.out


def test_bytes_that_are_not_utf8_in_arguments_are_shown_as_bytes(env, tmp_path):
    # Python hands such bytes over as lone surrogates (\udcff for \xff).
    result = env.cli("daily", "\udcff\udc9b")
    usage_error(result, "unrecognized arguments: \\xff\\x9b")
    path = installed(env, "config", "path", environ={"CCUSAGE_CONFIG": str(tmp_path / "c\udcff.toml")})
    assert path.code == 0 and path.out == f"{tmp_path}/c\\xff.toml\n", path


# ---------------------------------------------------------------------------
# Paths that cannot be read, or do not exist
# ---------------------------------------------------------------------------

def make_unreadable_logs(projects, count):
    """count log files whose paths are longer than the system takes: unreadable even by root."""
    path_max = os.pathconf("/", "PC_PATH_MAX")
    parent = projects
    while len(str(parent)) < path_max - 100:
        parent = parent / ("d" * min(200, path_max - 100 - len(str(parent))))
    parent.mkdir(parents=True)
    fd = os.open(parent, os.O_RDONLY)
    try:
        for number in range(count):
            name = f"{number}" + "x" * 240 + ".jsonl"
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
    finally:
        os.close(fd)
    return parent


def test_unreadable_logs_are_one_line_on_stderr_and_listed_with_verbose(env):
    one_call(env)
    make_unreadable_logs(env.claude / "projects" / "p", 2)
    result = env.run("daily", "--json")
    assert result.json()["totals"]["outputTokens"] == 7
    assert result.err == "ccusage: warning: 2 files or directories could not be read; --verbose lists them\n"
    verbose = env.run("daily", "--json", "--verbose")
    assert verbose.json()["totals"]["outputTokens"] == 7
    assert len([line for line in verbose.err.splitlines() if line.startswith("ccusage: unreadable: ")]) == 2
    assert "--verbose lists them" not in verbose.err


def test_nothing_unreadable_says_nothing(env):
    one_call(env)
    result = env.run("daily", "--json")
    assert result.json()["totals"]["outputTokens"] == 7 and result.err == ""


def test_a_named_store_in_a_missing_directory_is_an_error_and_nothing_is_made(env, tmp_path, monkeypatch):
    one_call(env)
    missing = tmp_path / "no-such-dir" / "deeper"
    usage_error(env.run_raw("daily", "--data-dir", env.claude, "--db", missing / "x.db"),
                f"{missing} does not exist", "--db")
    monkeypatch.setenv("CCUSAGE_DB", str(missing / "y.db"))
    usage_error(env.run_raw("daily", "--data-dir", env.claude), "CCUSAGE_DB")
    assert not (tmp_path / "no-such-dir").exists()


def test_the_default_store_directory_is_made_private(env):
    one_call(env)
    result = env.run_raw("daily", "--json", "--data-dir", env.claude)
    assert result.json()["totals"]["outputTokens"] == 7
    directory = env.data_home / "ccusage"
    assert (directory / "usage.db").is_file()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
