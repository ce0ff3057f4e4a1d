"""`ccusage prompt`: the line, its fields and colours, and the documented snippets in real shells and tmux."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

import ccusage
from logsynth import assistant_line, write_lines
from support import first_line_is_one_error, installed_ccusage, write_config

ROOT = Path(__file__).resolve().parent.parent
SONNET = "claude-sonnet-4-5-20250929"    # USD per million: input 3, output 15
OPUS_41 = "claude-opus-4-1-20250805"     # input 15, output 75


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def call(ts, output, model=SONNET):
    return assistant_line(ts=ts, model=model, output=output)


def prompt(env, *args):
    result = env.run("prompt", *args)
    assert result.code == 0 and "Traceback" not in result.err, result
    return result


def insert_official(env, window, captured, used, resets):
    conn = sqlite3.connect(env.db)
    with conn:
        conn.execute("INSERT INTO rate_limits (window, captured_at, used_percentage, resets_at) VALUES (?, ?, ?, ?)",
                     (window, ms(captured), used, ms(resets) // 1000))
    conn.close()


# ---------------------------------------------------------------------------
# The line
# ---------------------------------------------------------------------------

def test_the_default_line_says_today_the_estimated_share_and_the_reset(env):
    # 100,000 output tokens of Sonnet: $1.50.  The window runs 10:00 to 15:00; at 13:00, 2 hours are left.
    # Against a limit of 200,000 tokens that is 50%, an estimate: marked "~".
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        result = prompt(env, "-t", "200000")
    assert result.out == "$1.50 today · ~50% 5h · 2h00m\n"
    assert result.err == ""


def test_an_official_figure_is_shown_unmarked_and_wins(env):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        prompt(env, "-t", "200000")
        insert_official(env, "five_hour", "2026-11-20T12:55:00Z", 47.0, "2026-11-20T14:30:00Z")
        result = prompt(env, "-t", "200000", "--format", "{used} {used_kind} {used_official} {reset_in} {reset_at}")
    # the official reset (14:30) wins over the computed end (15:00)
    assert result.out == "47% official 47% 1h30m 14:30\n"


def test_no_logs_is_an_empty_line(env):
    result = prompt(env)
    assert (result.out, result.err) == ("", "")


def test_no_data_directory_and_no_store_is_an_empty_line_and_no_store(env):
    result = env.run("prompt", data_dirs=[])
    assert (result.code, result.out, result.err) == (0, "", "")
    assert not env.db.exists()


def test_a_store_without_calls_today_still_says_today(env):
    write_lines(env.log(), [call("2026-11-18T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        result = prompt(env)
    # no active window: the bracketed parts drop out
    assert result.out == "$0.00 today\n"


def test_every_field(env, monkeypatch):
    # Monday 2026-11-16 starts the week (--start-of-week is a setting: monday via the environment).
    # Calls: Nov 2 $0.75 (month only), Nov 16 $1.50 (week), today Nov 20 at 10:20 $1.50 and at 12:30 Opus
    # 20,000 output = $1.50.  Today: $3.00; week: $4.50; month: $5.25.
    write_lines(env.log(), [call("2026-11-02T09:00:00.000Z", 50_000), call("2026-11-16T09:00:00.000Z", 100_000),
                            call("2026-11-20T10:20:00.000Z", 100_000),
                            call("2026-11-20T12:30:00.000Z", 20_000, model=OPUS_41)])
    fmt = ("{today_cost}|{window_cost}|{used}|{tokens}|{reset_in}|{burn_rate}|{week_cost}|{month_cost}|"
           "{model}|{{lit}} [[x]]|[{week_used}]|[{limit_in}]")
    monkeypatch.setenv("CCUSAGE_START_OF_WEEK", "monday")
    with freeze_time("2026-11-20T13:00:00Z"):
        result = prompt(env, "-t", "480000", "--format", fmt)
    # Window tokens 120,000 of 480,000: 25%.  The last hour (12:00 to 13:00) holds the Opus call: $1.50/h.
    # No official 7-day figure; 20,000 tokens in that hour is 333 a minute, and the 360,000 left take
    # 18 hours, past the 15:00 reset: no predicted limit.
    assert result.out == "$3.00|$3.00|~25%|120.0K|2h00m|$1.50/h|$4.50|$5.25|opus-4-1|{lit} [x]||\n"


def test_a_limit_predicted_before_the_reset(env):
    # 12:00 to 13:00: 150,000 tokens, 2,500 a minute.  Limit 300,000: 150,000 left, reached in 60 minutes
    # at 14:00, before the 15:00 reset.
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100), call("2026-11-20T12:10:00.000Z", 149_900)])
    with freeze_time("2026-11-20T13:00:00Z"):
        result = prompt(env, "-t", "300100", "--format", "{limit_in} {limit_at}")
    assert result.out == "1h00m 14:00\n"


@pytest.mark.parametrize("shell, expected", [
    ("bash", "\x01\x1b[31m\x02~85%\x01\x1b[0m\x02 5h"),
    ("zsh", "%{\x1b[31m%}~85%%%{\x1b[0m%} 5h"),
    ("tmux", "#[fg=red]~85%#[default] 5h"),
    ("fish", "\x1b[31m~85%\x1b[0m 5h"),
    ("plain", "~85% 5h"),
])
def test_each_shell_gets_its_markup(env, shell, expected):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 85_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        result = prompt(env, "-t", "100000", "--shell", shell, "--format", "{used} 5h")
    assert result.out == expected + "\n"


def test_colours_follow_the_thresholds_and_no_color_turns_them_off(env, monkeypatch):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 55_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        yellow = prompt(env, "-t", "100000", "--shell", "tmux", "--format", "{used}").out
        green = prompt(env, "-t", "100000", "--shell", "tmux", "--format", "{used}", "--thresholds", "60,90").out
        red = prompt(env, "-t", "100000", "--shell", "tmux", "--format", "{used}", "--thresholds", "10,50").out
        forced = prompt(env, "-t", "100000", "--format", "{used}", "--color", "always").out
        monkeypatch.setenv("NO_COLOR", "1")
        plain = prompt(env, "-t", "100000", "--shell", "zsh", "--format", "{used}").out
    assert yellow == "#[fg=yellow]~55%#[default]\n"
    assert green == "#[fg=green]~55%#[default]\n"
    assert red == "#[fg=red]~55%#[default]\n"
    assert forced == "\x1b[33m~55%\x1b[0m\n"
    assert plain == "~55%%\n"


def test_the_format_comes_from_the_settings_file_and_a_table_of_its_own(env):
    write_config(env, {"prompt_format": "top {today_cost}", "prompt": {"prompt_format": "mine {today_cost}"}})
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        assert prompt(env).out == "mine $1.50\n"


@pytest.mark.parametrize("fmt", ["{nope}", "{today_cost", "[{used}", "{used}]", "[[{used}]", "[a [b] c]"])
def test_a_bad_format_is_a_usage_error(env, fmt):
    result = env.run("prompt", "--format", fmt)
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert "--format" in result.err


def test_text_from_the_logs_is_cleaned_and_made_literal(env):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100, model="evil-%F{red}-#[fg=red]-\x1b[2J")])
    with freeze_time("2026-11-20T13:00:00Z"):
        zsh = prompt(env, "--shell", "zsh", "--format", "{model}").out
        tmux = prompt(env, "--shell", "tmux", "--format", "{model}").out
    assert zsh == "evil-%%F{red}-#[fg=red]-\\x1b[2J\n"
    assert tmux == "evil-%F{red}-##[fg=red]-\\x1b[2J\n"


# ---------------------------------------------------------------------------
# Never a traceback, never a wait
# ---------------------------------------------------------------------------

def test_a_busy_store_gives_the_last_known_line(env):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        first = prompt(env)
    # Another process holds the store while there is something new to read.
    write_lines(env.log("s2"), [call("2026-11-20T12:50:00.000Z", 100_000)])
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with freeze_time("2026-11-20T13:00:00Z"):
            busy = prompt(env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with freeze_time("2026-11-20T13:00:00Z"):
        after = prompt(env)
    assert first.out == busy.out == "$1.50 today · 2h00m\n"
    assert busy.err == ""
    assert after.out.startswith("$3.00 today")


def broken(*args):
    raise RuntimeError("the disk caught fire")


def test_a_failure_inside_gives_the_last_known_line_and_one_warning(env, monkeypatch):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        first = prompt(env)
    monkeypatch.setattr(ccusage, "segment_facts", broken)
    with freeze_time("2026-11-20T13:01:00Z"):
        failed = prompt(env)
    assert failed.out == "$1.50 today · 1h59m\n" and first.out == "$1.50 today · 2h00m\n"
    assert failed.err == "ccusage: warning: prompt: the disk caught fire\n"


def test_facts_of_the_same_store_are_not_summed_again_for_a_while(env, monkeypatch):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        prompt(env)
    monkeypatch.setattr(ccusage, "segment_facts", broken)
    with freeze_time("2026-11-20T13:00:20Z"):
        again = prompt(env)
    # nothing new, 20 seconds later: the same facts, the time to the reset counted from now
    assert (again.out, again.err) == ("$1.50 today · 1h59m\n", "")
    write_lines(env.log(), [call("2026-11-20T13:00:10.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:25Z"):
        assert "disk caught fire" in prompt(env).err       # something new: summed again


def test_a_last_known_file_of_another_shape_is_no_failure(env):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 100_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        prompt(env)
        kept = Path(str(env.db) + ".last-line")
        data = json.loads(kept.read_text())
        data["facts"] = {"window": {"resets_at": "soon"}, "today_cost": [1]}
        kept.write_text(json.dumps(data))
        holder = sqlite3.connect(env.db, isolation_level=None)
        write_lines(env.log("s2"), [call("2026-11-20T12:50:00.000Z", 100_000)])
        holder.execute("BEGIN IMMEDIATE")
        try:
            result = prompt(env)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert result.out == "" and result.err == ""


# ---------------------------------------------------------------------------
# The documented snippets, in real shells and tmux
# ---------------------------------------------------------------------------

def snippet(language, containing):
    """The README's code block in language that holds the text containing, also in the man page's examples."""
    blocks = re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, (language, containing, blocks)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import test_docs
    examples = "\n".join(test_docs.man_examples())
    for line in found[0].splitlines():
        assert line.strip() in examples, f"man page examples lack the README's line {line!r}"
    return found[0]


def needs(tool):
    return pytest.mark.skipif(not shutil.which(tool), reason=f"{tool} is not installed")


@pytest.fixture
def live(env):
    """Logs with a call a second ago: $1.50 today, and the environment a shell of the user's would have."""
    now = datetime.now(timezone.utc) - timedelta(seconds=1)
    write_lines(env.log(), [call(now.strftime("%Y-%m-%dT%H:%M:%S.000Z"), 100_000)])
    bin_dir = os.path.dirname(installed_ccusage())
    environ = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(env.home), "TERM": "xterm-256color",
               "TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "CCUSAGE_DB": str(env.db),
               "CCUSAGE_DATA_DIR": str(env.claude), "CCUSAGE_TOKEN_LIMIT": "200000",
               "XDG_CONFIG_HOME": str(env.config_home), "XDG_DATA_HOME": str(env.data_home)}
    return environ


