"""The command line: usage errors, the installed command, --version, and stopping quietly in a pipe."""

import argparse
import json
import re
import shlex
import subprocess
import sys
from datetime import date, timedelta

import pytest

import ccusage
from logsynth import assistant_line, write_lines
from support import PROJECT_DIR, Result, daily_by_model, first_line_is_one_error, truth_daily_by_model


@pytest.mark.parametrize("argv", [
    pytest.param(("daily", "--since", "yesterday-ish"), id="bad date"),
    pytest.param(("daily", "--timezone", "Mars/Olympus"), id="unknown time zone"),
    pytest.param(("frobnicate",), id="unknown command"),
    pytest.param(("daily", "--data-dir", "/nonexistent"), id="missing data dir"),
    pytest.param(("daily", "--since", "2026-02-01", "--until", "2026-01-01"), id="since after until"),
    pytest.param(("daily", "--since", "2026-02-30"), id="no such day"),
    pytest.param(("daily", "--since", "202611"), id="a month, not a day"),
    pytest.param(("daily", "--since", "2026-1101"), id="half of each form"),
    pytest.param(("today", "--since", "2026-11-01"), id="a range for today"),
    pytest.param(("blocks", "--active", "--recent"), id="two selections of windows"),
    pytest.param(("daily", "--json", "--csv"), id="two output formats"),
    pytest.param(("daily", "--mode", "free"), id="unknown mode"),
    pytest.param(("daily", "--no-such-flag"), id="unknown option"),
])
def test_a_usage_error_is_one_line_and_exit_2(env, argv):
    data_dir = () if "--data-dir" in argv else ("--data-dir", env.claude)
    result = env.run_raw(*argv, *data_dir, "--db", env.db)
    assert result.code == 2
    first_line_is_one_error(result)


@pytest.mark.parametrize("argv", [("--help",), ("-z", "UTC", "-h")])
def test_help_names_every_command(env, argv):
    """main parses with the named command alone; help must still see them all."""
    result = env.run_raw(*argv)
    assert result.code == 0
    listed = re.findall(r"^    (\w+) ", result.out.split("\ncommands:\n")[1], re.MULTILINE)
    assert listed == list(ccusage.COMMANDS)


