"""`ccusage live`: the layout, one frame of each view as text (--once), and the curses view driven in tmux."""

import itertools
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

import ccusage
from logsynth import assistant_line, write_lines
from support import PROJECT_DIR, first_line_is_one_error

# USD per million tokens: input, 5-minute cache write, 1-hour cache write, cache read, output
SONNET = "claude-sonnet-4-5-20250929"    # 3, 3.75, 6, 0.30, 15
OPUS_41 = "claude-opus-4-1-20250805"     # 15, 18.75, 30, 1.50, 75
NOW = "2026-11-20T11:30:00Z"             # a Friday


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# ---------------------------------------------------------------------------
# layout(h, w)
# ---------------------------------------------------------------------------

PANELS = ("window", "periods", "tiers", "recent")
SIZES = list(itertools.product(range(5, 101), range(20, 301)))


def overlap(a, b):
    return (a.top < b.top + b.height and b.top < a.top + a.height
            and a.left < b.left + b.width and b.left < a.left + a.width)


def test_layout_of_every_size_from_20x5_to_300x100_fits_the_screen_without_overlaps():
    for h, w in SIZES:
        boxes = ccusage.layout(h, w)
        for name, box in boxes.items():
            assert box.height >= 1 and box.width >= 1, (h, w, name)
            assert 0 <= box.top and box.top + box.height <= h, (h, w, name, box)
            assert 0 <= box.left and box.left + box.width <= w, (h, w, name, box)
        # body is where the views other than the overview draw, instead of the panels.
        panels = [box for name, box in boxes.items() if name != "body"]
        assert not [(a, b) for a, b in itertools.combinations(panels, 2) if overlap(a, b)], (h, w)


def test_layout_gives_a_small_screen_one_line():
    for h, w in SIZES:
        small = h < 6 or w < 40
        assert ("small" in ccusage.layout(h, w)) == small, (h, w)
    assert set(ccusage.layout(5, 20)) == {"small"}
    assert set(ccusage.layout(5, 300)) == {"small"}
    assert set(ccusage.layout(100, 39)) == {"small"}


def test_layout_keeps_a_header_a_footer_and_the_window_on_every_usable_screen():
    for h, w in SIZES:
        boxes = ccusage.layout(h, w)
        if "small" in boxes:
            continue
        assert (boxes["header"].top, boxes["footer"].top, boxes["window"].top) == (0, h - 1, 1), (h, w)
        assert boxes["window"].height == (6 if h >= 8 else 3), (h, w)
        assert (boxes["body"].top, boxes["body"].height) == (1, h - 2)


def test_panels_give_way_one_by_one_as_the_screen_shrinks():
    present = {(h, w): set(ccusage.layout(h, w)) for h, w in SIZES}
    for (h, w), names in present.items():
        # A panel shown on a screen is shown on every larger one...
        for taller in ((h + 1, w), (h, w + 1)):
            if taller in present and "small" not in names:
                assert names & set(PANELS) <= present[taller], (h, w, taller)
        # ...and each needs those before it.
        shown = [name in names for name in PANELS]
        assert shown == sorted(shown, reverse=True), (h, w, names)


def test_layout_at_120x40_has_every_panel_with_the_sums_beside_the_tiers():
    boxes = ccusage.layout(40, 120)
    assert set(PANELS) <= set(boxes)
    assert boxes["periods"].top == boxes["tiers"].top and boxes["tiers"].left > boxes["periods"].width
    assert boxes["recent"].top + boxes["recent"].height == 39
    assert boxes["recent"].height >= 25 + 2 - 6     # most of the last 25 calls, a title and a header


def test_layout_at_60x15_has_the_window_and_the_sums():
    assert set(ccusage.layout(15, 60)) == {"header", "footer", "body", "window", "periods"}


# ---------------------------------------------------------------------------
# One frame as text: --once, through main
# ---------------------------------------------------------------------------

def call(ts, model=SONNET, session="s1", cwd="/home/u/proj", **tokens):
    return assistant_line(ts=ts, model=model, session=session, cwd=cwd, **tokens)


