"""What a new user sees: tables that fit their width and say what they leave out, ASCII-only
terminals, colour by threshold, help that helps, and empty answers that say why."""

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

import ccusage
from logsynth import assistant_line, session_path, write_lines
from support import first_line_is_one_error, write_config

SONNET = "claude-sonnet-4-5-20250929"   # $3 input, $15 output, $3.75 5m cache write, $0.30 cache read per M
WIDTHS = [40, 60, 80, 120]


def big_session(env):
    # 1,000,000 input $3 + 2,000,000 output $30 + 40,000,000 cache write $150 + 300,000,000 cache read
    # $90 = $273.00; 343,000,000 tokens in all.
    write_lines(env.log("s1", cwd="/home/u/proj"),
                [assistant_line(ts="2026-11-20T10:00:00.000Z", session="s1", cwd="/home/u/proj", input=1_000_000,
                                output=2_000_000, cache_5m=40_000_000, cache_read=300_000_000)])


# ---------------------------------------------------------------------------
# Columns given up, and the width of a pipe
# ---------------------------------------------------------------------------

def test_a_table_that_gives_up_columns_says_which_and_how_to_see_them(env, monkeypatch):
    big_session(env)
    # At full width: Session 7, Project 7, Last activity 16, Input 9, Output 9, Cache write 11,
    # Cache read 11, Total 11, Cost 7 and eight gaps of 2: 104.  Abbreviated (1.0M, 2.0M, 300.0M,
    # 343.0M; the headers keep Cache write at 11 and Cache read at 10): 91.  Without Input (5 + 2)
    # 84, without Output (6 + 2) 76, which fits 80.
    monkeypatch.setenv("COLUMNS", "80")
    lines = env.run("session", "-z", "UTC").out.splitlines()
    assert lines[0].split() == ["Session", "Project", "Last", "activity", "Cache", "write", "Cache", "read",
                                "Total", "Cost"]
    assert lines[-1] == "Not shown at 80 columns: Input, Output; a wider terminal or --json shows them."
    monkeypatch.setenv("COLUMNS", "120")
    lines = env.run("session", "-z", "UTC").out.splitlines()
    assert "Input" in lines[0] and "Output" in lines[0]
    assert not any(line.startswith("Not shown") for line in lines)


def test_a_user_set_columns_is_the_width_of_a_pipe_too(env):
    big_session(env)
    piped = env.cli("session", "-z", "UTC", env={"COLUMNS": "120"})
    assert piped.code == 0, piped.err
    assert "Input" in piped.out.splitlines()[0] and "1,000,000" in piped.out
    # No COLUMNS: a pipe is 80 columns.
    plain = env.cli("session", "-z", "UTC")
    assert plain.out.splitlines()[-1].startswith("Not shown at 80 columns: Input, Output;")


# ---------------------------------------------------------------------------
# Every output fits its width
# ---------------------------------------------------------------------------

def varied_history(env):
    """Two days, two projects, three models, a long project name; the last call at 10:50 on the 20th."""
    lines = []
    for n, (ts, model) in enumerate([("2026-11-19T09:00:00.000Z", "claude-opus-4-5-20251101"),
                                     ("2026-11-19T23:30:00.000Z", SONNET),
                                     ("2026-11-20T09:10:00.000Z", "claude-haiku-4-5-20251001"),
                                     ("2026-11-20T10:50:00.000Z", SONNET)]):
        cwd = "/home/u/a-rather-long-project-name" if n % 2 else "/home/u/api"
        lines.append(assistant_line(ts=ts, model=model, session=f"session-{n % 2}", cwd=cwd, input=123_456,
                                    output=234_567, cache_5m=3_456_789, cache_read=45_678_901))
    for n, line in enumerate(lines):
        write_lines(env.log(f"session-{n % 2}", cwd=line["cwd"]), [line])


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("argv", [("daily",), ("daily", "--breakdown", "--by-project"), ("weekly",), ("monthly",),
                                  ("session",), ("session", "--breakdown"), ("today",), ("blocks",),
                                  ("blocks", "-t", "150000000"), ("status", "-t", "150000000"), ("status",),
                                  ("check",), ("report",), ("report", "--month", "--date", "2026-11-01")])
