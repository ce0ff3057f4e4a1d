"""Sources of other kinds: a logging proxy's log and a program's own log of its calls, read beside the
Claude Code config dirs (--log KIND:PATH, [[sources]], --source), each call counted once."""

import gzip
import json
import os

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, session_path, write_lines
from support import CONFIG_SUFFIX, first_line_is_one_error, sessions_by_id, tokens_of, write_config

about_toml = pytest.mark.skipif(CONFIG_SUFFIX != ".toml", reason="about TOML, which Python reads from 3.11 on")

# Per million tokens: $3 input, $3.75 5-minute cache writes, $0.30 cache reads, $15 output.
SONNET = "claude-sonnet-4-5-20250929"
TS = "2026-11-20T10:00:00Z"


@pytest.fixture
def senv(env):
    """The isolated env, its Claude config dir holding an (empty) projects dir, and a dir for other logs."""
    (env.claude / "projects").mkdir()
    env.logs = env.tmp / "logs"
    env.logs.mkdir()
    return env


def proxy_line(msg_id, input, output, *, ts=TS, model=SONNET, cache_read=0, cache_write=0, **extra):
    """A line of a logging proxy's log (msg_id None: a response without an id)."""
    response = {"usage": {"input_tokens": input, "output_tokens": output,
                          "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read}}
    if msg_id is not None:
        response["id"] = msg_id
    line = {"timestamp": ts, "model": model, "agent": "python-specialist", "source_file": "src/agent.js",
            "request": {"messages": [], "max_tokens": 4096}, "response": response,
            "latency_ms": 2340, "status": "success"}
    line.update(extra)
    return line


def calls_line(uuid, input, output, *, ts=TS, model=SONNET, flat=False, **extra):
    """A line of a program's own log of its calls: the usage as an object, or flat (flat=True)."""
    line = {"timestamp": ts, "model": model}
    if uuid is not None:
        line["uuid"] = uuid
    if flat:
        line.update(input_tokens=input, output_tokens=output)
    else:
        line["usage"] = {"input_tokens": input, "output_tokens": output}
    line.update(extra)
    return line


def write_log(path, lines, spaced=False, mode="w"):
    """Write JSON lines (dicts; str as they are), compact, or spaced as json.dumps spaces by default."""
    separators = (", ", ": ") if spaced else (",", ":")
    with open(path, mode, encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line, separators=separators)) + "\n")
    return path


def totals(result):
    """(input, output, cache write, cache read) of a daily --json run."""
    return tokens_of(result.json()["totals"])


def cost(result):
    return result.json()["totals"]["totalCost"]


def bytes_read(result):
    """The byte count of --verbose's 'read N bytes from ...' line."""
    line = next(line for line in result.err.splitlines() if " bytes from " in line)
    return int(line.split("read ", 1)[1].split(" bytes", 1)[0].replace(",", ""))


def notes(result):
    """The lines ccusage wrote on stderr, without their "ccusage: " prefix."""
    return [line[len("ccusage: "):] if line.startswith("ccusage: ") else line for line in result.err.splitlines()]


def daily(env, *args, **kwargs):
    return env.run("daily", "--json", "-z", "UTC", *args, **kwargs)


# ---------------------------------------------------------------------------
# The formats
# ---------------------------------------------------------------------------

def test_proxy_lines_with_and_without_ids_spaced_and_compact(senv):
    log = senv.logs / "proxy.jsonl"
    write_log(log, [proxy_line("msg_01", 1500, 450, cache_read=200),
                    proxy_line(None, 100, 10, ts="2026-11-20T11:00:00Z")])
    write_log(log, [proxy_line("msg_02", 20, 2, cache_write=1000, ts="2026-11-20T12:00:00Z"),
                    # A failed request bills nothing: no usage, only its status.
                    {"timestamp": "2026-11-20T13:00:00Z", "model": SONNET, "status": "error", "latency_ms": 40}],
              spaced=True, mode="a")
    result = daily(senv, "--log", f"proxy:{log}")
    # input 1500 + 100 + 20, output 450 + 10 + 2, cache writes 1000, cache reads 200
    assert totals(result) == (1620, 462, 1000, 200)
    # (1620 * 3 + 462 * 15 + 1000 * 3.75 + 200 * 0.30) / 1e6 = (4860 + 6930 + 3750 + 60) / 1e6
    assert cost(result) == pytest.approx(0.0156)
    assert result.json()["daily"][0]["modelsUsed"] == [SONNET]


@pytest.mark.parametrize("spaced", [False, True])
def test_calls_lines_with_a_usage_object_and_flat_counts(senv, spaced):
    log = senv.logs / "calls.jsonl"
    write_log(log, [calls_line("u-1", 1000, 100),                                   # uuid, usage object
                    calls_line(None, 2000, 200, flat=True, ts="2026-11-20T10:01:00Z"),  # no id, flat
                    calls_line(None, 30, 3, ts="2026-11-20T10:02:00Z", id="call-3"),    # id, usage object
                    calls_line(None, 4, 0, flat=True, ts="2026-11-20T10:03:00Z")],      # no id, flat
              spaced=spaced)
    result = daily(senv, "--log", f"calls:{log}")
    # input 1000 + 2000 + 30 + 4, output 100 + 200 + 3 + 0
    assert totals(result) == (3034, 303, 0, 0)
    # (3034 * 3 + 303 * 15) / 1e6 = (9102 + 4545) / 1e6
    assert cost(result) == pytest.approx(0.013647)