def month_of_calls(env):
    """Four calls: this month, this week, and two in today's window.

    Sonnet: 100k in + 200k out = $0.30 + $3.00 = $3.30; Opus 4.1: 10k in + 20k out = $0.15 + $1.50 = $1.65
    (today $4.95, 330,000 tokens); Monday the 16th 1M in = $3.00; the 2nd 100k out = $1.50.
    """
    write_lines(env.log("s0"), [call("2026-11-02T09:00:00.000Z", session="s0", output=100_000)])
    write_lines(env.log("s2"), [call("2026-11-16T09:00:00.000Z", session="s2", input=1_000_000)])
    write_lines(env.log("s1"), [call("2026-11-20T10:20:00.000Z", input=100_000, output=200_000),
                                call("2026-11-20T11:10:00.000Z", model=OPUS_41, input=10_000, output=20_000)])


def frame(env, *args, columns=120, lines=40, now=NOW):
    result = env.live_frame(*args, columns=columns, lines=lines, now=now)
    assert result.err == ""
    return result.out


def test_overview_frame_shows_the_window_the_sums_the_tiers_and_the_recent_calls(env):
    month_of_calls(env)
    out = frame(env, "-t", "1000000")
    assert re.search(r"^ccusage \S+ live  Idle  every 1s  plan custom  UTC  estimated +11:30$", out, re.M)
    assert "5-hour window 10:00 to 15:00   resets 15:00, in 3h 30m" in out
    assert re.search(r"\] +33%  of 1\.0M tokens$", out, re.M)          # 330,000 of 1,000,000
    assert "Tokens 330,000   Cost $4.95   Calls 2   Models opus-4-1, sonnet-4-5" in out
    # Over the last 60 minutes (10:30 to 11:30): the Opus call alone.
    assert "Burn   500 tokens/min, $1.65/h (last 60 min)" in out
    # 670,000 more at 500 a minute
    assert "Limit  not before the reset at this rate   limit: your limit" in out
    for label, cost, tokens, calls in (("Today", "$4.95", "330,000", 2), ("This week", "$7.95", "1,330,000", 3),
                                       ("This month", "$9.45", "1,430,000", 4)):
        assert re.search(rf"^{label} +{re.escape(cost)} +{tokens} +{calls}\b", out, re.M), label
    assert re.search(r"Sonnet +\$3\.30 +67% +1 +100,000 +200,000 +0 +0$", out, re.M)
    assert re.search(r"Opus +\$1\.65 +33% +1 +10,000 +20,000 +0 +0$", out, re.M)
    assert out.index("Sonnet  ") < out.index("Opus  ")                      # by cost
    recent = re.findall(r"^(\d\d:\d\d:\d\d) +(\S+) +([\d,]+) +(\$[\d.]+) +(\S+)$", out, re.M)
    assert recent == [("11:10:00", "opus-4-1", "30,000", "$1.65", "proj"),
                      ("10:20:00", "sonnet-4-5", "300,000", "$3.30", "proj"),
                      ("09:00:00", "sonnet-4-5", "1,000,000", "$3.00", "proj"),
                      ("09:00:00", "sonnet-4-5", "100,000", "$1.50", "proj")]
    assert re.search(r"^ Overview  Sessions  Models  History  Help   q quit", out, re.M)


def test_overview_says_active_within_minutes_of_a_call(env):
    month_of_calls(env)
    assert " Active  " in frame(env, now="2026-11-20T11:14:00Z")
    assert " Idle  " in frame(env, now="2026-11-20T11:16:00Z")


def test_overview_without_an_active_window(env):
    write_lines(env.log("s1"), [call("2026-11-19T10:20:00.000Z", output=1000)])
    out = frame(env)
    assert "5-hour window: none active (no calls in the last 5h 00m)" in out
    assert "No calls today." in out