def test_every_output_fits_its_width(env, monkeypatch, width, argv):
    varied_history(env)
    write_config(env, {"budgets": {"daily": 5, "monthly": 100, "window_tokens": 5000000}})
    monkeypatch.setenv("COLUMNS", str(width))
    with freeze_time("2026-11-20T11:20:00Z"):
        result = env.run(*argv, "-z", "UTC")
    assert result.code in (0, 3), result
    lines = result.out.splitlines()
    assert len(lines) >= 2
    too_wide = [line for line in lines if len(line) > width]
    assert too_wide == []
    if argv[0] == "status":
        # Phrases are never broken across lines.
        assert re.search(r"(^| )\d+m left", result.out, re.M) or re.search(r"(^| )\dh \d\dm left", result.out, re.M)
        assert "tokens/min," in result.out
        # The window began at the hour of the 09:10 call.
        assert any(line.startswith("Window  2026-11-20 09:00") for line in lines)


def test_a_status_in_a_40_column_terminal_never_breaks_a_phrase(env, tmp_path):
    """In a real 40-column terminal (tmux), with no COLUMNS: the terminal's own width."""
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed")
    now = datetime.now(timezone.utc)
    write_lines(env.log(), [assistant_line(ts=(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                           output=1_000_000, cache_read=9_000_000) for m in (50, 20)])
    socket = f"ccusage-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmux_env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "COLUMNS", "LINES")}
    tmux_env["TMUX_TMPDIR"] = str(tmp_path)
    done = tmp_path / "done"
    command = shlex.join(env.command("status", "-t", "30000000")) + f"; touch {shlex.quote(str(done))}; sleep 30"

    def tmux(*args):
        return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], env=tmux_env, capture_output=True,
                              text=True, check=True, timeout=10).stdout

    tmux("new-session", "-d", "-x", "40", "-y", "30", "sh", "-c", command)
    try:
        for _ in range(600):
            if done.exists():
                break
            time.sleep(0.05)
        screen = tmux("capture-pane", "-p").splitlines()
    finally:
        tmux("kill-server")
    text = "\n".join(screen)
    assert done.exists(), text
    assert screen[0].startswith("Window  ") and all(len(line) <= 40 for line in screen)
    assert re.search(r"(^| )(\dh \d\dm|\d+m) left", text, re.M), text
    assert re.search(r"^Used    20,000,000 of 30,000,000 tokens$", text, re.M), text
    assert re.search(r"^        \(67%, estimated\)$", text, re.M), text


# ---------------------------------------------------------------------------
# ASCII-only output
# ---------------------------------------------------------------------------

ASCII_ENVIRONMENTS = [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
                                                      "PYTHONIOENCODING": ""}]


@pytest.mark.parametrize("environment", ASCII_ENVIRONMENTS)
@pytest.mark.parametrize("argv", [("daily",), ("daily", "-b", "--by-project"), ("session",), ("session", "--csv"),
                                  ("blocks", "-t", "1000"), ("daily", "--json")])
def test_an_ascii_only_stdout_gets_ascii_rules_and_escapes(env, environment, argv):
    # Non-ASCII text in the logs, not in their paths (whose bytes under LC_ALL=C are another matter).
    now = datetime.now(timezone.utc)
    write_lines(env.log("s1", cwd="/home/u/caf\u00e9"),
                [assistant_line(ts=(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                model="claude-\u00fcber-1", session="s1", cwd="/home/u/caf\u00e9", output=5)
                 for m in (30, 10)])
    proc = subprocess.run(env.command(*argv, "-z", "UTC"), capture_output=True, env=dict(os.environ, **environment))
    assert proc.returncode in (0, 3) and b"Traceback" not in proc.stderr, proc.stderr
    text = proc.stdout.decode("ascii")   # nothing but ASCII
    if "--json" in argv:
        assert json.loads(text)["daily"][-1]["modelsUsed"] == ["claude-\u00fcber-1"]   # escaped as JSON escapes
    elif "--csv" in argv:
        assert "caf\\xe9" in text
    else:
        assert re.search(r"^-{20,}$", text, re.M), text
        assert "\\xfcber-1" in text


def test_ascii_only_is_decided_by_the_stream_encoding():
    class Stream:
        def __init__(self, encoding):
            self.encoding = encoding

    assert [ccusage.ascii_only(Stream(e)) for e in ("utf-8", "UTF8", "ascii", "ANSI_X3.4-1968", "latin-1", None)] \
        == [False, False, True, True, True, True]


# ---------------------------------------------------------------------------
# Colour by threshold
# ---------------------------------------------------------------------------

def test_threshold_states():
    assert [ccusage.threshold_state(p) for p in (None, 0, 79.9, 80, 99.9, 100, 149)] == \
        ["ok", "ok", "ok", "warning", "warning", "over", "over"]


RED, YELLOW, GREEN = "\x1b[1;31m", "\x1b[33m", "\x1b[32m"


def test_blocks_and_status_colour_a_share_of_the_limit_by_its_threshold(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-17T10:00:00.000Z", output=300),      # 30%
                            assistant_line(ts="2026-11-18T10:00:00.000Z", output=1_490),    # 149%
                            assistant_line(ts="2026-11-19T10:00:00.000Z", output=850),      # 85%
                            assistant_line(ts="2026-11-20T10:00:00.000Z", output=300),      # the active window:
                            assistant_line(ts="2026-11-20T10:30:00.000Z", output=730)])     # 1,030 tokens, 103%
    with freeze_time("2026-11-20T11:00:00Z"):
        table = env.run("blocks", "-t", "1000", "-z", "UTC", "--color", "always").out
        status = env.run("status", "-t", "1000", "-z", "UTC", "--color", "always")
        plain = env.run("blocks", "-t", "1000", "-z", "UTC", "--color", "never").out
    assert RED + "149%" in table and YELLOW + "85%" in table and RED + "103%" in table
    assert GREEN + "30%" in table
    assert status.code == 3
    assert RED + "Limit   reached" in status.out and RED + "Used    1,030 of 1,000 tokens" in status.out
    assert "\x1b" not in plain and "149%" in plain