def test_a_line_respaced_or_reordered_is_the_same_call(senv):
    # A call without an id is known by what its line says, not by how it is spaced or its keys ordered.
    log = senv.logs / "calls.jsonl"
    line = calls_line(None, 1000, 100)
    write_log(log, [line])
    write_log(log, [line, dict(reversed(list(line.items())))], spaced=True, mode="a")
    assert totals(daily(senv, "--log", f"calls:{log}")) == (1000, 100, 0, 0)


def test_malformed_lines_are_skipped_and_counted_under_verbose(senv):
    log = senv.logs / "proxy.jsonl"
    bad = ["not json at all",
           "[1, 2, 3]",
           json.dumps({"timestamp": TS, "response": {"id": "msg_nomodel", "usage": {"input_tokens": 1}}}),
           json.dumps({"model": SONNET, "response": {"id": "msg_nots", "usage": {"input_tokens": 1}}}),
           json.dumps({"timestamp": "yesterday", "model": SONNET, "response": {"usage": {"input_tokens": 1}}}),
           json.dumps({"timestamp": TS, "model": SONNET, "response": {"id": "msg_u", "usage": "lots"}}),
           json.dumps({"timestamp": TS, "model": SONNET, "response": "oops"}),
           json.dumps({"timestamp": TS, "model": SONNET}),                      # neither usage nor status
           json.dumps(proxy_line("msg_neg", -5, 1)),
           '{"timestamp": "2026-11-20T10:00:00Z", "model": "claude-sonnet-4-5-20250929", "respo']
    write_log(log, [proxy_line("msg_good", 10, 1)] + bad + [proxy_line("msg_good2", 20, 2)])
    with open(log, "ab") as f:
        f.write(b'{"timestamp": "2026-11-20T10:00:00Z", "model": "\xff\xfe"}\n')
    result = daily(senv, "--verbose", "--log", f"proxy:{log}")
    assert totals(result) == (30, 3, 0, 0)
    # 10 bad lines above and the one of invalid UTF-8
    assert "proxy: skipped 11 malformed lines in 1 file:" in notes(result), result.err
    assert f"  11  {log}" in notes(result), result.err
    # Read again, the lines are neither counted again nor forgotten.
    again = daily(senv, "--verbose", "--log", f"proxy:{log}")
    assert totals(again) == (30, 3, 0, 0)
    assert "proxy: skipped 11 malformed lines in 1 file:" in notes(again), again.err


def test_each_log_has_its_own_bad_line_count(senv):
    proxy = write_log(senv.logs / "proxy.jsonl", [proxy_line("msg_1", 1, 1), "garbage", "more garbage"])
    calls = write_log(senv.logs / "calls.jsonl", [calls_line("u1", 2, 2), "{}"])
    result = daily(senv, "--verbose", "--log", f"proxy:{proxy}", "--log", f"calls:{calls}")
    assert totals(result) == (3, 3, 0, 0)
    # With several sources, the count is per source: calls, then proxy.
    lines = notes(result)
    assert lines[1:] == ["calls: skipped 1 malformed line in 1 file:", f"  1  {calls}",
                         "proxy: skipped 2 malformed lines in 1 file:", f"  2  {proxy}"], result.err


# ---------------------------------------------------------------------------
# Reading again, appending, rotating, compressing
# ---------------------------------------------------------------------------

def test_reading_again_and_appending_never_counts_twice(senv):
    log = senv.logs / "calls.jsonl"
    write_log(log, [calls_line("u1", 100, 10), calls_line(None, 200, 20, flat=True, ts="2026-11-20T10:01:00Z")])
    first = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(first) == (300, 30, 0, 0)
    assert bytes_read(first) == log.stat().st_size
    second = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(second) == (300, 30, 0, 0)
    assert bytes_read(second) == 0
    size = log.stat().st_size
    write_log(log, [calls_line("u3", 4000, 400, ts="2026-11-20T10:02:00Z")], mode="a")
    third = daily(senv, "--verbose", "--log", f"calls:{log}")
    # 300 + 4000 in, 30 + 400 out
    assert totals(third) == (4300, 430, 0, 0)
    assert bytes_read(third) == log.stat().st_size - size


def test_a_line_still_being_written_counts_once_it_ends(senv):
    log = senv.logs / "calls.jsonl"
    write_log(log, [calls_line(None, 100, 10)])
    half = json.dumps(calls_line(None, 7, 7, ts="2026-11-20T10:01:00Z"))
    with open(log, "a", encoding="utf-8") as f:
        f.write(half[:20])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (100, 10, 0, 0)
    with open(log, "a", encoding="utf-8") as f:
        f.write(half[20:] + "\n")
    assert totals(daily(senv, "--log", f"calls:{log}")) == (107, 17, 0, 0)
    assert totals(daily(senv, "--log", f"calls:{log}")) == (107, 17, 0, 0)


def two_calls_read(senv, with_ids):
    """(api_calls.json holding two calls, with uuids u1, u2 or none, read once; the uuid of a call's number)."""
    log = senv.logs / "api_calls.json"
    uid = (lambda n: f"u{n}") if with_ids else (lambda n: None)
    write_log(log, [calls_line(uid(1), 1000, 100), calls_line(uid(2), 2000, 200, ts="2026-11-20T10:01:00Z")])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (3000, 300, 0, 0)
    return log, uid