def test_sessions_frame_lists_today_and_the_active_window(env):
    write_lines(env.log("late", cwd="/home/u/other"),
                [call("2026-11-19T23:40:00.000Z", session="late", cwd="/home/u/other", output=2000)])
    out = frame(env, "--view", "sessions", now="2026-11-20T02:00:00Z")
    # At 02:00 the window of 23:40 yesterday is still open.
    assert "Sessions of today and the last 5h 00m (1)" in out
    assert re.search(r"^late +other +sonnet-4-5 +1 +2,000 +\$0\.03 +23:40 active$", out, re.M)
    month_of_calls(env)
    out = frame(env, "--view", "sessions")
    assert "Sessions of today and the last 5h 00m (1)" in out
    assert re.search(r"^s1 +proj +opus-4-1, sonnet-4-5 +2 +330,000 +\$4\.95 +11:10 active$", out, re.M)


def test_models_frame_has_this_month_per_model(env):
    month_of_calls(env)
    out = frame(env, "--view", "models")
    # Sonnet this month: $3.30 + $3.00 + $1.50 = $7.80 of $9.45, 83%.
    assert re.search(r"^sonnet-4-5 +Sonnet +\$3\.30 +\$7\.80 +83% +3 +1,100,000 +300,000 +0 +0$", out, re.M)
    assert re.search(r"^opus-4-1 +Opus +\$1\.65 +\$1\.65 +17% +1 +10,000 +20,000 +0 +0$", out, re.M)


def test_history_frame_has_thirty_days_of_cost_and_window_peaks(env):
    month_of_calls(env)
    out = frame(env, "--view", "history", "-t", "1000000", lines=40)
    days = re.findall(r"^(\w\w\w \d\d-\d\d) ", out, re.M)
    assert len(days) == 30 and days[0] == "Fri 11-20" and days[-1] == "Thu 10-22"
    assert re.search(r"^Fri 11-20 █+ +\$4\.95  peak   33%$", out, re.M)
    assert re.search(r"^Mon 11-16 █+ +\$3\.00  peak  100%$", out, re.M)
    assert re.search(r"^Mon 11-02 █+ +\$1\.50  peak   10%$", out, re.M)
    assert re.search(r"^Thu 11-19 +\$0\.00$", out, re.M)
    # The bars are to scale: $4.95 the longest, $1.50 under a third of it.
    bar = {day: len(re.search(rf"^{day} (█+)", out, re.M).group(1)) for day in ("Fri 11-20", "Mon 11-02")}
    assert bar["Mon 11-02"] == round(bar["Fri 11-20"] * 1.50 / 4.95)


def test_a_short_frame_scrolls_with_a_note_of_what_is_below(env):
    month_of_calls(env)
    out = frame(env, "--view", "history", lines=12)
    assert re.search(r"^… 22 more \(PgDn\)$", out, re.M)     # 9 rows for 30 days: 8 and the note


def test_help_frame_lists_the_keys(env):
    out = frame(env, "--view", "help")
    for key in ("q, Ctrl-C", "Tab, Shift-Tab", "PgUp, PgDn", "Home, End"):
        assert key in out
    assert re.search(r"^p +the next plan", out, re.M) and re.search(r"^e +write the data", out, re.M)


