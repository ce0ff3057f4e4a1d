"""`ccusage models`: requests, failures, success rate and latency percentiles per model tier and agent, from
proxy and calls logs the tests write; the same figures in the live view and the Prometheus export."""

import json
import os
import re
import shutil
import subprocess

import pytest
from freezegun import freeze_time

import ccusage
from logsynth import assistant_line, write_lines
from support import first_line_is_one_error
from test_serve import Served, request

SONNET = "claude-sonnet-4-5-20250929"    # USD per million tokens: 3 in, 15 out
OPUS = "claude-opus-4-1-20250805"        # 15 in, 75 out
HAIKU = "claude-haiku-4-5-20251001"      # 1 in, 5 out
NOW = "2026-11-20T11:30:00Z"

# Ten Sonnet requests of agent "writer", logged out of order: 100, 200, ..., 1,000 ms.  The 900 ms one
# failed with a word, the 1,000 ms one with an HTTP code, neither with usage.  By nearest rank p50 is
# the 5th of the ten in order (500; linear interpolation would give 550), p95 and p99 the 10th (1,000).
WRITER_LATENCIES = (700, 100, 1000, 300, 900, 200, 600, 400, 800, 500)
FAILED = {900: "error", 1000: 503}


def proxy_line(n, model, latency=None, status="success", agent=None, usage=True, spaced=False,
               source_file=None, msg_id=None):
    line = {"timestamp": f"2026-11-20T10:{n:02d}:00Z", "model": model, "request": {"messages": [],
                                                                                  "max_tokens": 4096}}
    if agent is not None:
        line["agent"] = agent
    if source_file is not None:
        line["source_file"] = source_file
    response = {}
    if usage:
        response = {"id": msg_id or f"msg_proxy{n:03d}", "usage": usage if isinstance(usage, dict) else
                    {"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 0}}
    line["response"] = response
    if latency is not None:
        line["latency_ms"] = latency
    if status is not None:
        line["status"] = status
    return json.dumps(line, indent=1 if spaced else None, separators=None if spaced else (",", ":")) \
        .replace("\n", " ")


def write_logs(env):
    """The proxy log, a calls log and a transcript of every test but where it says otherwise.

    Sonnet: 10 requests (8 billed: 8 x (1,000 in + 100 out) = 8,800 tokens, 8 x $0.0045 = $0.036), and a
    transcript's call of 100,000 in ($0.30): 9 calls, 108,800 tokens, $0.336.
    Opus, agent "reviewer": 5,000 ms billed (10,000 in + 2,000 out: $0.15 + $0.15), 300 ms failed
    without usage, and one billed the same without a latency or a status (so it succeeded): 3 requests,
    1 failure, 2 of 3 succeeded, 2 calls, 24,000 tokens, $0.60; latencies 300 and 5,000: p50 300, p95 5,000.
    Haiku, a calls log with no agent, status or latency: 2 requests, 2 calls of 1,000 in + 200 out
    ($0.002 each), 2,400 tokens, $0.004.
    """
    proxy = env.tmp / "logs" / "api_calls.json"
    lines = [proxy_line(n, SONNET, latency, status=FAILED.get(latency, "success"), agent="writer",
                        usage=latency not in FAILED, spaced=n % 2 == 0)
             for n, latency in enumerate(WRITER_LATENCIES)]
    opus_usage = {"input_tokens": 10_000, "output_tokens": 2_000}
    lines += [proxy_line(20, OPUS, 5000, agent="reviewer", usage=opus_usage, source_file="src/review.py"),
              proxy_line(21, OPUS, 300, status="error", agent="reviewer", usage=False),
              proxy_line(22, OPUS, None, status=None, agent="reviewer", usage=opus_usage),
              "not json", '{"timestamp": "2026-11-20T10:30:00Z", "model": "claude-opus-4-1"}']
    write_lines(proxy, lines)
    calls = env.tmp / "logs" / "voice.jsonl"
    write_lines(calls, [{"uuid": "v1", "timestamp": "2026-11-20T10:40:00Z", "model": HAIKU,
                         "usage": {"input_tokens": 1000, "output_tokens": 200}},
                        {"timestamp": "2026-11-20T10:41:00Z", "model": HAIKU, "input_tokens": 1000,
                         "output_tokens": 200}])
    write_lines(env.log(), [assistant_line(ts="2026-11-20T09:00:00.000Z", model=SONNET, input=100_000)])
    return ["--log", f"proxy:{proxy}", "--log", f"calls:{calls}"]


def models(env, *args):
    result = env.run("models", "-z", "UTC", *args)
    assert result.code == 0, result
    return result


# ---------------------------------------------------------------------------
# The percentiles, by hand
# ---------------------------------------------------------------------------

def test_nearest_rank_of_a_small_set_by_hand():
    # The textbook set: 15, 20, 35, 40, 50.  The p-th is the value at rank ceil(p% of 5).
    latencies = {15: 1, 20: 1, 35: 1, 40: 1, 50: 1}
    assert [ccusage.nearest_rank(latencies, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    # Counts stand for repeats: 1 x 10 ms and 19 x 20 ms; rank ceil(5% of 20) = 1 is 10, rank 2 is 20.
    assert ccusage.nearest_rank({20: 19, 10: 1}, 5) == 10
    assert ccusage.nearest_rank({20: 19, 10: 1}, 6) == 20
    assert ccusage.nearest_rank({}, 50) is None


def test_twenty_latencies_have_p95_and_p99_apart():
    # 10, 20, ..., 200 ms: p50 is rank 10 (100), p95 rank 19 (190), p99 rank 20 (200).
    stats = ccusage.RequestStats()
    stats.latencies = {10 * n: 1 for n in range(1, 21)}
    assert stats.percentiles() == [100, 190, 200]


# ---------------------------------------------------------------------------
# The table and the JSON
# ---------------------------------------------------------------------------

def test_the_tier_table_gives_requests_failures_success_latency_and_calls(env):
    out = models(env, *write_logs(env)).out
    assert re.search(r"^Tier +Requests +Failed +Success +p50 ms +p95 ms +p99 ms +Calls +Tokens +Cost$", out, re.M)
    assert re.search(r"^Opus +3 +1 +66\.7% +300 +5,000 +5,000 +2 +24,000 +\$0\.60$", out, re.M)
    assert re.search(r"^Sonnet +10 +2 +80\.0% +500 +1,000 +1,000 +9 +108,800 +\$0\.34$", out, re.M)
    assert re.search(r"^Haiku +2 +0 +100\.0% +- +- +- +2 +2,400 +\$0\.00$", out, re.M)
    # 15 requests, 3 failed, 12 of 15 succeeded; 12 latencies: 100 ... 1,000, 300 and 5,000 ms, so
    # rank 6 (p50) is 500 (100, 200, 300, 300, 400, 500), rank 12 (p95, p99) 5,000.
    assert re.search(r"^Total +15 +3 +80\.0% +500 +5,000 +5,000 +13 +135,200 +\$0\.94$", out, re.M)
    assert out.index("Opus ") < out.index("Sonnet ") < out.index("Haiku ")


def test_the_agent_table_has_a_row_per_agent_and_tier(env):
    out = models(env, *write_logs(env)).out
    assert re.search(r"^Agent +Tier +Requests +Failed +Success +p50 ms +p95 ms +p99 ms$", out, re.M)
    assert re.search(r"^reviewer +Opus +3 +1 +66\.7% +300 +5,000 +5,000$", out, re.M)
    assert re.search(r"^writer +Sonnet +10 +2 +80\.0% +500 +1,000 +1,000$", out, re.M)
    assert re.search(r"^\(none\) +Haiku +2 +0 +100\.0% +- +- +-$", out, re.M)
    assert out.index("reviewer ") < out.index("writer ") < out.index("(none) ")
    assert "need a proxy or calls log" not in out


def test_with_room_the_tier_table_says_which_sources_saw_each_tier(env, monkeypatch):
    logs = write_logs(env)
    monkeypatch.setenv("COLUMNS", "120")
    out = models(env, *logs).out
    assert re.search(r"^Sonnet +10 .* \$0\.34  claude-code, proxy$", out, re.M)
    assert re.search(r"^Opus +3 .* \$0\.60  proxy$", out, re.M)
    assert re.search(r"^Haiku +2 .* \$0\.00  calls$", out, re.M)
    # One source in use: no source column.
    out = models(env, *logs, "--source", "proxy").out
    assert "Source" not in out and "proxy" not in out


def test_json_has_the_tiers_the_agents_and_the_totals(env):
    data = models(env, *write_logs(env), "--json").json()
    assert set(data) == {"tiers", "agents", "totals"}
    tiers = {tier["tier"]: tier for tier in data["tiers"]}
    assert list(tiers) == ["opus", "sonnet", "haiku"]
    sonnet = tiers["sonnet"]
    assert (sonnet["requests"], sonnet["failures"], sonnet["successes"], sonnet["successRate"]) == (10, 2, 8, 0.8)
    assert sonnet["latencyMs"] == {"p50": 500, "p95": 1000, "p99": 1000, "count": 10}
    assert (sonnet["calls"], sonnet["inputTokens"], sonnet["outputTokens"], sonnet["totalTokens"]) == \
        (9, 108_000, 800, 108_800)
    assert sonnet["totalCost"] == pytest.approx(0.336)
    assert sonnet["models"] == [SONNET]
    assert tiers["opus"]["successRate"] == round(2 / 3, 6)
    assert tiers["haiku"]["latencyMs"] == {"p50": None, "p95": None, "p99": None, "count": 0}
    assert [(a["agent"], a["tier"], a["requests"], a["source"]) for a in data["agents"]] == \
        [("reviewer", "opus", 3, ["proxy"]), ("writer", "sonnet", 10, ["proxy"]), (None, "haiku", 2, ["calls"])]
    assert [tier["source"] for tier in data["tiers"]] == [["proxy"], ["claude-code", "proxy"], ["calls"]]
    totals = data["totals"]
    assert (totals["requests"], totals["failures"], totals["calls"], totals["totalTokens"]) == (15, 3, 13, 135_200)
    assert totals["latencyMs"] == {"p50": 500, "p95": 5000, "p99": 5000, "count": 12}
    assert totals["totalCost"] == pytest.approx(0.94)


def test_since_until_and_source_choose_the_requests(env):
    logs = write_logs(env)
    # Before 10:00 only the transcript's call: no requests at all that day... and none the day before.
    assert models(env, *logs, "--until", "2026-11-19", "--json").json()["tiers"] == []
    assert models(env, *logs, "--until", "2026-11-19").out == "No usage found for the given filters.\n"
    data = models(env, *logs, "--since", "2026-11-20", "--source", "calls", "--json").json()
    assert [(t["tier"], t["requests"], t["calls"]) for t in data["tiers"]] == [("haiku", 2, 2)]
    data = models(env, *logs, "--source", "claude-code", "--json").json()
    assert [(t["tier"], t["requests"], t["calls"]) for t in data["tiers"]] == [("sonnet", 0, 1)]


def test_without_request_logs_the_calls_show_and_a_line_says_what_adds_the_rest(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T09:00:00.000Z", model=SONNET, input=100_000),
                            assistant_line(ts="2026-11-20T09:01:00.000Z", model=OPUS, output=2_000)])
    result = models(env)
    assert re.search(r"^Tier +Calls +Tokens +Cost$", result.out, re.M)
    assert re.search(r"^Opus +1 +2,000 +\$0\.15$", result.out, re.M)
    assert re.search(r"^Sonnet +1 +100,000 +\$0\.30$", result.out, re.M)
    assert "Requests" not in result.out and "Agent" not in result.out and "No request" not in result.out
    assert "Latency and success rates need a proxy or calls log that records them (--log proxy:PATH" in \
        " ".join(result.out.split())
    assert result.err == ""


def test_with_request_logs_but_no_request_in_the_days_a_line_says_so(env):
    logs = write_logs(env)
    write_lines(env.log(), [assistant_line(ts="2026-11-21T09:00:00.000Z", model=SONNET, input=100_000)])
    out = models(env, *logs, "--since", "2026-11-21").out
    assert re.search(r"^Sonnet +1 +100,000 +\$0\.30  claude-code$", out, re.M)
    assert out.endswith("\nNo request was logged in these days.\n")
    assert "need a proxy" not in out


def test_text_from_the_logs_is_escaped(env):
    proxy = env.tmp / "proxy.jsonl"
    write_lines(proxy, [proxy_line(1, SONNET, 100, agent="bad\x1b[2Jagent")])
    result = models(env, "--log", f"proxy:{proxy}", "--source", "proxy")
    assert "\x1b" not in result.out
    assert "bad\\x1b[2Jagent" in result.out


def test_a_wide_table_gives_up_columns_at_40(env, monkeypatch):
    logs = write_logs(env)
    monkeypatch.setenv("COLUMNS", "40")
    out = models(env, *logs).out
    assert max(len(line) for line in out.splitlines()) <= 40
    assert "Not shown at 40 columns:" in out


def test_prune_deletes_the_requests_of_before_the_day_too(env):
    logs = write_logs(env)
    early = env.tmp / "early.jsonl"
    lines = [proxy_line(1, OPUS, 700, agent="reviewer", msg_id="msg_early"),
             proxy_line(2, OPUS, 800, status="error", agent="reviewer", usage=False)]
    write_lines(early, [line.replace("2026-11-20", "2026-11-19") for line in lines])
    logs += ["--log", f"proxy:{early}"]
    assert models(env, *logs, "--json").json()["totals"]["requests"] == 17
    assert env.run("prune", "--before", "2026-11-20", "-z", "UTC", *logs).code == 0
    data = models(env, *logs, "--json").json()
    assert data["totals"]["requests"] == 15
    assert data["totals"]["latencyMs"]["count"] == 12


def test_models_takes_no_project(env):
    result = env.run("models", "-p", "proj")
    first_line_is_one_error(result)
    assert result.code == 2 and "-p" in result.err


# ---------------------------------------------------------------------------
# The live view
# ---------------------------------------------------------------------------

def live_frame(env, *args, columns=120):
    return env.live_frame(*args, columns=columns, now=NOW).out


def test_the_models_view_has_todays_requests_per_tier(env):
    out = live_frame(env, *write_logs(env), "--view", "models")
    assert "Requests today by tier (latency by nearest rank)" in out
    assert re.search(r"^Tier +Requests +Failed +Success +p50 ms +p95 ms +p99 ms$", out, re.M)
    assert re.search(r"^Opus +3 +1 +66\.7% +300 +5,000 +5,000$", out, re.M)
    assert re.search(r"^Sonnet +10 +2 +80\.0% +500 +1,000 +1,000$", out, re.M)
    assert re.search(r"^Haiku +2 +0 +100\.0% +- +- +-$", out, re.M)


def test_the_models_view_without_request_logs_has_no_request_part(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T09:00:00.000Z", model=SONNET, input=100_000)])
    out = live_frame(env, "--view", "models")
    assert "Models this month" in out and "Requests today" not in out


def test_recent_calls_gain_agent_and_file_columns_from_the_request_logs(env):
    out = live_frame(env, *write_logs(env))
    assert re.search(r"^Time +Model +Tokens +Cost +Project +Agent +File$", out, re.M)
    assert re.search(r"^10:20:00 +opus-4-1 +12,000 +\$0\.30 +\(unknown\) +reviewer +src/review\.py$", out, re.M)
    assert re.search(r"^10:40:00 +haiku-4-5 +1,200 +\$0\.00 +\(unknown\)$", out, re.M)
    assert re.search(r"^09:00:00 +sonnet-4-5 +100,000 +\$0\.30 +proj$", out, re.M)


def test_a_call_a_transcript_and_a_proxy_both_saw_has_the_proxys_agent(env):
    # The transcript keys the call "msg_shared:req_shared", the proxy's request is "msg_shared".
    write_lines(env.log(), [assistant_line(ts="2026-11-20T10:05:00.000Z", model=SONNET, msg_id="msg_shared",
                                           request_id="req_shared", input=1000, output=100)])
    proxy = env.tmp / "proxy.jsonl"
    write_lines(proxy, [proxy_line(5, SONNET, 1234, agent="python-specialist", source_file="src/agent.js",
                                   msg_id="msg_shared")])
    out = live_frame(env, "--log", f"proxy:{proxy}")
    assert re.search(r"^10:05:00 +sonnet-4-5 +1,100 +\$0\.00 +proj +python-specialist +src/agent\.js$", out, re.M)
    assert "Recent calls (the last 1)" in out


def test_recent_calls_without_request_logs_keep_their_columns(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T09:00:00.000Z", model=SONNET, input=100_000)])
    out = live_frame(env)
    assert re.search(r"^Time +Model +Tokens +Cost +Project$", out, re.M)


def test_the_snapshot_has_the_agents_and_todays_requests(env, tmp_path, monkeypatch):
    logs = write_logs(env)
    monkeypatch.chdir(tmp_path)
    with freeze_time(NOW):
        args = ccusage.check_args(ccusage.build_parser().parse_args(
            ["live", "-z", "UTC", "--db", str(env.db), "--data-dir", str(env.claude)] + logs))
        settings = ccusage.resolve_settings(args, os.environ, "live", print)
        source = ccusage.LiveSource(settings, os.environ, ccusage.Messages(), args)
        source.sync()
        state = ccusage.LiveState(settings, 1, "models")
        state.data = source.load(settings, ccusage.parse_timestamp(NOW))
        source.close()
        path = ccusage.write_snapshot(state, os.environ)
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    assert [(r["tier"], r["requests"], r["failures"]) for r in data["requestsToday"]] == \
        [("opus", 3, 1), ("sonnet", 10, 2), ("haiku", 2, 0)]
    reviewed = [c for c in data["recentCalls"] if c["agent"] == "reviewer"]
    assert [c["sourceFile"] for c in reviewed] == [None, "src/review.py"]


# ---------------------------------------------------------------------------
# The Prometheus export
# ---------------------------------------------------------------------------

SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """{(name, ((label, value), ...)): number} of a text exposition."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, labels, value = SAMPLE.match(line).groups()
        found[(name, tuple(sorted(LABEL.findall(labels or ""))))] = float(value)
    return found


def test_prometheus_has_requests_failures_success_and_latency_per_tier(env):
    found = samples(env.run("export", "-f", "prometheus", *write_logs(env)).out)
    assert found[("ccusage_requests_total", (("agent", "writer"), ("tier", "sonnet")))] == 10
    assert found[("ccusage_requests_total", (("agent", "reviewer"), ("tier", "opus")))] == 3
    assert found[("ccusage_requests_total", (("agent", ""), ("tier", "haiku")))] == 2
    assert found[("ccusage_request_failures_total", (("agent", "writer"), ("tier", "sonnet")))] == 2
    assert found[("ccusage_request_failures_total", (("agent", ""), ("tier", "haiku")))] == 0
    assert found[("ccusage_request_success_ratio", (("tier", "sonnet"),))] == 0.8
    assert found[("ccusage_request_success_ratio", (("tier", "opus"),))] == pytest.approx(2 / 3)
    latency = {labels: value for (name, labels), value in found.items() if name == "ccusage_request_latency_seconds"}
    assert latency == {(("quantile", "0.5"), ("tier", "sonnet")): 0.5,
                       (("quantile", "0.95"), ("tier", "sonnet")): 1.0,
                       (("quantile", "0.99"), ("tier", "sonnet")): 1.0,
                       (("quantile", "0.5"), ("tier", "opus")): 0.3,
                       (("quantile", "0.95"), ("tier", "opus")): 5.0,
                       (("quantile", "0.99"), ("tier", "opus")): 5.0}
    # 100 + 200 + ... + 1,000 ms = 5.5 s; 300 + 5,000 ms = 5.3 s.
    assert found[("ccusage_request_latency_seconds_sum", (("tier", "sonnet"),))] == 5.5
    assert found[("ccusage_request_latency_seconds_count", (("tier", "sonnet"),))] == 10
    assert found[("ccusage_request_latency_seconds_sum", (("tier", "opus"),))] == 5.3
    assert ("ccusage_request_latency_seconds_count", (("tier", "haiku"),)) not in found


def test_serve_answers_the_request_series_on_metrics(env):
    logs = write_logs(env)
    with Served(env, *logs) as served:
        status, _, body = request(served.port, "/metrics")
        assert served.stop()[0] == 0
    found = samples(body.decode("utf-8"))
    assert status == 200
    assert found[("ccusage_requests_total", (("agent", "writer"), ("tier", "sonnet")))] == 10
    assert found[("ccusage_request_latency_seconds", (("quantile", "0.5"), ("tier", "sonnet")))] == 0.5


def test_prometheus_without_request_logs_has_the_families_and_no_samples(env):
    write_lines(env.log(), [assistant_line(ts="2026-11-20T09:00:00.000Z", model=SONNET, input=100_000)])
    text = env.run("export", "-f", "prometheus").out
    assert "# TYPE ccusage_requests_total counter" in text
    assert "# TYPE ccusage_request_latency_seconds summary" in text
    assert not [key for key in samples(text) if key[0].startswith("ccusage_request")]


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed (Debian's prometheus package "
                                                        "has it)")
def test_promtool_accepts_the_request_series(env):
    logs = write_logs(env)
    proxy = env.tmp / "odd.jsonl"
    write_lines(proxy, [proxy_line(1, SONNET, 100, agent='a "quoted" \\ agent\nwith a newline', msg_id="msg_odd")])
    text = env.run("export", "-f", "prometheus", *logs, "--log", f"proxy:{proxy}").out
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                             timeout=60)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    # The newline as clean() writes it, then the backslashes and quotes escaped as the format says.
    assert 'agent="a \\"quoted\\" \\\\ agent\\\\x0awith a newline"' in text


def test_prometheus_source_label_names_the_sources_that_saw_the_calls(env):
    logs = write_logs(env)
    def sources_by_tier(*args):
        found = samples(env.run("export", "-f", "prometheus", *logs, *args).out)
        return sorted((dict(labels)["tier"], dict(labels)["source"], value) for (name, labels), value in found.items()
                      if name == "ccusage_calls_total")
    # The transcript's Sonnet call, the proxy's 8 billed Sonnet and 2 Opus calls, the calls log's 2 Haiku ones.
    assert sources_by_tier() == [("haiku", "calls", 2), ("opus", "proxy", 2), ("sonnet", "claude-code", 1),
                                 ("sonnet", "proxy", 8)]
    # One source in use: its name, not the config dirs'.
    assert sources_by_tier("--source", "proxy") == [("opus", "proxy", 2), ("sonnet", "proxy", 8)]


def test_prometheus_for_one_project_still_has_the_request_series(env):
    # A request belongs to no project: --project narrows the calls' counters, the requests by nothing.
    logs = write_logs(env)
    project = env.run("session", "--json", *logs, "--source", "claude-code").json()["sessions"][0]["projectPath"]
    result = env.run("export", "-f", "prometheus", *logs, "-p", project)
    assert result.code == 0, result
    found = samples(result.out)
    assert found[("ccusage_requests_total", (("agent", "writer"), ("tier", "sonnet")))] == 10
    assert [dict(labels)["project"] for (name, labels) in found if name == "ccusage_calls_total"] == [project]