@pytest.mark.parametrize("columns", ["0", "-5", "wide"])
def test_a_columns_variable_that_is_no_width_is_ignored(env, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    result = env.run_raw("--help")
    assert result.code == 0 and result.out.startswith("usage: ccusage [-h] [-V] ")


def test_an_unknown_command_is_told_every_command(env):
    result = env.run_raw("dialy", "--db", env.db)
    assert result.code == 2
    first_line_is_one_error(result)
    assert all(f"'{command}'" in result.err for command in ccusage.COMMANDS)


def test_the_installed_command_reports_a_usage_error_the_same_way(env):
    result = env.cli("daily", "--timezone", "Mars/Olympus")
    assert result.code == 2
    first_line_is_one_error(result)
    assert "Mars/Olympus" in result.err


def test_the_installed_command_reports_the_generated_truth(env, synth):
    tree = synth(12)
    result = env.cli("--json", "-z", "UTC")   # no command: the daily report
    assert result.code == 0, result.err
    assert daily_by_model(json.loads(result.out)) == truth_daily_by_model(tree.truth)


def test_options_may_come_before_the_command(env):
    write_lines(env.log(), [assistant_line(output=5, ts="2026-11-20T23:30:00.000Z")])
    before = env.run("-z", "Europe/Berlin", "--json", "daily").json()
    after = env.run("daily", "--json", "-z", "Europe/Berlin").json()
    assert before == after and before["daily"][0]["date"] == "2026-11-21"


@pytest.mark.usefixtures("env")   # for its environment: nothing of the developer's
def test_python_m_ccusage_prints_the_version():
    proc = subprocess.run([sys.executable, "-m", "ccusage", "--version"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"ccusage {ccusage.__version__} (prices checked {ccusage.PRICES_CHECKED})")


@pytest.mark.usefixtures("env")   # for its environment: nothing of the developer's
def test_the_installed_command_prints_the_version_of_this_checkout(ccusage_cmd, tmp_path):
    # Run away from the checkout, so that the installed module answers.
    proc = subprocess.run([ccusage_cmd, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"ccusage {ccusage.__version__} (prices checked {ccusage.PRICES_CHECKED})")


def test_a_pipe_closed_early_stops_quietly(env):
    # Four years of days: a table far longer than a pipe holds (64 kB).
    start = date(2023, 1, 1)
    lines = [assistant_line(ts=f"{start + timedelta(days=n)}T12:00:00.000Z", input=n * 1_000, output=n * 7_919)
             for n in range(1_500)]
    write_lines(env.log(), lines)
    command = shlex.join(env.command("daily", "-z", "UTC", "--breakdown"))
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{command} | head -1"], capture_output=True, text=True,
                          timeout=120)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.count("\n") == 1 and result.out.startswith("Date")


@pytest.mark.parametrize("argv, option, command", [
    (("--since", "2026-11-30", "status"), "--since", "status"),
    (("-p", "game", "status"), "-p", "status"),
    (("--csv", "status"), "--csv", "status"),
    (("-b", "status"), "-b", "status"),
    (("--by-project", "session"), "--by-project", "session"),
    (("-jb", "status"), "-b", "status"),
])
def test_an_option_before_a_command_that_does_not_take_it_is_refused(env, argv, option, command):
    result = env.run(*argv)
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert f"argument {option}:" in result.err and f"the {command} command does not take it" in result.err


def test_options_before_the_command_apply_to_it_as_after_it(env):
    write_lines(env.log("s1", cwd="/home/u/game"), [
        assistant_line(ts="2026-11-20T10:00:00.000Z", input=1, output=10, cwd="/home/u/game", session="s1"),
        assistant_line(ts="2026-11-21T10:00:00.000Z", input=2, output=20, cwd="/home/u/game", session="s1")])
    write_lines(env.log("s2", cwd="/home/u/other"), [
        assistant_line(ts="2026-11-21T11:00:00.000Z", input=4, output=40, cwd="/home/u/other", session="s2")])
    after = env.run("daily", "--json", "-z", "UTC", "--since", "2026-11-21", "-p", "game").json()
    before = env.run("--json", "-z", "UTC", "--since", "2026-11-21", "-p", "game", "daily").json()
    assert before == after
    assert [day["date"] for day in after["daily"]] == ["2026-11-21"] and after["totals"]["outputTokens"] == 20
    # blocks takes them too, before its name as after it.
    assert env.run("--since", "2026-11-21", "-p", "game", "blocks", "--json").json() == \
        env.run("blocks", "--json", "--since", "2026-11-21", "-p", "game").json()
    # Exclusive options stay exclusive across the command word.
    both = env.run("--json", "daily", "--csv")
    assert both.code == 2 and "not allowed with" in both.err


@pytest.mark.parametrize("argv", [
    ("daily", "-p", "-home-u-game"),
    ("-p", "-home-u-game", "daily"),
    ("daily", "--project", "-home-u-game"),
    ("daily", "-p=-home-u-game"),
])
def test_a_project_named_as_claude_code_names_its_directory(env, argv):
    write_lines(env.log("s1", cwd="/home/u/game"), [assistant_line(input=1, output=10, cwd="/home/u/game")])
    write_lines(env.log("s2", cwd="/home/u/other"), [assistant_line(input=4, output=40, cwd="/home/u/other")])
    result = env.run(*argv, "--json")
    assert result.code == 0, result
    assert result.json()["totals"]["outputTokens"] == 10


@pytest.mark.parametrize("argv", [
    ("status",), ("status", "--json", "--no-wait"), ("today", "-j", "-z", "UTC", "--db", "/x/s.db"),
    ("blocks", "--active", "--json", "-d", "/a", "--data-dir", "/b"), ("status", "--config", "/c.toml", "-d", "/a"),
    ("prompt", "--shell", "bash"), ("statusline", "-d", "/a", "--db", "/x/s.db"),
    ("daily", "--json", "-z", "UTC", "--data-dir", "/a", "--db", "/x/s.db"), (), ("--json", "-z", "UTC"),
    ("weekly", "-b", "--csv", "-o", "DESC"), ("monthly", "--by-project", "-m", "Calculate", "-p", "game"),
    ("session", "-s", "2026-11-01", "-u", "20261130", "--no-wait", "--config", "/c.toml"),
    ("today", "--by-project", "-j", "--mode", "display"),
])
def test_a_quick_command_line_is_read_as_argparse_reads_it(argv):
    quick = ccusage.quick_args(list(argv))
    assert quick is not None
    assert vars(quick) == vars(ccusage.build_parser().parse_args(list(argv)))


@pytest.mark.parametrize("argv", [
    ("daily", "--json", "--csv"), ("daily", "-s", "2026-13-01"), ("daily", "-o", "sideways"),
    ("session", "--by-project"), ("today", "--since", "2026-11-01"), ("--json", "status"), ("daily", "-v"),
    ("daily", "-p", "-home-u-game"), ("status", "--plan", "pro"), ("status", "-j", "-j"), ("today", "-z"),
    ("status", "--active"), ("today", "--db", "--json"), ("status", "-jv"),
    ("prompt", "--json"), ("statusline", "--shell", "zsh"), ("prompt", "--shell", "csh"), ("prompt", "--no-wait"),
])
def test_any_other_command_line_goes_to_argparse(argv):
    assert ccusage.quick_args(list(argv)) is None


def test_every_quick_option_is_the_parsers_option():
    for command in ccusage.QUICK_COMMANDS:
        sub = ccusage.build_parser()._subparsers._group_actions[0].choices[command]
        for option, (dest, takes) in ccusage.QUICK_OPTIONS.items():
            if command not in ccusage.QUICK_OPTIONS_OF.get(dest, (command,)):
                continue
            action = sub._option_string_actions[option]
            assert action.dest == dest, option
            assert (action.nargs != 0) == bool(takes), option
            assert isinstance(action, argparse._AppendAction) == (takes == "append"), option
