"""The store's schema: each version's SQL frozen, and a store of an earlier release upgraded to the same answers."""

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from freezegun import freeze_time

import ccusage
import logsynth

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The SHA-256 of each schema version's text.  A released version never
# changes: what the store keeps differently is a new version that migrates.
SCHEMA_CHECKSUMS = {
    1: "5b2368fecd969c4910f35696fc7b68abae99e5e6584aafc5bed05e30a2e3a69a",
    2: "cdb1a07ddf1eff1895f1f80ceb5a50e37715df78cc7727dcce83a4d070fc4a35",
    3: "c2e8c744bc7a340676ab1ef2ec69daed03ce05053ef7eed22ccfb90d933bfc3a",
    4: "5a08596474cb09082e6ded7efca7b924ebcb38917d8bd5cc7b084e5956356ea6",
}

# tests/fixtures/store-schema-2.db: the store ccusage 0.1.0 (schema 2, commit
# 25edc86) wrote reading logsynth.synthesize(root, seed=3) with
# `daily --json -z UTC`, then turned into one file (journal_mode=delete, VACUUM);
# store-schema-3.db the same of ccusage 0.2.0 (schema 3, commit 9482b5a).
FIXTURE_SEED = 3
REPORTS = [
    ("daily", "--json", "-z", "UTC"),
    ("weekly", "--json", "-z", "Europe/Berlin", "--breakdown"),
    ("monthly", "--json", "-z", "UTC", "--by-project"),
    ("session", "--json"),
    ("blocks", "--json"),
    ("blocks", "--json", "-l", "2.5"),
    ("status", "--json"),
]


def test_every_schema_version_is_known_and_unchanged():
    assert len(ccusage.SCHEMA) == len(SCHEMA_CHECKSUMS)
    for version, text in enumerate(ccusage.SCHEMA, 1):
        assert hashlib.sha256(text.encode()).hexdigest() == SCHEMA_CHECKSUMS[version], (
            f"schema version {version} changed: a released version's SQL must stay as it was; "
            "add a new version that migrates instead")


def test_the_stored_call_columns_are_the_calls_tables(env):
    env.run("daily", "--json")
    with sqlite3.connect(env.db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(calls)")]
    assert tuple(columns) == ccusage.STORED_CALL_COLUMNS + ("kind",)
    assert ccusage.STORED_CALL_COLUMNS[-len(ccusage.USAGE_FIELDS):] == ccusage.CALL_FIELDS[ccusage.C_INPUT:]


def upgraded_copy(env, data_dir, version=2):
    """A copy of the schema 2 (or 3) fixture at env.db, its data directory renamed to data_dir."""
    env.db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / f"store-schema-{version}.db", env.db)
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
        if version == 2:
            conn.execute("UPDATE sources SET path = ?", (str(data_dir),))
        else:
            conn.execute("UPDATE roots SET path = ?", (bytes(data_dir),))
    return env.db


@pytest.mark.parametrize("version", [2, 3])
@freeze_time("2026-12-01 12:00:00")
def test_a_store_of_a_past_release_upgrades_and_answers_as_a_fresh_ingest(env, tmp_path, version):
    # The same logs the fixture was made from, read into a new store...
    logsynth.synthesize(env.claude, FIXTURE_SEED)
    fresh = [env.run(*report) for report in REPORTS]
    assert all(result.code == 0 for result in fresh), fresh
    assert fresh[0].json()["daily"], "the fixture's logs bill something"
    # ...and the old store upgraded, with none of its logs left to read.
    emptied = tmp_path / "logs-deleted"
    (emptied / "projects").mkdir(parents=True)
    env.db = tmp_path / "upgraded" / "usage.db"
    upgraded_copy(env, emptied, version)
    for report, expected in zip(REPORTS, fresh):
        result = env.run(*report, data_dirs=[emptied])
        assert result.code == 0, result
        assert result.json() == expected.json(), report
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(ccusage.SCHEMA)
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"roots", "windows", "window_state", "ingest_claim", "calls_removed", "requests"} <= names
    assert "sources" not in names


@pytest.mark.parametrize("version", [2, 3])
def test_an_upgraded_store_reads_its_logs_again_without_counting_twice(env, version):
    logsynth.synthesize(env.claude, FIXTURE_SEED)
    expected = env.run("daily", "--json", "-z", "UTC").json()
    env.db = env.tmp / "upgraded" / "usage.db"
    upgraded_copy(env, env.claude, version)
    assert env.run("daily", "--json", "-z", "UTC").json() == expected


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_store_of_each_earlier_schema_is_upgraded_on_open(env, version):
    env.db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(env.db, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for text in ccusage.SCHEMA[:version]:
            for statement in ccusage._statements(text):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    tree = logsynth.synthesize(env.claude, 4)
    report = env.run("daily", "--json", "-z", "UTC").json()
    assert {day["date"] for day in report["daily"]} == set(tree.truth.days)
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(ccusage.SCHEMA)
        assert conn.execute("PRAGMA application_id").fetchone()[0] == ccusage.APPLICATION_ID


@freeze_time("2026-11-21 12:00:00")
def test_the_upgrade_reads_every_log_again_for_the_limit_messages_earlier_versions_passed_over(env):
    from test_limits import limit_message
    from logsynth import assistant_line, session_path, write_lines
    path = session_path(str(env.claude), "s1")
    write_lines(path, [assistant_line(ts="2026-11-20T10:05:00.000Z", output=50),
                       limit_message("2026-11-20T10:30:00.000Z", "You've hit your limit · resets 2pm (UTC)")])
    # A store of schema 2 that read the whole log, and kept its call, but not the 2.x limit message.
    env.db.parent.mkdir(parents=True, exist_ok=True)
    st = Path(path).stat()
    with sqlite3.connect(env.db, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for text in ccusage.SCHEMA[:2]:
            for statement in ccusage._statements(text):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.execute("INSERT INTO sources (id, path) VALUES (1, ?)", (str(env.claude),))
        conn.execute("INSERT INTO files (source_id, path, dev, ino, size, mtime_ns, offset) VALUES (1, ?, ?, ?, ?, ?, ?)",
                     (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_size))
        conn.execute("COMMIT")
    blocks = env.run("blocks", "--json").json()["blocks"]
    assert [(b["startTime"], b["limitReached"], b["resetsAt"]) for b in blocks] == [
        ("2026-11-20T10:00:00.000Z", True, "2026-11-20T14:00:00.000Z")]