def test_no_color_is_honoured_on_a_terminal(env, monkeypatch):
    from test_reports import run_on_a_terminal
    write_lines(env.log(), [assistant_line(ts="2026-11-18T10:00:00.000Z", output=1_490)])   # 149% of 1,000
    monkeypatch.setenv("TERM", "xterm-256color")
    assert RED + "149%" in run_on_a_terminal(env, "blocks", "-t", "1000")
    monkeypatch.setenv("NO_COLOR", "1")
    screen = run_on_a_terminal(env, "blocks", "-t", "1000")
    assert "\x1b" not in screen and "149%" in screen


# ---------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------

def test_a_mistyped_command_gets_a_did_you_mean(env):
    result = env.run_raw("dialy")
    assert result.code == 2
    first_line_is_one_error(result)
    assert result.err.startswith("ccusage: error: unknown command 'dialy'; did you mean 'daily'? (choose from ")


@pytest.mark.parametrize("argv, option, meant", [
    (("--budget", "10"), "--budget", None),
    (("--budget", "10", "daily"), "--budget", None),
    (("daily", "--budget", "10"), "--budget", None),
    (("--sinse", "2026-11-01"), "--sinse", "--since"),
    (("session", "--jsno"), "--jsno", "--json"),
])
def test_an_unknown_option_is_named_whatever_follows_it(env, argv, option, meant):
    result = env.run_raw(*argv)
    assert result.code == 2
    first_line_is_one_error(result)
    expected = f"ccusage: error: unknown option '{option}'" + (f"; did you mean '{meant}'?" if meant else " (")
    assert result.err.startswith(expected), result.err
    assert "invalid choice" not in result.err


@pytest.mark.parametrize("command", [None] + list(ccusage.COMMANDS))
def test_help_fits_80_columns_in_a_pipe_and_shows_the_commands_own_examples(env, command):
    result = env.cli(*([command] if command else []), "--help")
    assert result.code == 0
    assert [line for line in result.out.splitlines() if len(line) > 80] == []
    examples = result.out.split("\nexamples:\n")[1].splitlines()
    assert examples and all(line.startswith("  ") for line in examples)
    parser = ccusage.build_parser()
    for line in [line for line in examples if "ccusage" in line]:
        # From ccusage up to a pipe, a redirection, a ";" or the comment after two spaces.
        words = shlex.split(re.split(r" {2,}|#|\||>|;", line.strip()[line.strip().index("ccusage"):])[0])[1:]
        if command:
            assert words[0] == command, line
        parser.parse_args(words)   # exits on an example the parser refuses


