"""The store: incremental reading, files that change under it, history, corruption, sharing, privacy."""

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

import ccusage
import logsynth
from logsynth import assistant_line, write_lines
from support import daily_by_model, tokens_of, truth_daily_by_model, truth_tokens

REPORT = ("daily", "--json", "-z", "UTC")
SONNET = "claude-sonnet-4-5-20250929"   # the model of assistant_line()


def outputs(env, *args, **kwargs):
    return env.run(*REPORT, *args, **kwargs).json()["totals"]["outputTokens"]


def bytes_read(result):
    """(bytes, files read, files found) from --verbose."""
    match = re.search(r"read ([\d,]+) bytes from ([\d,]+) of ([\d,]+) log files", result.err)
    assert match, result.err
    return tuple(int(n.replace(",", "")) for n in match.groups())


def call(output, text="ok", **fields):
    """A one-line response whose output_tokens identifies it in the totals."""
    line = assistant_line(output=output, **fields)
    line["message"]["content"][0]["text"] = text
    return line


def test_a_second_run_reads_no_log_bytes(env, synth):
    tree = synth(1)
    first = env.run(*REPORT, "--verbose")
    assert bytes_read(first)[0] == tree.truth.bytes
    second = env.run(*REPORT, "--verbose")
    assert bytes_read(second) == (0, 0, tree.truth.files)
    assert second.json() == first.json()
    assert daily_by_model(second.json()) == truth_daily_by_model(tree.truth)


def test_appended_lines_count_once(env, synth):
    tree = synth(2)
    env.run(*REPORT)
    path = env.log("appended")
    # A response whose placeholder line is read now and whose final line comes in the next run.
    write_lines(path, [call(3, msg_id="msg_grow", request_id="req_grow", input=5,
                            ts="2026-11-20T23:59:59.000Z", session="appended")])
    env.run(*REPORT)
    write_lines(path, [call(400, msg_id="msg_grow", request_id="req_grow", input=5,
                            ts="2026-11-21T00:00:01.000Z", session="appended"),
                       call(50, input=1, ts="2026-11-21T10:00:00.000Z", session="appended")])
    env.run(*REPORT)
    report = env.run(*REPORT, "--verbose")
    assert bytes_read(report)[0] == 0
    expected = truth_daily_by_model(tree.truth)
    for key, add in ((("2026-11-20", SONNET), (5, 400, 0, 0)), (("2026-11-21", SONNET), (1, 50, 0, 0))):
        expected[key] = tuple(a + b for a, b in zip(expected.get(key, (0, 0, 0, 0)), add))
    assert daily_by_model(report.json()) == expected


def test_the_torn_last_line_counts_once_it_is_complete(env, synth):
    tree = synth(3)
    before = env.run(*REPORT).json()
    assert tokens_of(before["totals"]) == truth_tokens(tree.truth.total)
    tree.finish_torn_line()
    env.run(*REPORT)
    after = env.run(*REPORT).json()
    assert daily_by_model(after) == truth_daily_by_model(tree.truth)


def test_a_torn_line_cut_inside_a_character_counts_once(env):
    raw = logsynth.dumps(call(77, text="naïve café ✓")).encode() + b"\n"
    cut = raw.index("✓".encode()) + 1   # between the bytes of one character
    path = write_lines(env.log(), [call(1), raw[:cut]], newline=False)
    assert outputs(env) == 1
    with open(path, "ab") as f:
        f.write(raw[cut:])
    assert outputs(env) == 78
    assert outputs(env) == 78


def test_a_truncated_file_is_read_again_without_counting_twice(env):
    path = write_lines(env.log(), [call(1), call(10), call(100)])
    assert outputs(env) == 111
    with open(path, "r+b") as f:   # the same file, cut back to its first line
        f.truncate(len(Path(path).read_bytes().split(b"\n")[0]) + 1)
    assert outputs(env) == 111     # the calls read before stay: they happened
    write_lines(path, [call(1000)])
    assert outputs(env) == 1111