@pytest.mark.parametrize("with_ids", [True, False])
def test_a_rotated_log_is_read_on_from_where_it_was_and_never_again(senv, with_ids):
    log, uid = two_calls_read(senv, with_ids)
    # Rotation: the log is renamed, its writer adds a last call to it, and a new log starts.
    rotated = senv.logs / "api_calls.json.1"
    os.rename(log, rotated)
    size = rotated.stat().st_size
    write_log(rotated, [calls_line(uid(3), 30, 3, ts="2026-11-20T10:02:00Z")], mode="a")
    write_log(log, [calls_line(uid(4), 4, 4, ts="2026-11-20T10:03:00Z")])
    result = daily(senv, "--verbose", "--log", f"calls:{log}")
    # 1000 + 2000 + 30 + 4 in, 100 + 200 + 3 + 4 out
    assert totals(result) == (3034, 307, 0, 0)
    # The renamed log is read from where its old name was read to, not from its start.
    assert bytes_read(result) == (rotated.stat().st_size - size) + log.stat().st_size
    # A second rotation: .1 becomes .2, the log .1, and a new log again.
    os.rename(rotated, senv.logs / "api_calls.json.2")
    os.rename(log, rotated)
    write_log(log, [calls_line(uid(5), 5, 5, ts="2026-11-20T10:04:00Z")])
    result = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(result) == (3039, 312, 0, 0)
    assert bytes_read(result) == log.stat().st_size


def test_a_log_rotated_to_a_dated_name_is_read_on_too(senv):
    # logrotate's dateext: api_calls.json-20261130
    log = senv.logs / "api_calls.json"
    write_log(log, [calls_line("u1", 1000, 100)])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (1000, 100, 0, 0)
    dated = senv.logs / "api_calls.json-20261130"
    os.rename(log, dated)
    size = dated.stat().st_size
    write_log(dated, [calls_line("u2", 20, 2, ts="2026-11-20T10:01:00Z")], mode="a")
    log.touch()   # logrotate's create: the new log, empty
    result = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(result) == (1020, 102, 0, 0)
    assert bytes_read(result) == dated.stat().st_size - size


def test_a_copied_and_truncated_log_counts_each_call_once(senv):
    # logrotate's copytruncate: the copy is a new file holding the calls already read.
    log = senv.logs / "api_calls.json"
    write_log(log, [calls_line(None, 1000, 100), calls_line("u2", 2000, 200, ts="2026-11-20T10:01:00Z")])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (3000, 300, 0, 0)
    (senv.logs / "api_calls.json.1").write_bytes(log.read_bytes())
    write_log(log, [calls_line(None, 5, 5, ts="2026-11-20T10:05:00Z")])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (3005, 305, 0, 0)


@pytest.mark.parametrize("with_ids", [True, False])
def test_a_compressed_rotation_of_calls_already_read_counts_once(senv, with_ids):
    log, uid = two_calls_read(senv, with_ids)
    # logrotate with compress: the log goes to api_calls.json.1, then to api_calls.json.2.gz.
    with gzip.open(senv.logs / "api_calls.json.2.gz", "wb") as f:
        f.write(log.read_bytes())
    log.unlink()
    write_log(log, [calls_line(uid(3), 30, 3, ts="2026-11-20T10:02:00Z")])
    result = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(result) == (3030, 303, 0, 0)
    assert "malformed" not in result.err
    assert totals(daily(senv, "--log", f"calls:{log}")) == (3030, 303, 0, 0)