def test_help_wraps_to_a_narrow_terminal(env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    lines = env.run_raw("config", "--help").out.splitlines()
    assert max(len(line) for line in lines) <= 60


# ---------------------------------------------------------------------------
# Empty answers say why
# ---------------------------------------------------------------------------

def test_a_data_directory_without_projects_is_named(env):
    bare = env.tmp / "bare"
    bare.mkdir()
    result = env.run(data_dirs=[bare])
    assert (result.code, result.out) == (0, "No usage found.\n")
    assert f"{bare} has no projects/ directory, where Claude Code keeps its transcripts; " in result.err


def test_calls_from_other_data_directories_are_pointed_at(env):
    big_session(env)
    assert env.run("--json").code == 0        # the store now holds the call, read from env.claude
    result = env.run(data_dirs=[])            # the default directories: absent
    assert (result.code, result.out) == (0, "No usage found.\n")
    assert "no Claude Code logs found in" in result.err
    assert (f"the store holds 1 calls read from other data directories ({env.claude}: 1); "
            f"include them with --data-dir {env.claude}") in result.err
    blocks = env.run("blocks", data_dirs=[])
    assert f"--data-dir {env.claude}" in blocks.err


# ---------------------------------------------------------------------------
# Small things
# ---------------------------------------------------------------------------

def test_display_mode_says_when_there_are_no_logged_costs(env):
    big_session(env)
    result = env.run("-m", "display", "-z", "UTC")
    assert "$0.00" in result.out
    assert "-m display found no logged costs" in result.err
    assert "no logged costs" not in env.run("-m", "auto", "-z", "UTC").err


def test_an_unpriced_table_explains_the_marks_it_shows(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T10:00:00.000Z", model="claude-foo-9", output=5)])
    lines = env.run("daily", "-z", "UTC").out.splitlines()
    assert lines[2].split()[6] == "?" and lines[-1] == "? no price for: claude-foo-9"
    write_lines(env.log(), [assistant_line(ts="2026-11-21T10:00:00.000Z", output=1_000_000)])   # $15.00
    lines = env.run("daily", "-z", "UTC").out.splitlines()
    assert [line.split()[6] for line in lines[2:4]] == ["?", "$15.00"]
    assert lines[-2].split()[6] == "$15.00*"
    assert lines[-1] == "* excludes models with no price, ? has no priced call: claude-foo-9"


def test_blocks_json_rounds_the_burn_rate_as_status_does(env):
    # 1,000 tokens over the 7 minutes from the first to the last call: 142.857142... a minute.
    write_lines(env.log(), [assistant_line(ts="2026-11-20T10:00:00.000Z", output=400),
                            assistant_line(ts="2026-11-20T10:07:00.000Z", input=100, output=500)])
    with freeze_time("2026-11-20T10:30:00Z"):
        rate = env.run("blocks", "--json").json()["blocks"][-1]["burnRate"]
    assert rate["tokensPerMinute"] == 142.9 and rate["tokensPerMinuteForIndicator"] == 142.9


def test_the_daily_table_has_a_models_column_where_there_is_room(env, monkeypatch):
    big_session(env)
    write_lines(env.log(), [assistant_line(ts="2026-11-20T11:00:00.000Z", model="claude-opus-4-5-20251101",
                                           output=1)])
    monkeypatch.setenv("COLUMNS", "120")
    lines = env.run("daily", "-z", "UTC").out.splitlines()
    assert lines[0].split()[-1] == "Models" and lines[2].endswith("  sonnet-4-5, opus-4-5")
    monkeypatch.setenv("COLUMNS", "80")
    lines = env.run("daily", "-z", "UTC").out.splitlines()
    assert "Models" not in lines[0] and not lines[-1].startswith("Not shown")


def test_status_across_midnight_dates_the_end(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-30T23:10:00.000Z", output=10)])
    with freeze_time("2026-12-01T00:30:00Z"):
        first = env.run("status", "-z", "UTC").out.splitlines()[0]
    assert first.startswith("Window  2026-11-30 23:00 to 2026-12-01 04:00, 3h 30m left (resets 04:00)")


def test_an_empty_answer_from_directories_with_calls_points_nowhere_else(env):
    big_session(env)
    other = env.tmp / "other"
    write_lines(session_path(str(other), "s9"), [assistant_line(ts="2026-11-10T10:00:00.000Z", output=1)])
    assert env.run("--json", data_dirs=[other]).code == 0
    # env.claude has a call, on the 20th: nothing on the 21st is the filter's doing, not the directory's.
    result = env.run("--since", "2026-11-21")
    assert (result.code, result.out, result.err) == (0, "No usage found for the given filters.\n", "")
    # today, with no call in either directory today, the same.
    assert env.run("today").err == ""
    bare = env.tmp / "bare-today"
    bare.mkdir()
    err = env.run("today", data_dirs=[bare]).err
    assert f"{bare} has no projects/ directory" in err and f"--data-dir {env.claude}" in err


def test_an_option_of_other_commands_names_them(env):
    result = env.run_raw("monthly", "--plan", "max20")
    assert result.code == 2
    first_line_is_one_error(result)
    assert result.err.startswith("ccusage: error: argument --plan: the monthly command does not take it (blocks, ")
    assert env.run_raw("monthly", "--pla", "max20").err.startswith(
        "ccusage: error: unknown option '--pla'; did you mean '--plan'?")
    # The option named is the one refused, not another the command does take.
    refused = env.run_raw("prune", "--since", "2026-11-01", "--before", "2026-10-01")
    assert refused.err.startswith("ccusage: error: argument --since: the prune command does not take it (daily, ")
    assert "today" not in refused.err.split("(")[1]   # today takes no range