class Tmux:
    """A private tmux server; every session it starts gets environ."""

    def __init__(self, environ, config="/dev/null"):
        self.socket = f"ccusage-test-{uuid.uuid4().hex[:8]}"
        self.environ = environ
        self.config = config

    def __call__(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.socket, "-f", self.config] + list(args), env=self.environ,
                              capture_output=True, text=True, timeout=30, check=check)

    def start(self, command, width=160):
        self("new-session", "-d", "-x", str(width), "-y", "10", "-s", "t", command)

    def screen(self, escapes=False):
        return self("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else [])).stdout

    def wait_for(self, text, escapes=False, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(escapes)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen(escapes)}")

    def close(self):
        self("kill-server", check=False)


@pytest.fixture
def tmux_server(live):
    servers = []

    def make(config="/dev/null"):
        server = Tmux(live, config)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()


@needs("tmux")
@needs("bash")
@pytest.mark.parametrize("which", ["PS1='$(ccusage", "PROMPT_COMMAND="])
def test_bash_shows_the_segment(env, tmux_server, which):
    rc = env.tmp / "bashrc"
    rc.write_text("PS1='\\$ '\n" + snippet("bash", which))
    tmux = tmux_server()
    tmux.start(f"bash --noprofile --rcfile {rc} -i")
    screen = tmux.wait_for("$1.50 today · ~50% 5h · ")
    coloured = tmux.screen(escapes=True)
    # the colour codes reach the terminal, the markup of readline does not
    assert "\x1b[" in coloured and "\\[" not in screen and "\x01" not in screen
    tmux("send-keys", "-t", "t", "echo typed-$((6*7))", "Enter")
    tmux.wait_for("typed-42")


@needs("tmux")
@needs("zsh")
def test_zsh_shows_the_segment_in_the_right_prompt(env, tmux_server):
    (env.home / ".zshrc").write_text(snippet("zsh", "RPROMPT"))
    tmux = tmux_server()
    tmux.start("zsh -i")
    screen = tmux.wait_for("$1.50 today · ~50% 5h · ")
    line = next(line for line in screen.splitlines() if "$1.50 today" in line)
    # right-aligned: the segment ends the line, its colour markup takes no room
    assert line.rstrip().endswith("m") and len(line.rstrip()) == 159 and "%{" not in line, line


@needs("tmux")
@needs("fish")
def test_fish_shows_the_segment_in_the_right_prompt(env, tmux_server):
    functions = env.config_home / "fish" / "functions"
    functions.mkdir(parents=True)
    (functions / "fish_right_prompt.fish").write_text(snippet("fish", "fish_right_prompt"))
    tmux = tmux_server()
    tmux.start("fish -i")
    screen = tmux.wait_for("$1.50 today · ~50% 5h · ")
    line = next(line for line in screen.splitlines() if "$1.50 today" in line)
    assert len(line.rstrip()) >= 150, line    # on the right, of 160 columns


@needs("tmux")
def test_tmux_shows_the_segment_in_its_status_line(env, tmux_server):
    conf = env.tmp / "tmux.conf"
    conf.write_text(snippet("tmux", "status-right").replace("status-interval 15", "status-interval 1")
                    + "set -g status-right-length 100\n")
    inner = tmux_server(str(conf))
    inner.start("sleep 600")
    # A client draws the status line: attach one inside another server's pane, and read that pane.
    outer = tmux_server()
    outer.start(f"env TMUX= tmux -L {inner.socket} -f {conf} attach -t t")
    screen = outer.wait_for("$1.50 today")
    status = screen.rstrip("\n").splitlines()[-1]
    assert "~50% 5h" in status and "#[" not in status, status


def test_the_starship_module_runs_its_command(env, live):
    # starship itself is not needed to check the module: it runs `command` with sh and shows its output.
    tomllib = pytest.importorskip("tomllib", reason="reading the starship module's TOML needs Python 3.11")
    module = tomllib.loads(snippet("toml", "custom.ccusage"))["custom"]["ccusage"]
    assert module["when"] is True
    result = subprocess.run(["sh", "-c", module["command"]], env=live, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("$1.50 today · ~50% 5h · ")


def test_a_cold_store_catches_up_over_several_prompts_and_says_so(env, synth, monkeypatch):
    # With no time to read, each prompt reads a log or so, keeps it, and marks the line as catching up.
    tree = synth(2, days=3)
    logs = len(list(env.claude.rglob("*.jsonl")))
    monkeypatch.setattr(ccusage, "SEGMENT_READ_S", 0)
    lines = []
    # the clock must move for a time budget to run out
    with freeze_time("2026-11-20T18:30:00Z", tick=True):
        for _ in range(logs + 1):
            lines.append(prompt(env, "--format", "{today_cost}").out)
            if not lines[-1].endswith(" \u2026\n"):
                break
        today = env.run("today", "--json").json()["totals"]["totalCost"]
    assert lines[0].endswith(" \u2026\n") and len(lines) > 2, lines
    assert lines[-1] == f"${today:,.2f}\n" and tree.truth.total.responses > 0