def test_a_compressed_log_with_new_calls_counts_them(senv):
    log = senv.logs / "proxy.jsonl"
    write_log(log, [proxy_line("msg_1", 1000, 100)])
    lines = [proxy_line("msg_old1", 20, 2, ts="2026-11-19T10:00:00Z"),
             proxy_line(None, 300, 30, ts="2026-11-19T11:00:00Z"), "broken line"]
    with gzip.open(senv.logs / "proxy.jsonl.1.gz", "wt", encoding="utf-8") as f:
        f.write("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    result = daily(senv, "--verbose", "--log", f"proxy:{log}")
    # 1000 + 20 + 300 in, 100 + 2 + 30 out; the day before holds the compressed log's two calls
    assert totals(result) == (1320, 132, 0, 0)
    assert [(d["date"], d["inputTokens"]) for d in result.json()["daily"]] == \
        [("2026-11-19", 320), ("2026-11-20", 1000)]
    assert f"  1  {senv.logs / 'proxy.jsonl.1.gz'}" in notes(result), result.err
    assert totals(daily(senv, "--log", f"proxy:{log}")) == (1320, 132, 0, 0)


def test_a_damaged_compressed_log_is_counted_not_a_traceback(senv):
    log = write_log(senv.logs / "calls.jsonl", [calls_line("u1", 10, 1)])
    (senv.logs / "calls.jsonl.1.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 50)[:40])
    result = daily(senv, "--verbose", "--log", f"calls:{log}")
    assert totals(result) == (10, 1, 0, 0)
    assert "Traceback" not in result.err


def test_the_session_of_a_log_without_sessions_survives_rotation(senv):
    # Calls that name no session are the log's: its name, whatever rotation makes of it.
    log = senv.logs / "api_calls.json"
    write_log(log, [calls_line("u1", 1000, 100)])
    senv.run("daily", "--log", f"calls:{log}")
    os.rename(log, senv.logs / "api_calls.json.1")
    write_log(log, [calls_line("u2", 20, 2, ts="2026-11-20T10:01:00Z")])
    senv.run("daily", "--log", f"calls:{log}")
    with gzip.open(senv.logs / "api_calls.json.2.gz", "wb") as f:
        f.write((senv.logs / "api_calls.json.1").read_bytes())
    (senv.logs / "api_calls.json.1").unlink()
    report = senv.run("session", "--json", "-z", "UTC", "--log", f"calls:{log}").json()
    assert {s: tokens_of(e) for s, e in sessions_by_id(report).items()} == {"api_calls": (1020, 102, 0, 0)}


# ---------------------------------------------------------------------------
# Where the logs are: a file, a directory, a glob
# ---------------------------------------------------------------------------

def test_a_directory_and_a_glob_name_the_logs_they_hold(senv):
    write_log(senv.logs / "a.jsonl", [calls_line("a", 1, 1)])
    write_log(senv.logs / "b.log", [calls_line("b", 20, 2)])
    write_log(senv.logs / "c.ndjson.1", [calls_line("c", 300, 3)])
    (senv.logs / "deeper").mkdir()
    write_log(senv.logs / "deeper" / "d.json", [calls_line("d", 4000, 4)])
    write_log(senv.logs / "notes.txt", [calls_line("x", 50000, 5)])          # not a log's name
    # a, b, c and d: 1 + 20 + 300 + 4000 in, 1 + 2 + 3 + 4 out
    assert totals(daily(senv, "--log", f"calls:{senv.logs}")) == (4321, 10, 0, 0)
    senv.db.unlink()
    # The glob's one match (a.jsonl) and its rotations: none here.
    assert totals(daily(senv, "--log", f"calls:{senv.logs}/a*.jsonl")) == (1, 1, 0, 0)


def test_a_glob_with_no_matches_is_no_error(senv):
    result = daily(senv, "--log", f"proxy:{senv.logs}/none-*.jsonl")
    assert result.code == 0 and result.err == "", result
    assert totals(result) == (0, 0, 0, 0)
    write_log(senv.logs / "none-1.jsonl", [proxy_line("msg_1", 5, 5)])
    assert totals(daily(senv, "--log", f"proxy:{senv.logs}/none-*.jsonl")) == (5, 5, 0, 0)


# ---------------------------------------------------------------------------
# A proxy and a transcript that saw the same calls
# ---------------------------------------------------------------------------

def transcript_and_proxy(env):
    """A session s1 with two responses (msg_shared streamed over two lines, msg_own), and a proxy log that
    saw msg_shared and a call of its own, msg_proxy."""
    write_lines(session_path(str(env.claude), "s1"), [
        assistant_line(msg_id="msg_shared", request_id="req_shared", input=10, output=5, cache_read=1000,
                       session="s1", ts="2026-11-20T10:00:00.000Z"),
        assistant_line(msg_id="msg_shared", request_id="req_shared", input=10, output=300, cache_read=1000,
                       session="s1", ts="2026-11-20T10:00:01.000Z"),
        assistant_line(msg_id="msg_own", request_id="req_own", input=2, output=20, session="s1",
                       ts="2026-11-20T10:10:00.000Z")])
    return write_log(env.logs / "proxy.jsonl", [
        proxy_line("msg_shared", 10, 300, cache_read=1000, ts="2026-11-20T10:00:02Z"),
        proxy_line("msg_proxy", 7, 70, ts="2026-11-20T10:20:00Z")])


def check_shared_calls_counted_once(env, log):
    result = daily(env, "--log", f"proxy:{log}")
    # msg_shared once (10 in, 300 out, 1000 cache reads), msg_own (2, 20), msg_proxy (7, 70)
    assert totals(result) == (19, 390, 0, 1000)
    # (19 * 3 + 390 * 15 + 1000 * 0.30) / 1e6 = (57 + 5850 + 300) / 1e6
    assert cost(result) == pytest.approx(0.006207)
    sessions = sessions_by_id(env.run("session", "--json", "-z", "UTC", "--log", f"proxy:{log}").json())
    # The transcript's session keeps its call; the proxy's log holds only what no transcript saw.
    assert {s: tokens_of(e) for s, e in sessions.items()} == {"s1": (12, 320, 0, 1000), "proxy": (7, 70, 0, 0)}
    assert sessions["s1"]["projectPath"] == "/home/u/proj"


def test_rows_say_which_sources_saw_their_calls(senv):
    log = transcript_and_proxy(senv)
    sessions = sessions_by_id(senv.run("session", "--json", "-z", "UTC", "--log", f"proxy:{log}").json())
    # s1 holds msg_shared, which the proxy saw too; the proxy's own session only msg_proxy.
    assert {s: e["source"] for s, e in sessions.items()} == {"s1": ["claude-code", "proxy"], "proxy": ["proxy"]}
    exported = senv.run("export", "--format", "jsonl", "--log", f"proxy:{log}")
    rows = sorted((row["timestamp"], row["source"]) for row in map(json.loads, exported.out.splitlines()))
    assert [source for _, source in rows] == ["claude-code+proxy", "claude-code", "proxy"]
    # With one source, nothing says so.
    alone = daily(senv, "--source", "claude-code", "--log", f"proxy:{log}").json()
    assert "source" not in alone["daily"][0]


@pytest.mark.parametrize("first", ["proxy", "transcript", "both"])
def test_a_call_a_proxy_and_a_transcript_both_saw_counts_once(senv, first):
    log = transcript_and_proxy(senv)
    if first == "proxy":
        daily(senv, "--log", f"proxy:{log}", "--source", "proxy")
    elif first == "transcript":
        daily(senv)
    check_shared_calls_counted_once(senv, log)
    check_shared_calls_counted_once(senv, log)


def test_a_proxy_read_before_the_transcript_exists_gives_way_to_it(senv):
    log = transcript_and_proxy(senv)
    transcript = session_path(str(senv.claude), "s1")
    text = open(transcript, encoding="utf-8").read()
    os.unlink(transcript)
    assert totals(daily(senv, "--log", f"proxy:{log}")) == (17, 370, 0, 1000)
    with open(transcript, "w", encoding="utf-8") as f:
        f.write(text)
    check_shared_calls_counted_once(senv, log)


def test_source_picks_the_calls_a_source_saw(senv):
    log = transcript_and_proxy(senv)
    by_kind = daily(senv, "--log", f"proxy:{log}", "--source", "proxy")
    # msg_shared (the proxy saw it too) and msg_proxy: 10 + 7 in, 300 + 70 out, 1000 cache reads
    assert totals(by_kind) == (17, 370, 0, 1000)
    transcripts = daily(senv, "--log", f"proxy:{log}", "--source", "claude-code")
    # msg_shared and msg_own: 10 + 2 in, 300 + 20 out
    assert totals(transcripts) == (12, 320, 0, 1000)
    both = daily(senv, "--log", f"proxy:{log}", "--source", "proxy", "--source", "claude-code")
    assert totals(both) == (19, 390, 0, 1000)


def test_source_by_name_and_by_kind(senv):
    one = write_log(senv.logs / "one.jsonl", [proxy_line("msg_1", 1, 1)])
    two = write_log(senv.logs / "two.jsonl", [proxy_line("msg_2", 20, 20)])
    calls = write_log(senv.logs / "calls.jsonl", [calls_line("u3", 300, 300)])
    logs = ["--log", f"proxy:{one}", "--log", f"proxy:{two}", "--log", f"calls:{calls}"]
    assert totals(daily(senv, *logs)) == (321, 321, 0, 0)
    # Named by kind, and "proxy-2" when a kind repeats.
    assert totals(daily(senv, *logs, "--source", "proxy-2")) == (20, 20, 0, 0)
    assert totals(daily(senv, *logs, "--source", "calls")) == (300, 300, 0, 0)
    # A kind picks every source of the kind (proxy is the first one's name too).
    assert totals(daily(senv, *logs, "--source", "proxy")) == (21, 21, 0, 0)
    assert totals(daily(senv, *logs, "--source", "proxy-2", "--source", "calls")) == (320, 320, 0, 0)


def test_a_proxy_not_named_this_run_is_left_out_of_the_report(senv):
    log = write_log(senv.logs / "proxy.jsonl", [proxy_line("msg_1", 100, 10)])
    assert totals(daily(senv, "--log", f"proxy:{log}")) == (100, 10, 0, 0)
    # Without --log the proxy is no source of this run: its calls are not in the report.
    assert totals(daily(senv)) == (0, 0, 0, 0)



def test_an_empty_answer_points_at_a_proxy_log_with_log_not_data_dir(senv):
    write_log(senv.logs / "proxy.jsonl", [proxy_line("msg_1", 100, 10)])
    assert totals(daily(senv, "--log", f"proxy:{senv.logs}")) == (100, 10, 0, 0)
    empty = senv.tmp / "empty"
    empty.mkdir()
    result = senv.run("daily", "--log", f"proxy:{empty}")
    assert result.out == "No usage found.\n"
    # A proxy's directory holds no projects/ and needs none; the other proxy's calls are read with --log.
    assert "projects/" not in result.err
    assert (f"the store holds 1 calls read from other sources ({senv.logs}: 1); "
            f"include them with --log proxy:{senv.logs}") in result.err

def test_the_installed_command_reads_a_proxy_log(senv):
    log = write_log(senv.logs / "proxy.jsonl", [proxy_line("msg_1", 1000, 100),
                                                proxy_line("msg_2", 2000, 200, model="claude-haiku-4-5-20251001")])
    result = senv.cli("daily", "--json", "-z", "UTC", "--log", f"proxy:{log}", "--source", "proxy")
    assert result.code == 0, result
    # Sonnet (1000 * 3 + 100 * 15) / 1e6 = 0.0045; Haiku 4.5 at $1 / $5: (2000 * 1 + 200 * 5) / 1e6 = 0.003
    assert tokens_of(json.loads(result.out)["totals"]) == (3000, 300, 0, 0)
    assert json.loads(result.out)["totals"]["totalCost"] == pytest.approx(0.0075)
    bad = senv.cli("daily", "--log", f"proxy:{senv.logs}/missing.jsonl")
    assert bad.code == 2
    first_line_is_one_error(bad)


# ---------------------------------------------------------------------------
# [[sources]] in the settings file
# ---------------------------------------------------------------------------

def source_logs(env):
    gateway = write_log(env.logs / "gateway.jsonl", [proxy_line("msg_1", 1000, 100)])
    (env.logs / "voice").mkdir()
    write_log(env.logs / "voice" / "calls.log", [calls_line(None, 20, 2, flat=True)])
    return gateway, env.logs / "voice"


def check_configured_sources(env):
    assert totals(daily(env)) == (1020, 102, 0, 0)
    assert totals(daily(env, "--source", "gateway")) == (1000, 100, 0, 0)
    assert totals(daily(env, "--source", "calls")) == (20, 2, 0, 0)
    unknown = daily(env, "--source", "nope")
    assert unknown.code == 2, unknown
    first_line_is_one_error(unknown)
    for name in ("nope", "claude-code", "gateway", "voice"):
        assert name in unknown.err, unknown.err


@about_toml
def test_sources_in_config_toml(senv):
    gateway, voice = source_logs(senv)
    write_config(senv, f'[[sources]]\nname = "gateway"\nkind = "proxy"\npath = "{gateway}"\n\n'
                       f'[[sources]]\nname = "voice"\nkind = "calls"\npath = "{voice}"\n', "config.toml")
    check_configured_sources(senv)


def test_sources_in_config_json(senv):
    gateway, voice = source_logs(senv)
    write_config(senv, json.dumps({"sources": [{"name": "gateway", "kind": "proxy", "path": str(gateway)},
                                               {"name": "voice", "kind": "calls", "path": str(voice)}]}),
                 "config.json")
    check_configured_sources(senv)


def test_a_configured_source_path_expands_home_and_may_be_a_glob(senv):
    (senv.home / "gw").mkdir()
    write_log(senv.home / "gw" / "2026-11.jsonl", [proxy_line("msg_1", 1000, 100)])
    write_config(senv, json.dumps({"sources": [{"name": "gw", "kind": "proxy", "path": "~/gw/*.jsonl"},
                                               {"name": "later", "kind": "proxy", "path": "~/gw/later-*"}]}),
                 "config.json")
    assert totals(daily(senv)) == (1000, 100, 0, 0)


def test_a_configured_source_whose_path_does_not_exist_is_an_error(senv):
    missing = senv.logs / "missing.jsonl"
    write_config(senv, json.dumps({"sources": [{"name": "gw", "kind": "proxy", "path": str(missing)}]}),
                 "config.json")
    result = daily(senv)
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert str(missing) in result.err and "gw" in result.err


@pytest.mark.parametrize("entry, words", [
    ({"name": "gw", "kind": "syslog", "path": "/tmp"}, ["kind", "proxy"]),
    ({"name": "gw", "kind": "proxy"}, ["path"]),
    ({"name": "has space", "kind": "proxy", "path": "/tmp"}, ["name"]),
    ({"name": "claude-code", "kind": "proxy", "path": "/tmp"}, ["claude-code"]),
    ({"name": "gw", "kind": "proxy", "path": "/tmp", "colour": "red"}, ["colour"]),
    # No path holds a NUL: the system could not even look for it.
    ({"name": "gw", "kind": "proxy", "path": "/tmp/a\0b/api_calls.json"}, ["path"]),
    # The settings are read wherever ccusage runs: a relative path would name another log in each directory.
    ({"name": "gw", "kind": "proxy", "path": "logs/*.jsonl"}, ["path", "absolute", "logs/*.jsonl"]),
])
def test_a_bad_source_entry_is_one_line_error(senv, entry, words):
    write_config(senv, json.dumps({"sources": [entry]}), "config.json")
    result = daily(senv)
    assert result.code == 2, result
    first_line_is_one_error(result)
    for word in words:
        assert word in result.err, result.err


# ---------------------------------------------------------------------------
# --log's errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, words", [
    ("syslog:{logs}/p.jsonl", ["--log", "syslog", "proxy"]),
    ("{logs}/p.jsonl", ["--log", "KIND:PATH"]),
    ("proxy:", ["--log", "path"]),
    ("proxy:{logs}/missing.jsonl", ["--log", "missing.jsonl", "does not exist"]),
    ("claude-code:{logs}/p.jsonl", ["--log", "not a directory"]),
])
def test_a_bad_log_argument_is_one_line_usage_error(senv, value, words):
    write_log(senv.logs / "p.jsonl", [proxy_line("msg_1", 1, 1)])
    result = daily(senv, "--log", value.format(logs=senv.logs))
    assert result.code == 2, result
    first_line_is_one_error(result)
    for word in words:
        assert word in result.err, result.err