def test_official_figures_and_their_pace_say_when_the_limit_comes(env):
    month_of_calls(env)
    frame(env)           # creates the store
    conn = sqlite3.connect(env.db)
    with conn:
        conn.executemany("INSERT INTO rate_limits (window, captured_at, used_percentage, resets_at) "
                         "VALUES (?, ?, ?, ?)",
                         [("five_hour", ms("2026-11-20T11:00:00Z"), 40.0, ms("2026-11-20T14:00:00Z") // 1000),
                          ("five_hour", ms("2026-11-20T11:20:00Z"), 60.0, ms("2026-11-20T14:00:00Z") // 1000),
                          ("seven_day", ms("2026-11-20T11:20:00Z"), 17.0, ms("2026-11-24T09:00:00Z") // 1000)])
    conn.close()
    out = frame(env)
    assert "estimated" not in out.split("\n")[0] and " official, 10m old " in out.split("\n")[0] + " "
    assert "resets 14:00 (official), in 2h 30m" in out
    assert re.search(r"\] +60%  official", out)
    # 20 points in 20 minutes: 100% at 12:00.
    assert "Limit  at 12:00 at the official figure's pace (in 30m)" in out
    assert "7-day 17% used (official, 10m ago), resets Tue 09:00" in out


def test_text_from_the_logs_reaches_the_frame_escaped(env):
    write_lines(env.log("s1", cwd="/home/u/bad\x1b[2Jname"),
                [call("2026-11-20T11:10:00.000Z", cwd="/home/u/bad\x1b[2Jname", output=1000)])
    out = frame(env)
    assert "\x1b" not in out
    assert "bad\\x1b[2Jname" in out


def test_a_small_frame_is_one_line(env):
    assert frame(env, columns=20, lines=5) == "too small (20x5)\n"
    assert frame(env, columns=50, lines=5).startswith("too small (50x5); needs 40x6\n")


def test_live_without_a_terminal_points_to_once(env):
    result = env.run("live")
    first_line_is_one_error(result)
    assert result.code == 2 and "--once" in result.err


@pytest.mark.parametrize("value", ["0", "-1", "abc", "3601"])
def test_a_bad_interval_is_a_usage_error(env, value):
    result = env.run("live", "--interval", value)
    first_line_is_one_error(result)
    assert result.code == 2 and "--interval" in result.err


def live_settings(env, *args):
    parser = ccusage.build_parser()
    args = ccusage.check_args(parser.parse_args(["live", "--db", str(env.db), "--data-dir", str(env.claude)]
                                                        + list(args)))
    return ccusage.resolve_settings(args, os.environ, "live", ccusage.Messages().warn)


def test_plan_cycling_measures_the_window_against_each_plan(env):
    month_of_calls(env)
    with freeze_time(NOW):
        settings = live_settings(env)
        source = ccusage.LiveSource(settings, os.environ, ccusage.Messages())
        source.sync()
        state = ccusage.LiveState(settings, 1, "overview")
        seen = []
        for _ in range(5):
            state.data = source.load(state.settings, ms(NOW))
            seen.append((state.plan_label(), state.data.status.limit.tokens))
            assert state.handle("plan", 10) == "reload"
        source.close()
    # auto learns from past windows: the two before today's, 1,000,000 and 100,000 tokens.
    assert seen == [("auto", round(100_000 + 0.9 * 900_000)), ("Pro", 10_000_000), ("Max 5x", 50_000_000),
                    ("Max 20x", 200_000_000), ("auto", round(100_000 + 0.9 * 900_000))]


def test_keys_switch_views_and_scroll(env):
    state = ccusage.LiveState(live_settings(env), 1, "overview")
    views = []
    for _ in range(5):
        state.handle("next", 10)
        views.append(state.view)
    assert views == ["sessions", "models", "history", "help", "overview"]
    state.handle("prev", 10)
    assert state.view == "help"
    state.handle("help", 10)
    assert state.view == "overview"
    state.handle("page_down", 10)
    state.handle("down", 10)
    assert state.scroll["overview"] == 11
    state.handle("page_up", 10)
    state.handle("page_up", 10)
    assert state.scroll["overview"] == 0
    assert [state.handle(a, 10) for a in ("quit", "refresh", "export")] == ["quit", "refresh", "export"]


def test_the_snapshot_holds_the_data_on_screen(env, tmp_path, monkeypatch):
    month_of_calls(env)
    monkeypatch.chdir(tmp_path)
    with freeze_time(NOW):
        settings = live_settings(env, "-t", "1000000", "-z", "UTC")
        source = ccusage.LiveSource(settings, os.environ, ccusage.Messages())
        source.sync()
        state = ccusage.LiveState(settings, 1, "overview")
        state.data = source.load(settings, ms(NOW))
        source.close()
        path = ccusage.write_snapshot(state, os.environ)
    assert os.path.dirname(path) == str(tmp_path) and path.endswith("ccusage-live-20261120-113000.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    assert data["window"]["percentUsed"] == 33.0
    assert data["periods"]["Today"]["totalCost"] == 4.95
    assert [(c["model"], c["totalTokens"]) for c in data["recentCalls"]][:2] == [(OPUS_41, 30_000), (SONNET, 300_000)]


# ---------------------------------------------------------------------------
# The curses view, in tmux, with the installed command
# ---------------------------------------------------------------------------

needs_tmux = pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed (the curses view is "
                                                                  "driven in tmux)")
PROMPT = "READY$ "


class Pane:
    """A tmux server of its own, one pane running bash; live runs in it as the command a user would type."""

    def __init__(self, tmp, width=120, height=40):
        self.socket = f"ccusage-live-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.pidfile = tmp / "live.pid"
        environment = {"HOME": os.environ["HOME"], "PATH": "/usr/bin:/bin", "TERM": "tmux-256color",
                       "LANG": "C.UTF-8", "TZ": "UTC", "PS1": PROMPT, "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
                       "XDG_DATA_HOME": os.environ["XDG_DATA_HOME"]}
        shell = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in environment.items()) + \
                " bash --norc --noprofile"
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)
        self.wait_for(lambda screen: PROMPT.strip() in screen)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args), capture_output=True,
                              text=True, timeout=20).stdout

    def type(self, line):
        self.tmux("send-keys", "-t", "t", "-l", line)
        self.tmux("send-keys", "-t", "t", "Enter")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else []))

    def wait_for(self, ready, timeout=15, escapes=False):
        """The screen once ready(screen) holds; fails with the screen after timeout seconds.

        A screen is captured as tmux has it, which may be partway through a
        redraw: ready must name everything the caller looks for.
        """
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(escapes)
            if ready(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out; the screen:\n{screen}"
            time.sleep(0.1)

    def start(self, command, env=""):
        """Run the command through a shell that records its pid, then execs it in the foreground."""
        if self.pidfile.exists():
            self.pidfile.unlink()
        script = f"echo $$ > {shlex.quote(str(self.pidfile))}; exec {command}"
        self.type(f"{env} sh -c {shlex.quote(script)}".strip())
        self.wait_for(lambda screen: self.pidfile.exists() and self.pidfile.read_text().strip())
        return int(self.pidfile.read_text())

    def last_status(self):
        """The exit status of the last command, as the shell tells it."""
        self.type("echo status=$?")
        return int(re.findall(r"^status=(\d+)", self.wait_for(lambda s: re.search(r"^status=\d+", s, re.M)),
                              re.M)[-1])

    def close(self):
        self.tmux("kill-server")


@pytest.fixture
def pane(tmp_path):
    panes = []

    def make(width=120, height=40):
        panes.append(Pane(tmp_path, width, height))
        return panes[-1]
    yield make
    for p in panes:
        p.close()


def live_command(env, *args):
    return " ".join(shlex.quote(a) for a in env.command("live", *args))


def now_minus(minutes):
    moment = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def calls_just_now(env):
    """Today's window: 330,000 tokens, $4.95 (see month_of_calls)."""
    write_lines(env.log("s1"), [call(now_minus(4), input=100_000, output=200_000),
                                call(now_minus(2), model=OPUS_41, input=10_000, output=20_000)])


def alive(pid):
    """Is pid running (and not a zombie)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:     # no /proc (macOS)
        return True


@needs_tmux
def test_the_view_at_120x40_shows_the_window_percent_cost_and_burn_rate(env, pane):
    calls_just_now(env)
    p = pane()
    p.start(live_command(env, "-t", "1000000", "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s and re.search(r"\] +33%  of 1\.0M tokens", s) and "Cost $4.95" in s
               and re.search(r"Burn   [\d,]+ tokens/min, \$[\d.]+/h \(last \d+ min\)", s) and " Active " in s)
    p.keys("q")
    p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert p.last_status() == 0


@needs_tmux
def test_a_call_appended_to_a_transcript_shows_within_two_intervals(env, pane):
    calls_just_now(env)
    p = pane()
    p.start(live_command(env, "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    write_lines(env.log("s1"), [call(now_minus(0), output=123_457)])
    appended = time.monotonic()
    # Two intervals, and time for a loaded machine to run the pane.
    p.wait_for(lambda s: "123,457" in s and "Calls 3" in s, timeout=2 * 0.5 + 5)
    assert time.monotonic() - appended < 2 * 0.5 + 5
    p.keys("q")


@needs_tmux
def test_tab_reaches_every_view_and_each_shows_its_data(env, pane):
    calls_just_now(env)
    p = pane()
    p.start(live_command(env, "-t", "1000000", "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    expected = [("Sessions of today", r"^s1 +proj +opus-4-1, sonnet-4-5 +2 +330,000 +\$4\.95"),
                ("Models this month", r"^sonnet-4-5 +Sonnet +\$3\.30"),
                ("Daily cost, the last 30 days; peak", r"\$4\.95  peak   33%"),
                ("Keys", r"^q, Ctrl-C +quit"),
                ("5-hour window", r"Cost \$4\.95")]
    for title, data in expected:
        p.keys("Tab")
        p.wait_for(lambda s: title in s and re.search(data, s, re.M))
    p.keys("BTab")
    p.wait_for(lambda s: "Keys" in s and "Recent calls" not in s)
    p.keys("q")


@needs_tmux
def test_resizing_to_60x15_and_20x5_keeps_it_alive(env, pane):
    calls_just_now(env)
    p = pane()
    pid = p.start(live_command(env, "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    p.tmux("resize-window", "-t", "t", "-x", "60", "-y", "15")
    screen = p.wait_for(lambda s: "Recent calls" not in s and "This month" in s)
    assert max(len(line) for line in screen.split("\n")) <= 60
    p.tmux("resize-window", "-t", "t", "-x", "20", "-y", "5")
    p.wait_for(lambda s: "too small (20x5)" in s)
    assert alive(pid)
    p.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
    p.wait_for(lambda s: "Recent calls" in s)
    p.keys("q")
    p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert p.last_status() == 0


@needs_tmux
@pytest.mark.parametrize("how, status", [("q", 0), ("C-c", 0), ("TERM", 143), ("HUP", 129)])
def test_every_way_out_restores_the_terminal(env, pane, how, status):
    calls_just_now(env)
    p = pane()
    pid = p.start(live_command(env, "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    if how in ("TERM", "HUP"):
        os.kill(pid, getattr(__import__("signal"), "SIG" + how))
    else:
        p.keys(how)
    screen = p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert "Recent calls" not in screen          # the shell's screen is back
    assert p.last_status() == status
    p.type("stty -a | tr ' ' '\\n' | grep -x -e echo -e icanon -e -echo -e -icanon | sort | tr '\\n' ,; echo")
    p.wait_for(lambda s: "echo,icanon," in s)


@needs_tmux
def test_term_dumb_is_refused_in_one_line(env, pane):
    p = pane()
    p.type("TERM=dumb " + live_command(env))
    screen = p.wait_for(lambda s: "use --once" in s.replace("\n", ""))
    assert re.search(r"ccusage: error: live needs a terminal that can move the cursor \(TERM='dumb'\); "
                     r"use --once", screen.replace("\n", ""))
    assert p.last_status() == 2


@needs_tmux
def test_no_color_paints_without_colours(env, pane):
    calls_just_now(env)
    p = pane()
    sgr_colour = re.compile(r"\x1b\[[0-9;]*(3[0-7]|38;5;\d+)[;m]")
    p.start(live_command(env, "-t", "1000000", "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s and sgr_colour.search(s), escapes=True)
    p.keys("q")
    p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    p.type("clear")
    p.start(live_command(env, "-t", "1000000", "--interval", "0.5"), env="NO_COLOR=1")
    screen = p.wait_for(lambda s: "Recent calls" in s and "Cost $4.95" in s, escapes=True)
    assert not sgr_colour.search(screen)
    p.keys("q")


@needs_tmux
def test_a_store_locked_by_another_process_neither_freezes_nor_ends_the_view(env, pane):
    calls_just_now(env)
    p = pane()
    p.start(live_command(env, "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    writer = sqlite3.connect(env.db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        write_lines(env.log("s1"), [call(now_minus(0), output=123_457)])
        p.wait_for(lambda s: "the store is busy" in s)
        p.keys("Tab")
        p.wait_for(lambda s: "Sessions of today" in s)        # keys still work
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    p.keys("BTab")
    p.wait_for(lambda s: "123,457" in s)
    p.keys("q")
    p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert p.last_status() == 0


# Runs the working copy's live view with its second load failing, as a bug would.
FAILING_LOAD = """
import sys
import ccusage
loads = []
load = ccusage.LiveData.load.__func__

def failing(cls, *args):
    loads.append(1)
    if len(loads) > 1:
        raise ValueError("a bug")
    return load(cls, *args)

ccusage.LiveData.load = classmethod(failing)
sys.exit(ccusage.main(sys.argv[1:]))
"""


@needs_tmux
def test_an_error_is_printed_after_the_terminal_is_restored(env, pane, tmp_path):
    calls_just_now(env)
    script = tmp_path / "failing.py"
    script.write_text(FAILING_LOAD)
    command = [sys.executable, str(script)] + env.command("live", "--interval", "0.5")[1:]
    p = pane()
    p.start(f"env PYTHONPATH={shlex.quote(str(PROJECT_DIR))} " + " ".join(shlex.quote(c) for c in command))
    p.wait_for(lambda s: "Recent calls" in s)
    p.keys("r")
    screen = p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert "Recent calls" not in screen
    assert "ccusage: error: the live view stopped: ValueError: a bug" in screen.replace("\n", "")
    assert p.last_status() == 1
    p.type("stty -a | tr ' ' '\\n' | grep -x -e echo -e icanon -e -echo -e -icanon | sort | tr '\\n' ,; echo")
    p.wait_for(lambda s: "echo,icanon," in s)


@needs_tmux
def test_keys_p_and_e_change_the_plan_and_write_a_snapshot(env, pane, tmp_path):
    calls_just_now(env)
    p = pane()
    p.type(f"cd {shlex.quote(str(tmp_path))}")
    p.start(live_command(env, "--interval", "0.5"))
    p.wait_for(lambda s: "Recent calls" in s)
    p.keys("p")
    # 330,000 of Pro's 10 million
    p.wait_for(lambda s: "plan Pro" in s and re.search(r"\] +3%  of 10\.0M tokens", s))
    p.keys("e")
    screen = p.wait_for(lambda s: ".json" in s)
    written = list(tmp_path.glob("ccusage-live-*.json"))
    assert len(written) == 1 and f"wrote {tmp_path / written[0].name}" in screen.replace("\n", "")
    with open(written[0], encoding="utf-8") as f:
        assert json.load(f)["plan"] == "Pro"
    p.keys("q")


@needs_tmux
def test_a_terminal_without_colours_gets_the_view_all_the_same(env, pane):
    calls_just_now(env)
    p = pane()
    p.start(live_command(env, "--interval", "0.5"), env="TERM=vt100")
    screen = p.wait_for(lambda s: "Recent calls" in s and "Cost $4.95" in s, escapes=True)
    assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|38;5;\d+)[;m]", screen)
    p.keys("q")
    p.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
    assert p.last_status() == 0


def test_live_help_lists_its_options(env):
    result = env.run_raw("live", "--help")
    assert result.code == 0
    for option in ("--interval", "--once", "--view", "--plan", "--token-limit"):
        assert option in result.out
    assert "-j, --json" not in result.out and "--no-wait" not in result.out