def test_a_file_cut_back_and_grown_past_its_old_size_between_runs(env):
    # The first 4 kB (the part a store may fingerprint) stay the same; what follows is rewritten.
    long_first = call(1, text="x" * 6000)
    path = write_lines(env.log(), [long_first, call(10), call(20)])
    assert outputs(env) == 31
    with open(path, "r+b") as f:
        f.truncate(len(logsynth.dumps(long_first).encode()) + 1)
    write_lines(path, [call(100, text="y" * 900), call(200, text="z" * 900)])
    assert outputs(env) == 331


def test_a_replaced_file_is_read_again_without_counting_twice(env):
    path = write_lines(env.log(), [call(1), call(10)])
    assert outputs(env) == 11
    old_lines = Path(path).read_bytes()
    # Rewritten as a new file (new inode) holding the same calls and one more.
    replacement = Path(path + ".tmp")
    replacement.write_bytes(old_lines)
    write_lines(str(replacement), [call(100)])
    os.replace(replacement, path)
    assert outputs(env) == 111
    # Replaced by a different transcript altogether: the calls read before stay.
    replacement.write_bytes(b"")
    write_lines(str(replacement), [call(1000)])
    os.replace(replacement, path)
    assert outputs(env) == 1111
    assert outputs(env) == 1111


def test_a_moved_transcript_counts_once(env):
    path = write_lines(env.log("moved"), [call(1), call(10)])
    assert outputs(env) == 11
    target = Path(env.log("moved", cwd="/home/u/renamed-project"))
    target.parent.mkdir(parents=True)
    os.rename(path, target)
    assert outputs(env) == 11


def test_deleting_every_log_keeps_the_history(env, synth):
    tree = synth(4)
    before = env.run(*REPORT).json()
    sessions = env.run("session", "--json").json()
    for path in Path(env.claude).rglob("*.jsonl"):
        path.unlink()
    assert env.run(*REPORT).json() == before
    shutil.rmtree(env.claude / "projects")
    assert env.run(*REPORT).json() == before
    assert env.run("session", "--json").json() == sessions
    assert daily_by_model(before) == truth_daily_by_model(tree.truth)


def test_a_deleted_default_root_keeps_the_history(env):
    root = env.home / ".claude"
    write_lines(logsynth.session_path(str(root), "s1"), [call(42)])
    argv = REPORT + ("--db", str(env.db))
    assert env.run_raw(*argv).json()["totals"]["outputTokens"] == 42
    shutil.rmtree(root)
    result = env.run_raw(*argv)
    assert result.json()["totals"]["outputTokens"] == 42


def test_a_store_of_garbage_is_moved_aside_and_rebuilt(env, synth):
    tree = synth(5)
    env.run(*REPORT)
    for leftover in Path(env.db).parent.glob("usage.db-*"):
        leftover.unlink()
    Path(env.db).write_bytes(b"\x00garbage, not SQLite\xff" * 500)
    result = env.run(*REPORT)
    assert result.code == 0 and "Traceback" not in result.err
    # One warning line names the store (other warnings, such as unpriced models, may follow).
    assert len([line for line in result.err.splitlines() if str(env.db) in line]) == 1, result.err
    assert daily_by_model(result.json()) == truth_daily_by_model(tree.truth)
    aside = [p for p in Path(env.db).parent.iterdir() if p.name.startswith("usage.db") and p.name != "usage.db"
             and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"\x00garbage")