def test_an_unknown_source_is_an_error_listing_the_sources(senv):
    log = write_log(senv.logs / "p.jsonl", [proxy_line("msg_1", 1, 1)])
    result = daily(senv, "--log", f"proxy:{log}", "--source", "gateway")
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert "'gateway'" in result.err and "claude-code (claude-code)" in result.err and "proxy (proxy)" in result.err


def test_a_claude_code_log_is_another_config_dir(senv):
    other = senv.tmp / "other-claude"
    write_lines(session_path(str(other), "s9"), [assistant_line(input=40, output=4, session="s9")])
    write_lines(session_path(str(senv.claude), "s1"), [assistant_line(input=500, output=5, session="s1")])
    assert totals(daily(senv, "--log", f"claude-code:{other}")) == (540, 9, 0, 0)
    assert totals(daily(senv, "--log", f"claude-code:{other}", "--source", "claude-code-2")) == (40, 4, 0, 0)
    # Its projects/ directory names it, as --data-dir takes it.
    assert totals(daily(senv, "--log", f"claude-code:{other}/projects", "--source", "claude-code-2")) == (40, 4, 0, 0)


def test_a_configured_claude_code_source_is_a_config_dir_or_an_error(senv):
    other = senv.tmp / "other-claude"
    write_lines(session_path(str(other), "s9"), [assistant_line(input=40, output=4, session="s9")])
    write_config(senv, json.dumps({"sources": [{"name": "laptop", "path": str(other / "projects")}]}), "config.json")
    assert totals(daily(senv, "--source", "laptop")) == (40, 4, 0, 0)
    log = write_log(senv.logs / "p.jsonl", [proxy_line("msg_1", 100, 10)])
    write_config(senv, json.dumps({"sources": [{"name": "laptop", "path": str(log)}]}), "config.json")
    result = daily(senv)
    assert result.code == 2, result
    first_line_is_one_error(result)
    assert "laptop" in result.err and "not a directory" in result.err


