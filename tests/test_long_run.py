"""One process syncing and asking for hours, and callers that must not wait on a busy store."""

import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import ccusage
from logsynth import assistant_line, session_path, write_lines

START = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5-20251001"]


class Tally:
    """What the test wrote: every call's tokens, the answer a correct store gives."""

    def __init__(self):
        self.calls = {}

    def line(self, round_number, model, **tokens):
        ts = START + timedelta(minutes=2 * round_number)
        line = assistant_line(ts=ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"), model=model, **tokens)
        self.calls[line["message"]["id"]] = (ts, tokens)
        return line

    def totals(self):
        sums = [0, 0, 0, 0]
        for _, tokens in self.calls.values():
            for i, kind in enumerate(("input", "output", "cache_5m", "cache_read")):
                sums[i] += tokens.get(kind, 0)
        return tuple(sums)


def query_totals(store, roots):
    """(input, output, cache write, cache read) over every day, and the windows' token sum, as a live loop asks."""
    root_ids = list(store.root_ids(roots).values())
    query = ccusage.UsageQuery(store, root_ids, ccusage.PriceBook(), timezone.utc, "auto")
    total = ccusage.Usage()
    for row in ccusage.period_report(query, "daily", ccusage.Filters(), 6, False):
        total.add(row.total)
    windows = ccusage.load_windows(query, 5 * ccusage.HOUR_MS)
    return (total.input, total.output, total.cache_write, total.cache_read), sum(w.tokens for w in windows)


def fresh_totals(env, roots, tmp_path, number):
    """The same totals from a new store that reads the same logs now."""
    result = env.run_raw("daily", "--json", "-z", "UTC", "--db", tmp_path / f"fresh-{number}.db",
                         *[arg for root in roots for arg in ("--data-dir", root)])
    totals = result.json()["totals"]
    return (totals["inputTokens"], totals["outputTokens"], totals["cacheCreationTokens"], totals["cacheReadTokens"])


def test_a_thousand_rounds_of_sync_and_query_stay_exact(env, tmp_path):
    root = str(env.claude)
    tally = Tally()
    a = session_path(root, "sess-a")
    b = session_path(root, "sess-b", cwd="/home/u/other")
    c = session_path(root, "sess-c")
    d = session_path(root, "sess-d")
    write_lines(c, [tally.line(0, MODELS[0], input=5, output=50, cache_read=100)])
    write_lines(d, [tally.line(0, MODELS[0], input=7, output=70)])
    env.db.parent.mkdir(parents=True, exist_ok=True)
    store = ccusage.Store(str(env.db), ccusage.Messages())
    try:
        for number in range(1, 1001):
            model = MODELS[min(number // 400, 2)]   # a model the store has never seen, twice
            write_lines(a, [tally.line(number, model, input=number % 7, output=number, cache_read=1000 + number)])
            if number % 3 == 0:
                write_lines(b, [tally.line(number, MODELS[0], input=1, output=3, cache_5m=40)])
            if number == 300:
                # Replaced: rewritten elsewhere with more lines, then renamed over the old file.
                with open(c, "rb") as f:
                    old = f.read()
                write_lines(c + ".new", [old.rstrip(b"\n"), tally.line(number, MODELS[1], input=9, output=90)])
                os.replace(c + ".new", c)
            if number == 600:
                os.replace(d, session_path(root, "sess-d-moved"))   # gone from where it was read
            if number == 850:
                # Another process sets the store aside and builds a new one from the logs.
                os.replace(env.db, str(env.db) + ".old")
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(str(env.db) + suffix):
                        os.remove(str(env.db) + suffix)
                assert env.run("daily", "--json").code == 0
            report = ccusage.ScanReport()
            store.sync([root], report)
            assert not report.busy and report.complete
            tokens, window_tokens = query_totals(store, [root])
            assert tokens == tally.totals(), number
            assert window_tokens == sum(tally.totals()), number
            if number % 100 == 0:
                assert fresh_totals(env, [root], tmp_path, number) == tokens, number
    finally:
        store.close()


def test_a_caller_that_must_not_wait_answers_from_the_stores_last_state(env):
    path = session_path(str(env.claude), "s1")
    write_lines(path, [assistant_line(output=10, input=1)])
    first = env.run("daily", "--json", "-z", "UTC").json()["totals"]
    write_lines(path, [assistant_line(output=20, input=2)])
    # Another process holds the write lock while a no-wait status and report answer.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"conn = sqlite3.connect({str(env.db)!r}, isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        busy = env.run("daily", "--json", "-z", "UTC", "--no-wait")
        elapsed = time.monotonic() - started
        assert busy.code == 0, busy
        assert busy.json()["totals"] == first      # the last state: the new line is not in yet
        assert "busy" in busy.err
        assert elapsed < 0.5, elapsed          # it did not wait out the lock (generously bounded)
        status = env.run("status", "--json", "--no-wait")
        assert status.code == 0, status
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    later = env.run("daily", "--json", "-z", "UTC").json()["totals"]
    assert later["outputTokens"] == first["outputTokens"] + 20


def test_a_caller_that_must_not_wait_skips_logs_another_process_is_reading(env):
    path = session_path(str(env.claude), "s1")
    write_lines(path, [assistant_line(output=10, input=1)])
    env.run("daily", "--json")
    write_lines(path, [assistant_line(output=20, input=2)])
    with sqlite3.connect(env.db, isolation_level=None) as conn:
        conn.execute("INSERT INTO ingest_claim VALUES ('another:1:x', ?, 0, '')", (int(time.time() * 1000),))
    busy = env.run("daily", "--json", "--no-wait")
    assert busy.code == 0 and busy.json()["totals"]["outputTokens"] == 10
    with sqlite3.connect(env.db, isolation_level=None) as conn:
        # A claim whose heartbeat stopped is a dead process's: the next reader takes over.
        conn.execute("UPDATE ingest_claim SET heartbeat = heartbeat - ?", (ccusage.CLAIM_STALE_MS + 1000,))
    assert env.run("daily", "--json", "--no-wait").json()["totals"]["outputTokens"] == 30


def test_a_bulk_reader_that_died_is_taken_over_and_its_rollups_rebuilt(env):
    path = session_path(str(env.claude), "s1")
    write_lines(path, [assistant_line(output=10, input=1)])
    env.run("daily", "--json")
    write_lines(path, [assistant_line(output=20, input=2)])
    # A process claims a bulk read (dropping the rollup triggers and the index) and dies at once.
    subprocess.run([sys.executable, "-c", (
        "import os, sys\n"
        f"sys.path.insert(0, {os.path.dirname(ccusage.__file__)!r})\n"
        "import ccusage\n"
        f"store = ccusage.Store({str(env.db)!r}, ccusage.Messages())\n"
        "store._claim(True, True)\n"
        "os._exit(0)\n")], check=True, timeout=30)
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("SELECT bulk FROM ingest_claim").fetchone() == (1,)
        assert not conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    started = time.monotonic()
    report = env.run("daily", "--json", "-z", "UTC")
    assert time.monotonic() - started < ccusage.CLAIM_STALE_MS / 1000   # a dead process's claim is not waited out
    assert report.json()["totals"]["outputTokens"] == 30
    assert env.run("weekly", "--json", "-z", "UTC").json()["totals"]["outputTokens"] == 30
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("SELECT count(*) FROM ingest_claim").fetchone() == (0,)
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"calls_added", "calls_changed", "calls_removed", "calls_by_time"} <= names