def test_a_store_cut_in_half_is_moved_aside_and_rebuilt(env, synth):
    tree = synth(6)
    env.run(*REPORT)
    size = os.path.getsize(env.db)
    assert size > 16 * 4096   # many pages: cutting it loses tables' pages, not the header
    with open(env.db, "r+b") as f:
        f.truncate(size // 2)
    result = env.run(*REPORT)
    assert result.code == 0 and "Traceback" not in result.err
    assert daily_by_model(result.json()) == truth_daily_by_model(tree.truth)


def test_four_first_runs_at_once_agree(env, synth):
    tree = synth(7)
    procs = [subprocess.Popen(env.command(*REPORT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [proc.communicate(timeout=120) + (proc.returncode,) for proc in procs]
    assert [code for _, _, code in results] == [0, 0, 0, 0], [err for _, err, _ in results]
    assert len({out for out, _, _ in results}) == 1
    assert all("Traceback" not in err for _, err, _ in results)
    assert daily_by_model(json.loads(results[0][0])) == truth_daily_by_model(tree.truth)


def test_the_store_is_readable_by_its_owner_only(env, monkeypatch):
    write_lines(env.log(), [call(1)])
    settle_every_directory(monkeypatch, env.claude)   # so that the walk's listings are kept beside it
    old = os.umask(0o022)
    try:
        env.run(*REPORT)
    finally:
        os.umask(old)
    assert Path(f"{env.db}.walk").exists()
    for path in Path(env.db).parent.iterdir():
        if path.name.startswith("usage.db"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(Path(env.db).parent.stat().st_mode) == 0o700


def test_the_default_store_is_under_xdg_data_home(env):
    write_lines(logsynth.session_path(str(env.home / ".claude"), "s1"), [call(5)])
    assert env.run_raw(*REPORT).json()["totals"]["outputTokens"] == 5
    assert (env.data_home / "ccusage" / "usage.db").is_file()


@pytest.mark.parametrize("make_unusable", ["directory", "under a file"])
def test_a_store_that_cannot_be_opened_is_a_runtime_failure(env, make_unusable):
    write_lines(env.log(), [call(1)])
    if make_unusable == "directory":
        env.db.mkdir(parents=True)
        db = env.db
    else:
        env.db.write_text("a file where a directory should be")
        db = env.db / "usage.db"
    result = env.run_raw(*REPORT, "--db", db, "--data-dir", env.claude)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err


def test_a_file_that_is_not_a_store_is_left_alone(env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = env.run_raw("daily", "--data-dir", env.claude, "--db", notes)
    assert result.code == 1 and result.err.count("\n") == 1 and "not a ccusage store" in result.err
    assert notes.read_text() == "my notes\n" and list(tmp_path.glob("notes.txt*")) == [notes]


def test_a_store_locked_too_long_is_one_line(env, monkeypatch):
    write_lines(env.log(), [call(10)])
    assert env.run("daily", "--json").code == 0
    write_lines(env.log(), [call(20)])
    monkeypatch.setattr(ccusage, "BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = env.run_raw("daily", "--json", "--data-dir", env.claude, "--db", env.db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1 and result.err.count("\n") == 1 and "locked" in result.err, result


def cached_queries(env, answers=False):
    """How many queries' rows (answers=True: reports' whole outputs) the cache holds for the store as it is."""
    with sqlite3.connect(env.db) as conn:
        generation = conn.execute("SELECT value FROM generation").fetchone()[0]
        return conn.execute("SELECT count(*) FROM report_cache WHERE generation = ? AND (query LIKE 'answer %') = ?",
                            (generation, answers)).fetchone()[0]


def trace_statements(monkeypatch):
    """The SQL the store runs from now on, in a list that grows."""
    statements = []
    connect = ccusage.Store._connect

    def tracing(self):
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(ccusage.Store, "_connect", tracing)
    return statements


def summing(statements):
    """The statements that sum calls or rollups for a report."""
    return [s for s in statements if s.startswith("SELECT") and "GROUP BY" in s and "report_cache" not in s]


def test_a_report_asked_again_comes_from_the_cache_and_a_change_is_seen(env, synth, monkeypatch):
    tree = synth(3)
    first = env.run(*REPORT).json()
    assert cached_queries(env) == 1
    statements = trace_statements(monkeypatch)
    again = env.run(*REPORT).json()
    assert again == first and daily_by_model(again) == truth_daily_by_model(tree.truth)
    assert not summing(statements)
    write_lines(env.log("late"), [call(123_456, ts="2026-11-21T10:00:00.000Z")])
    statements.clear()
    after = env.run(*REPORT).json()
    assert after["totals"]["outputTokens"] == first["totals"]["outputTokens"] + 123_456
    assert summing(statements)
    assert cached_queries(env) == 1


def test_a_report_does_not_wait_to_cache_while_another_process_writes(env, monkeypatch):
    write_lines(env.log(), [call(10, ts="2026-11-20T23:30:00.000Z")])
    assert env.run(*REPORT).code == 0
    monkeypatch.setattr(ccusage, "BUSY_TIMEOUT_MS", 60_000)
    holder = sqlite3.connect(env.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Another zone: a query not yet cached, asked while the store is being written.
        result = env.run("daily", "--json", "-z", "Europe/Berlin")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 0 and result.json()["daily"][0]["date"] == "2026-11-21"
    assert cached_queries(env) == 1


def test_a_store_of_the_first_schema_is_upgraded(env, synth):
    env.db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(env.db, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for statement in ccusage._statements(ccusage.SCHEMA[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")
    tree = synth(4)
    assert daily_by_model(env.run(*REPORT).json()) == truth_daily_by_model(tree.truth)
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(ccusage.SCHEMA)
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "rollup_paused" not in names and {"calls_added", "calls_changed", "report_cache"} <= names


def test_a_run_over_logs_found_as_before_looks_up_no_file(env, synth, monkeypatch):
    synth(5)
    env.run(*REPORT)
    statements = trace_statements(monkeypatch)
    env.run(*REPORT)
    assert not [s for s in statements if "FROM files" in s]
    write_lines(env.log("late"), [call(7, ts="2026-11-21T10:00:00.000Z")])
    assert outputs(env) > 0 and [s for s in statements if "FROM files" in s]


def test_a_renamed_project_directory_is_seen(env):
    """Lines without a cwd belong to their directory's project: a rename alone must be noticed."""
    line = call(10)
    del line["cwd"]
    path = Path(write_lines(env.log("moved", cwd="/home/u/before"), [line]))
    assert list(env.run(*REPORT, "--by-project").json()["projects"]) == ["-home-u-before"]
    path.parent.rename(path.parent.with_name("-home-u-after"))
    assert list(env.run(*REPORT, "--by-project").json()["projects"]) == ["-home-u-after"]


def test_paths_that_are_not_utf8_are_kept_as_the_bytes_they_are(env, tmp_path):
    """Paths are bytes on POSIX: a data dir and a log whose names are not UTF-8 are read, once, and shown escaped."""
    root = os.fsdecode(bytes(tmp_path) + b"/claude-\xff")
    path = os.path.join(root, "projects", "p", os.fsdecode(b"\xfe.jsonl"))
    write_lines(path, [assistant_line(input=1, output=2), "{broken"])
    first = env.run("daily", "--json", "--verbose", data_dirs=[root])
    assert first.code == 0 and first.json()["totals"]["outputTokens"] == 2, first
    assert "\\xfe.jsonl" in first.err and "\udcfe" not in first.err
    again = env.run("daily", "--json", "--verbose", data_dirs=[root])
    assert again.json()["totals"]["outputTokens"] == 2
    assert "read 0 bytes from 0 of 1 log files" in again.err
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("SELECT path FROM files").fetchone()[0] == os.fsencode(path)


def as_a_user_who_obeys_file_modes(monkeypatch, paths):
    """Make os.access answer for paths from their owner write bit, as it does for a user who is not root."""
    real_access = os.access
    watched = {str(p) for p in paths}

    def access(path, mode, **options):
        if mode & os.W_OK and str(path) in watched and os.path.exists(path):
            return bool(os.stat(path).st_mode & stat.S_IWUSR) and real_access(path, mode & ~os.W_OK, **options)
        return real_access(path, mode, **options)
    monkeypatch.setattr(os, "access", access)


def test_a_read_only_store_answers_from_what_it_holds_and_recovers(env, monkeypatch):
    path = env.log()
    write_lines(path, [assistant_line(input=1, output=10)])
    assert env.run("daily", "--json").json()["totals"]["outputTokens"] == 10
    db = str(env.db)
    as_a_user_who_obeys_file_modes(monkeypatch, [db, db + "-wal", db + "-shm"])
    for name in (db, db + "-wal", db + "-shm"):
        # As SQLite leaves its companions after a read-only store was used.
        with open(name, "ab"):
            pass
        os.chmod(name, 0o444)
    write_lines(path, [assistant_line(input=2, output=20)])
    read_only = env.run("daily", "--json")
    assert read_only.code == 0, read_only
    assert read_only.json()["totals"]["outputTokens"] == 10
    assert "read-only" in read_only.err and db in read_only.err and "chmod u+w" in read_only.err
    assert read_only.err.count("\n") == 1
    os.chmod(db, 0o600)   # the store made writable again, its companions not
    again = env.run("daily", "--json")
    assert again.code == 0, again
    assert again.json()["totals"]["outputTokens"] == 30
    assert all(os.stat(db + suffix).st_mode & stat.S_IWUSR for suffix in ("-wal", "-shm") if os.path.exists(db + suffix))


def test_a_dangling_link_at_the_store_path_is_refused(env):
    env.db.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(env.tmp / "nowhere" / "x.db", env.db)
    result = env.run("daily", "--json")
    assert result.code == 1 and "link to nothing" in result.err
    assert not (env.tmp / "nowhere").exists()


def test_another_programs_database_is_never_written(env):
    other = env.tmp / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    env.db.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(other, env.db)
    result = env.run("daily", "--json")
    assert result.code == 1 and "another program" in result.err
    assert other.read_bytes() == before


def test_a_huge_sparse_file_is_passed_over_once_with_a_note(env):
    path = env.log()
    write_lines(path, [assistant_line(input=1, output=10)])
    sparse = env.log("sparse")
    with open(sparse, "wb") as f:
        f.truncate(20 * 2 ** 30)   # 20 GB of holes: no disk, and no transcript
    first = env.run("daily", "--json", "--verbose")
    assert first.code == 0 and first.json()["totals"]["outputTokens"] == 10, first
    assert "passed over" in first.err and "sparse.jsonl" in first.err
    again = env.run("daily", "--json")
    assert again.code == 0 and "passed over" not in again.err


def settle_every_directory(monkeypatch, root):
    """Let a walk keep the listings of root's directories, and give each an old modification time.

    A directory is kept only once its times are LISTING_SETTLE_NS old: here
    every one counts as settled, and an entry added later sets its
    modification time to now, unlike the one given here.
    """
    monkeypatch.setattr(ccusage, "LISTING_SETTLE_NS", -3600 * 10 ** 9)
    for top, _, _ in os.walk(root):
        os.utime(top, ns=(10 ** 18, 10 ** 18))


def count_listings(monkeypatch, below):
    """The directories below `below` that os.scandir lists from now on, in a list that grows."""
    listed = []
    scandir = os.scandir

    def counting(path="."):
        if os.fspath(path).startswith(str(below)):
            listed.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    return listed


def test_a_walk_lists_again_only_the_directories_that_changed_and_sees_every_change(env, monkeypatch):
    old, other = env.log("old"), env.log("other", cwd="/home/u/other")
    write_lines(old, [call(1, session="old")])
    write_lines(other, [call(2, session="other", cwd="/home/u/other")])
    write_lines(env.log("old", agent="a1"), [call(4, session="old")])
    settle_every_directory(monkeypatch, env.claude)
    assert outputs(env) == 7
    assert os.path.exists(f"{env.db}.walk")
    listed = count_listings(monkeypatch, env.claude)
    assert outputs(env) == 7 and listed == []
    # A line appended to an old log, in a directory as it was: its own stat shows it.
    write_lines(old, [call(8, session="old")])
    assert outputs(env) == 15 and listed == []
    # A new log in an old directory, and a new session with a subagent in another.
    write_lines(env.log("new"), [call(16, session="new")])
    assert outputs(env) == 31 and listed == [os.path.dirname(old)]
    listed.clear()
    write_lines(env.log("fresh", cwd="/home/u/other", agent="b1"), [call(32, session="fresh", cwd="/home/u/other")])
    assert outputs(env) == 63
    fresh_session = os.path.join(os.path.dirname(other), "fresh")
    assert sorted(listed) == [os.path.dirname(other), fresh_session, os.path.join(fresh_session, "subagents")]
    # A log replaced by another file, and one cut back and written again, are read again (the
    # calls they held stay in the store's history).
    settle_every_directory(monkeypatch, env.claude)
    assert outputs(env) == 63
    replacement = f"{other}.tmp"
    write_lines(replacement, [call(64, session="other")])
    os.replace(replacement, other)
    with open(old, "w", encoding="utf-8"):
        pass
    write_lines(old, [call(128, session="old")])
    result = env.run(*REPORT, "--verbose")
    assert result.json()["totals"]["outputTokens"] == 255 and bytes_read(result)[1] == 2


def test_a_directory_changed_just_before_a_walk_is_listed_again_by_the_next(env, monkeypatch):
    write_lines(env.log("s1"), [call(1, session="s1")])
    assert outputs(env) == 1
    # Every directory was changed a moment ago: an entry could still come within the same tick.
    assert ccusage.Listings(f"{env.db}.walk").kept == {}
    listed = count_listings(monkeypatch, env.claude)
    assert outputs(env) == 1 and os.path.dirname(env.log("s1")) in listed


def test_a_listings_file_that_is_wrong_or_not_one_changes_nothing(env, monkeypatch):
    project = os.path.dirname(env.log("s1"))
    write_lines(env.log("s1"), [call(1, session="s1")])
    write_lines(env.log("s2"), [call(2, session="s2")])
    settle_every_directory(monkeypatch, env.claude)
    listings = f"{env.db}.walk"
    with open(listings, "wb") as f:
        f.write(b"\xff\x00garbage")
    assert outputs(env) == 3
    # A listing of the project as it is that names a log no longer there: the project is listed again.
    kept = ccusage.Listings(listings).kept
    identity, subdirectories, links, logs = kept[project]
    kept[project] = (identity, subdirectories, links, "gone.jsonl/s1.jsonl")
    with open(listings, "w", encoding="utf-8") as f:
        f.write("\0".join([ccusage.LISTINGS_HEADER]
                          + [field for d, listing in kept.items() for field in (d,) + listing]))
    listed = count_listings(monkeypatch, env.claude)
    assert outputs(env) == 3 and listed == [project]


def test_a_walk_from_its_listings_finds_what_a_walk_of_the_directories_finds(env, monkeypatch):
    write_lines(env.log("s1"), [call(1, session="s1")])
    write_lines(env.log("s1", agent="a1"), [call(2, session="s1")])
    projects = env.claude / "projects"
    project = Path(env.log("s1")).parent
    os.symlink(project, project / "loop")
    os.symlink(project, projects / "second-path")
    os.symlink("/nonexistent/x.jsonl", project / "gone.jsonl")
    elsewhere = env.tmp / "elsewhere"
    write_lines(str(elsewhere / "s9.jsonl"), [call(4, session="s9")])
    os.symlink(elsewhere, projects / "linked")
    settle_every_directory(monkeypatch, env.claude)
    settle_every_directory(monkeypatch, elsewhere)
    walked = ccusage.find_logs(str(env.claude), ccusage.ScanReport())
    listings = ccusage.Listings(str(env.tmp / "walk"))
    assert ccusage.find_logs(str(env.claude), ccusage.ScanReport(), listings=listings) == walked
    listings.save()
    listings = ccusage.Listings(str(env.tmp / "walk"))
    listed = count_listings(monkeypatch, env.tmp)
    assert ccusage.find_logs(str(env.claude), ccusage.ScanReport(), listings=listings) == walked
    assert listed == []
    # The link's target now holds another log: the link's listing goes by the target's times.
    write_lines(str(elsewhere / "s10.jsonl"), [call(8, session="s10")])
    listings = ccusage.Listings(str(env.tmp / "walk"))
    found = ccusage.find_logs(str(env.claude), ccusage.ScanReport(), listings=listings)
    assert found == ccusage.find_logs(str(env.claude), ccusage.ScanReport())
    assert len(found) == len(walked) + 1
    listings.save()
    # A log that is a link whose target became a directory of logs, the directory holding the link
    # unchanged: it is listed again, and the link walked as the directory it now is.
    os.remove(elsewhere / "s10.jsonl")
    os.symlink(elsewhere / "s10.jsonl", project / "s10.jsonl")
    settle_every_directory(monkeypatch, env.claude)
    listings = ccusage.Listings(str(env.tmp / "walk"))
    ccusage.find_logs(str(env.claude), ccusage.ScanReport(), listings=listings)
    listings.save()
    write_lines(str(elsewhere / "s10.jsonl" / "s11.jsonl"), [call(16, session="s11")])
    listings = ccusage.Listings(str(env.tmp / "walk"))
    listed = count_listings(monkeypatch, env.tmp)
    found = ccusage.find_logs(str(env.claude), ccusage.ScanReport(), listings=listings)
    assert str(project) in listed
    assert found == ccusage.find_logs(str(env.claude), ccusage.ScanReport())
    assert [path for path, _ in found if path.endswith("/s11.jsonl")]


def test_each_way_of_showing_a_report_is_kept_apart(env):
    write_lines(env.log("s1"), [call(10, session="s1", ts="2026-11-16T10:00:00.000Z"),
                                call(20, session="s1", ts="2026-11-17T10:00:00.000Z")])
    for _ in range(2):   # the second time from what the first kept
        daily = env.run(*REPORT).json()["daily"]
        assert [(d["date"], d["outputTokens"]) for d in daily] == [("2026-11-16", 10), ("2026-11-17", 20)]
        desc = env.run(*REPORT, "-o", "desc").json()["daily"]
        assert [d["date"] for d in desc] == ["2026-11-17", "2026-11-16"]
        weekly = env.run("weekly", "--json", "-z", "UTC").json()["weekly"]
        assert [(w["week"], w["outputTokens"]) for w in weekly] == [("2026-11-15", 30)]
        monday = env.run("weekly", "--json", "-z", "UTC", "--start-of-week", "monday").json()["weekly"]
        assert [w["week"] for w in monday] == ["2026-11-16"]
        csv = env.run("daily", "--csv", "-z", "UTC").out.splitlines()
        assert csv[0].startswith("date,model,") and [line.split(",")[0] for line in csv[1:]] == [
            "2026-11-16", "2026-11-17"]
        late = env.run(*REPORT, "-z", "America/Los_Angeles").json()["daily"]
        assert [d["date"] for d in late] == ["2026-11-16", "2026-11-17"]
        since = env.run(*REPORT, "--since", "2026-11-17").json()["totals"]["outputTokens"]
        assert since == 20


def test_a_kept_report_follows_the_price_file(env, tmp_path):
    prices = tmp_path / "prices.json"
    write_lines(env.log("s1"), [call(0, session="s1", input=1_000_000)])
    for usd in (3, 6):
        prices.write_text(json.dumps({SONNET: {"input": usd, "output": 15}}))
        for _ in range(2):
            totals = env.run(*REPORT, "-m", "calculate", "--prices", prices).json()["totals"]
            assert totals["totalCost"] == usd


def test_a_report_with_a_warning_is_not_kept_so_the_warning_is_said_each_time(env):
    write_lines(env.log("s1"), [call(5, session="s1", model="claude-unheard-of-9")])
    for _ in range(2):
        result = env.run(*REPORT)
        assert result.json()["totals"]["outputTokens"] == 5
        assert "no price for model 'claude-unheard-of-9'" in result.err


def test_among_many_logs_the_changed_ones_are_found_whatever_their_names(env):
    # Over 100 logs: their stored states are read all at once, the paths decoded together.
    for n in range(120):
        write_lines(env.log(f"s{n}"), [call(1, session=f"s{n}")])
    odd = os.path.join(os.path.dirname(env.log("s0")), os.fsdecode(b"odd-\xff\xfe.jsonl"))
    write_lines(odd, [call(1000, session="odd")])
    assert outputs(env) == 1120
    write_lines(odd, [call(20_000, session="odd")])
    write_lines(env.log("s7"), [call(300_000, session="s7")])
    result = env.run(*REPORT, "--verbose")
    assert result.json()["totals"]["outputTokens"] == 321_120
    assert bytes_read(result)[1:] == (2, 121)
    assert outputs(env) == 321_120


def test_a_walk_noted_a_moment_ago_is_not_noted_again_and_quick_commands_still_see_new_logs(env):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    write_lines(env.log("s1"), [call(1, session="s1", ts=now)])
    assert outputs(env) == 1

    def noted():
        with sqlite3.connect(env.db) as conn:
            return conn.execute("SELECT full_walk_ns FROM roots").fetchall()

    first = noted()
    assert outputs(env) == 1 and noted() == first
    # today walks quickly while the note is fresh: the logs of the last day and the directories changed since.
    write_lines(env.log("s2"), [call(10, session="s2", ts=now)])
    write_lines(env.log("s1"), [call(100, session="s1", ts=now)])
    assert env.run("today", "--json", "-z", "UTC").json()["totals"]["outputTokens"] == 111
    assert outputs(env) == 111