# ---------------------------------------------------------------------------
# Model ids of Bedrock, Vertex and routers
# ---------------------------------------------------------------------------

def test_bedrock_vertex_and_router_ids_price_as_their_claude_models(senv):
    # Each call: 1,000,000 input and 100,000 output tokens.
    ids = {
        "anthropic.claude-3-5-sonnet-20241022-v2:0": 4.5,        # $3 + 0.1 * $15; no regional rate for 3.5
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0": 4.95,    # ($3 + 0.1 * $15) * 1.1 at a regional endpoint
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0": 4.5,  # the global endpoint costs the list price
        "claude-sonnet-4-5@20250929": 4.5,                       # Vertex
        "anthropic/claude-4.7-opus-20260416": 7.5,               # Opus 4.7: $5 + 0.1 * $25
        "claude-opus-4-6-thinking": 7.5,                         # Opus 4.6: $5 + 0.1 * $25
    }
    lines = [proxy_line(f"msg_{n}", 1_000_000, 100_000, model=model) for n, model in enumerate(ids)]
    log = write_log(senv.logs / "bedrock.jsonl", lines)
    result = daily(senv, "--log", f"proxy:{log}")
    costs = {part["modelName"]: part["cost"] for part in result.json()["daily"][0]["modelBreakdowns"]}
    assert costs == pytest.approx(ids)
    assert result.err == ""
    # 4.5 + 4.95 + 4.5 + 4.5 + 7.5 + 7.5
    assert cost(result) == pytest.approx(33.45)


def test_a_model_that_is_not_claude_stays_unpriced_and_says_so(senv):
    log = write_log(senv.logs / "glm.jsonl", [proxy_line("msg_g", 1_000_000, 0, model="glm-4.7"),
                                              proxy_line("msg_s", 1_000_000, 0)])
    result = daily(senv, "--log", f"proxy:{log}")
    data = result.json()
    parts = {part["modelName"]: part["cost"] for part in data["daily"][0]["modelBreakdowns"]}
    # Sonnet: 1,000,000 * $3 / 1e6; glm-4.7 has no price, never a cost of 0
    assert parts["claude-sonnet-4-5-20250929"] == pytest.approx(3.0)
    assert parts["glm-4.7"] is None
    assert data["totals"]["unpricedModels"] == ["glm-4.7"]
    assert "glm-4.7" in result.err and "warning" in result.err


def test_a_logged_cost_counts_as_a_transcripts_cost_usd_does(senv):
    log = write_log(senv.logs / "calls.jsonl", [calls_line("u1", 1000, 100, cost_usd=0.5),
                                                calls_line("u2", 1000, 100, ts="2026-11-20T10:01:00Z")])
    # auto: the logged 0.5, and the price of the other, (1000 * 3 + 100 * 15) / 1e6 = 0.0045
    assert cost(daily(senv, "--log", f"calls:{log}")) == pytest.approx(0.5045)
    # calculate: both priced
    assert cost(daily(senv, "--log", f"calls:{log}", "-m", "calculate")) == pytest.approx(0.009)
    # display: the logged cost alone
    assert cost(daily(senv, "--log", f"calls:{log}", "-m", "display")) == pytest.approx(0.5)


@pytest.mark.parametrize("first", ["proxy", "transcript", "both"])
def test_a_transcript_line_without_a_request_id_keeps_its_session_beside_a_proxy(senv, first):
    # Routers' lines may have no requestId: the transcript's call is then keyed by its message id alone,
    # as the proxy's is.
    line = assistant_line(msg_id="msg_router", input=40, output=400, session="s1", model="claude-opus-4-6-thinking")
    del line["requestId"]
    log = write_log(senv.logs / "proxy.jsonl", [proxy_line("msg_router", 40, 400, model="claude-opus-4-6")])
    transcript = session_path(str(senv.claude), "s1")
    if first == "proxy":
        daily(senv, "--log", f"proxy:{log}", "--source", "proxy")
        write_lines(transcript, [line])
    elif first == "transcript":
        write_lines(transcript, [line])
        daily(senv)
    else:
        write_lines(transcript, [line])
    for _ in range(2):
        result = senv.run("session", "--json", "-z", "UTC", "--log", f"proxy:{log}")
        assert {s: tokens_of(e) for s, e in sessions_by_id(result.json()).items()} == {"s1": (40, 400, 0, 0)}


def test_export_and_the_prompt_take_source(senv):
    log = transcript_and_proxy(senv)
    write_log(log, [proxy_line("msg_big", 1_000_000, 0, ts="2026-11-20T11:00:00Z")], mode="a")
    daily(senv, "--log", f"proxy:{log}")
    exported = senv.run("export", "--format", "jsonl", "--log", f"proxy:{log}", "--source", "proxy")
    assert exported.code == 0, exported
    rows = [json.loads(line) for line in exported.out.splitlines()]
    # msg_shared (in the transcript's session), msg_big and msg_proxy
    assert sorted((row["sessionId"], row["inputTokens"], row["outputTokens"]) for row in rows) == \
        [("proxy", 7, 70), ("proxy", 1_000_000, 0), ("s1", 10, 300)]
    with freeze_time("2026-11-20T12:00:00Z"):
        proxied = senv.run("prompt", "--format", "{today_cost}", "--log", f"proxy:{log}", "--source", "proxy")
        transcripts = senv.run("prompt", "--format", "{today_cost}", "--log", f"proxy:{log}", "--source", "claude-code")
    # The proxy's: msg_big 1,000,000 * $3 / 1e6 = $3, and (17 * 3 + 370 * 15 + 1000 * 0.30) / 1e6 = $0.005901;
    # the transcripts': (12 * 3 + 320 * 15 + 1000 * 0.30) / 1e6 = $0.005136
    assert (proxied.out, transcripts.out) == ("$3.01\n", "$0.01\n"), (proxied, transcripts)


def test_a_log_just_rotated_away_is_no_error_and_its_rotation_is_read(env):
    # Between logrotate's rename and the proxy's first new line, only api_calls.json.1 is there.
    logs = env.tmp / "rotated-logs"
    logs.mkdir()
    (logs / "api_calls.json.1").write_text(
        '{"timestamp":"2026-11-30T10:00:00Z","model":"claude-haiku-4-5","response":{"id":"msg_r1",'
        '"usage":{"input_tokens":100,"output_tokens":10}},"status":"success"}\n')
    result = env.run("daily", "--json", "-z", "UTC", "--log", f"proxy:{logs / 'api_calls.json'}")
    assert result.code == 0, result
    assert (result.json()["totals"]["inputTokens"], result.json()["totals"]["outputTokens"]) == (100, 10)


def test_a_calls_log_may_give_its_times_as_epoch_seconds_or_milliseconds(env):
    log = env.tmp / "epoch.jsonl"
    # 1764496800 is 2025-11-30T10:00:00Z; the second line gives the same day's 11:00 in milliseconds.
    log.write_text('{"timestamp":1764496800,"model":"claude-haiku-4-5","input_tokens":5,"output_tokens":1}\n'
                   '{"timestamp":1764500400000,"model":"claude-haiku-4-5","input_tokens":7,"output_tokens":2}\n')
    daily = env.run("daily", "--json", "-z", "UTC", "--log", f"calls:{log}").json()["daily"]
    assert [(d["date"], d["inputTokens"], d["outputTokens"]) for d in daily] == [("2025-11-30", 12, 3)]


# The reference's compaction example: the top level covers the final message step only.
COMPACTION = [{"type": "compaction", "input_tokens": 180_000, "output_tokens": 3_500,
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
              {"type": "message", "input_tokens": 23_000, "output_tokens": 1_000,
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}]


@pytest.mark.parametrize("first", ["proxy", "transcript", "both"])
def test_a_compaction_step_a_proxy_and_a_transcript_both_saw_is_billed_once(senv, first):
    write_lines(session_path(str(senv.claude), "s1"), [
        assistant_line(msg_id="msg_c", request_id="req_c", input=23_000, output=1_000, session="s1",
                       ts="2026-11-20T10:00:00.000Z", iterations=COMPACTION)])
    line = proxy_line("msg_c", 23_000, 1_000, ts="2026-11-20T10:00:01Z")
    line["response"]["usage"]["iterations"] = COMPACTION
    log = write_log(senv.logs / "proxy.jsonl", [line])
    if first == "proxy":
        daily(senv, "--log", f"proxy:{log}", "--source", "proxy")
    elif first == "transcript":
        daily(senv)
    for _ in range(2):
        result = daily(senv, "--log", f"proxy:{log}")
        # The response (23,000 in, 1,000 out) and its compaction step (180,000, 3,500), each once.
        assert totals(result) == (203_000, 4_500, 0, 0)
        # (203,000 * 3 + 4,500 * 15) / 1e6 = (609,000 + 67,500) / 1e6
        assert cost(result) == pytest.approx(0.6765)


def test_a_proxy_bills_the_compaction_step_its_top_level_leaves_out(senv):
    line = proxy_line("msg_c", 23_000, 1_000)
    line["response"]["usage"]["iterations"] = COMPACTION
    log = write_log(senv.logs / "proxy.jsonl", [line])
    assert totals(daily(senv, "--log", f"proxy:{log}")) == (203_000, 4_500, 0, 0)


def test_a_huge_sparse_proxy_log_is_passed_over_as_a_proxy_log(senv):
    with open(senv.logs / "api_calls.json", "wb") as f:
        f.truncate(20 * 2 ** 30)   # 20 GB of holes: no disk, and no log
    result = daily(senv, "--log", f"proxy:{senv.logs}")
    assert "passed over" in result.err and "not a proxy log" in result.err, result.err
    assert "transcript" not in result.err


def test_calls_whose_own_ids_hold_a_colon_are_each_a_call(senv):
    # Not a transcript's "message id:request id": two runs' calls, never one response seen twice.
    log = write_log(senv.logs / "calls.jsonl", [calls_line("run:1", 100, 10), calls_line("run:2", 200, 20),
                                                calls_line("run:2#a", 400, 40)])
    assert totals(daily(senv, "--log", f"calls:{log}")) == (700, 70, 0, 0)
    write_log(log, [calls_line("run:3", 1000, 100)], mode="a")
    assert totals(daily(senv, "--log", f"calls:{log}")) == (1700, 170, 0, 0)


def test_blocks_say_which_sources_saw_each_windows_calls(senv, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    log = transcript_and_proxy(senv)
    write_log(log, [proxy_line("msg_late", 5, 50, ts="2026-11-21T09:00:00Z")], mode="a")
    with freeze_time("2026-11-22T12:00:00Z"):
        blocks = senv.run("blocks", "--json", "--log", f"proxy:{log}").json()["blocks"]
        table = senv.run("blocks", "--log", f"proxy:{log}")
        alone = senv.run("blocks", "--json").json()["blocks"]
    # The window of the 20th holds the transcript's calls and the proxy's msg_proxy; that of the 21st,
    # msg_late alone.
    assert [(b["startTime"][:10], b.get("source")) for b in blocks if not b["isGap"]] == [
        ("2026-11-20", ["claude-code", "proxy"]), ("2026-11-21", ["proxy"])]
    assert "Source" in table.out.splitlines()[0] and "claude-code, proxy" in table.out
    assert all("source" not in b for b in alone)


def test_a_byte_order_mark_and_an_http_status_with_its_reason_are_read(senv):
    log = senv.logs / "bom.jsonl"
    ok = proxy_line("msg_b1", 100, 10, status="200 OK")
    overloaded = proxy_line("msg_b2", 0, 0, status="529 Overloaded")
    del overloaded["response"]["usage"]
    log.write_bytes(b"\xef\xbb\xbf" + (json.dumps(ok) + "\n" + json.dumps(overloaded) + "\n").encode())
    assert totals(daily(senv, "--log", f"proxy:{log}")) == (100, 10, 0, 0)
    tiers = senv.run("models", "--json", "--log", f"proxy:{log}").json()["tiers"]
    assert [(t["requests"], t["failures"], t["successes"]) for t in tiers] == [(2, 1, 1)]
