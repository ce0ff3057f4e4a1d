"""5-hour windows: `blocks` and `status`, their burn rates, limits, official figures and costs."""

import json
import sqlite3
from datetime import datetime

import pytest
from freezegun import freeze_time

from logsynth import assistant_line, write_lines
from support import first_line_is_one_error, tokens_of

# USD per million tokens: input, 5-minute cache write, 1-hour cache write, cache read, output
SONNET = "claude-sonnet-4-5-20250929"    # 3, 3.75, 6, 0.30, 15
OPUS_41 = "claude-opus-4-1-20250805"     # 15, 18.75, 30, 1.50, 75
ZEROS = {"inputTokens": 0, "outputTokens": 0, "cacheCreationInputTokens": 0, "cacheReadInputTokens": 0}


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def epoch(text):
    return ms(text) // 1000


def call(ts, **fields):
    fields.setdefault("model", SONNET)
    return assistant_line(ts=ts, **fields)


_limit_ids = iter(range(1, 10_000))


def limit_line(ts, reset_epoch, session="hand-session"):
    """Claude Code's "usage limit reached" message: a <synthetic> assistant line with a zero usage."""
    n = next(_limit_ids)
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/u/proj",
            "sessionId": session, "version": "2.1.39", "gitBranch": "main", "type": "assistant",
            "uuid": f"00000000-0000-4000-b000-{n:012d}", "timestamp": ts, "isApiErrorMessage": True,
            "message": {"id": f"limit-{n}", "model": "<synthetic>", "role": "assistant", "type": "message",
                        "content": [{"type": "text", "text": f"Claude AI usage limit reached|{reset_epoch}"}],
                        "stop_reason": "stop_sequence", "stop_sequence": "",
                        "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                  "cache_read_input_tokens": 0}}}


def write(env, *lines, session="s1"):
    write_lines(env.log(session), list(lines))


def blocks(env, *args):
    return env.run("blocks", "--json", *args).json()


def status(env, *args):
    result = env.run("status", "--json", *args)
    assert result.code in (0, 3), result
    return result.code, json.loads(result.out)


def real(report):
    return [b for b in report["blocks"] if not b["isGap"]]


def ids(report):
    return [b["id"] for b in report["blocks"]]


def subset(entry, expected):
    """entry has every key of expected, with that value (floats approximately)."""
    for key, value in expected.items():
        assert key in entry, key
        if isinstance(value, float):
            assert entry[key] == pytest.approx(value), key
        else:
            assert entry[key] == value, (key, entry[key], value)


# ---------------------------------------------------------------------------
# blocks: where windows start and end
# ---------------------------------------------------------------------------

def test_windows_start_on_the_hour_last_five_hours_and_gaps_follow_silences(env):
    write(env,
          # window 1: 10:00 to 15:00
          call("2026-11-20T10:17:00.000Z", input=1000, output=2000, cache_5m=400, cache_1h=100, cache_read=10000),
          call("2026-11-20T12:30:00.000Z", output=100),
          call("2026-11-20T15:00:00.000Z", output=10),   # at the end, not after it: still window 1
          # window 2: the first call after the end, 15:00 to 20:00 (no silence, so no gap)
          call("2026-11-20T15:00:00.001Z", output=1),
          call("2026-11-20T19:40:00.000Z", output=2),
          # 6 h 30 m of silence: a gap from 19:40 + 5 h = 00:40 to the next call, 02:10
          call("2026-11-21T02:10:00.000Z", output=3),
          call("2026-11-21T06:59:00.000Z", output=4),
          # past the end of 02:00 to 07:00 after 31 minutes: a new window, no gap
          call("2026-11-21T07:30:00.000Z", output=5, model=OPUS_41))
    with freeze_time("2026-11-22T00:00:00Z"):
        report = blocks(env)
    assert ids(report) == ["2026-11-20T10:00:00.000Z", "2026-11-20T15:00:00.000Z", "gap-2026-11-21T00:40:00.000Z",
                           "2026-11-21T02:00:00.000Z", "2026-11-21T07:00:00.000Z"]
    first, second, gap, third, fourth = report["blocks"]
    # (1000*3 + 400*3.75 + 100*6 + 10000*0.3 + 2000*15) / 1e6 = 0.0381, then 100*15 / 1e6 and 10*15 / 1e6
    subset(first, {"id": "2026-11-20T10:00:00.000Z", "startTime": "2026-11-20T10:00:00.000Z",
                   "endTime": "2026-11-20T15:00:00.000Z", "actualEndTime": "2026-11-20T15:00:00.000Z",
                   "isActive": False, "isGap": False, "entries": 3,
                   "tokenCounts": {"inputTokens": 1000, "outputTokens": 2110, "cacheCreationInputTokens": 500,
                                   "cacheReadInputTokens": 10000},
                   "totalTokens": 1000 + 2110 + 500 + 10000, "costUSD": 0.0381 + 0.0015 + 0.00015,
                   "models": [SONNET], "burnRate": None, "projection": None})
    subset(second, {"startTime": "2026-11-20T15:00:00.000Z", "endTime": "2026-11-20T20:00:00.000Z",
                    "actualEndTime": "2026-11-20T19:40:00.000Z", "entries": 2, "totalTokens": 3,
                    "costUSD": 3 * 15 / 1e6})
    assert gap == {"id": "gap-2026-11-21T00:40:00.000Z", "startTime": "2026-11-21T00:40:00.000Z",
                   "endTime": "2026-11-21T02:10:00.000Z", "actualEndTime": None, "isActive": False, "isGap": True,
                   "entries": 0, "tokenCounts": ZEROS, "totalTokens": 0, "costUSD": 0, "models": [],
                   "burnRate": None, "projection": None}
    subset(third, {"startTime": "2026-11-21T02:00:00.000Z", "endTime": "2026-11-21T07:00:00.000Z",
                   "actualEndTime": "2026-11-21T06:59:00.000Z", "entries": 2, "totalTokens": 7})
    subset(fourth, {"startTime": "2026-11-21T07:00:00.000Z", "endTime": "2026-11-21T12:00:00.000Z",
                    "entries": 1, "totalTokens": 5, "models": [OPUS_41], "costUSD": 5 * 75 / 1e6,
                    "isActive": False})


def test_a_response_written_as_several_lines_is_one_entry(env):
    # One response, two lines with the same message.id and requestId: counted once, with its final output.
    first = call("2026-11-20T10:20:00.000Z", msg_id="msg_x", request_id="req_x", input=10, output=1)
    last = call("2026-11-20T10:20:01.000Z", msg_id="msg_x", request_id="req_x", input=10, output=50)
    write(env, first, last)
    with freeze_time("2026-11-21T00:00:00Z"):
        (window,) = blocks(env)["blocks"]
    assert (window["entries"], window["totalTokens"]) == (1, 60)


def test_session_length_sets_the_window_length(env):
    write(env, call("2026-11-20T10:17:00.000Z", output=1), call("2026-11-20T11:59:00.000Z", output=2),
          call("2026-11-20T12:01:00.000Z", output=4))
    with freeze_time("2026-11-22T00:00:00Z"):
        five = blocks(env)
        two = blocks(env, "--session-length", "2")
        half = blocks(env, "-l", "1.5")
    assert [(b["startTime"], b["endTime"], b["totalTokens"]) for b in five["blocks"]] == \
        [("2026-11-20T10:00:00.000Z", "2026-11-20T15:00:00.000Z", 7)]
    # 2 h: 12:01 is past 10:00 + 2 h, so it starts 12:00 to 14:00; 11:59 to 12:01 is no silence
    assert [(b["startTime"], b["endTime"], b["totalTokens"]) for b in two["blocks"]] == \
        [("2026-11-20T10:00:00.000Z", "2026-11-20T12:00:00.000Z", 3),
         ("2026-11-20T12:00:00.000Z", "2026-11-20T14:00:00.000Z", 4)]
    assert half["blocks"][0]["endTime"] == "2026-11-20T11:30:00.000Z"   # 10:00 + 1 h 30 m
    assert half["blocks"][0]["totalTokens"] == 1


def test_a_bad_session_length_is_a_usage_error(env):
    for value in ("0", "-1", "five"):
        result = env.run("blocks", "--json", "-l", value)
        assert result.code == 2, result
        first_line_is_one_error(result)


# ---------------------------------------------------------------------------
# blocks: the active window, burn rate and projection
# ---------------------------------------------------------------------------

def active_window_calls(env):
    write(env,
          call("2026-11-19T10:00:00.000Z", output=500),                        # a past window: 500 tokens
          call("2026-11-20T10:10:00.000Z", model=OPUS_41, input=500, output=500),   # 1000 tokens, $0.045
          call("2026-11-20T10:40:00.000Z", model=OPUS_41, output=2000),             # 2000 tokens, $0.15
          call("2026-11-20T11:10:00.000Z", model=OPUS_41, cache_read=3000))         # 3000 tokens, $0.0045


def test_the_active_window_has_the_npm_burn_rate_and_projection(env):
    active_window_calls(env)
    with freeze_time("2026-11-20T11:30:00Z"):
        report = blocks(env)
    past, gap, window = report["blocks"]
    assert past["isActive"] is False and past["burnRate"] is None and past["projection"] is None
    assert gap["isGap"] is True
    assert window["isActive"] is True
    assert window["totalTokens"] == 6000
    assert window["costUSD"] == pytest.approx(0.045 + 0.15 + 0.0045)
    # 6000 tokens from the first call (10:10) to the last (11:10): 60 minutes
    rate = window["burnRate"]
    assert rate["tokensPerMinute"] == pytest.approx(6000 / 60)
    assert rate["tokensPerMinuteForIndicator"] == pytest.approx((500 + 500 + 2000) / 60)   # input + output
    assert rate["costPerHour"] == pytest.approx(0.1995 / 60 * 60)
    # 11:30 to the end at 15:00: 210 minutes; 6000 + 100 * 210 = 27000 tokens
    projection = window["projection"]
    assert projection["totalTokens"] == 27000
    assert projection["remainingMinutes"] == 210
    assert projection["totalCost"] == pytest.approx(0.1995 + 0.1995 / 60 * 210, abs=0.005)   # 0.89775
    # the only past window is 500 tokens: plan auto's limit is its 90th percentile, 500
    assert report["limit"]["tokens"] == 500


@pytest.mark.parametrize("limit, percent, state", [
    (30000, 27000 / 30000 * 100, "warning"),    # 90.0
    (20000, 27000 / 20000 * 100, "exceeds"),    # 135.0
    (100000, 27000 / 100000 * 100, "ok"),       # 27.0
])
def test_token_limit_status_of_the_projection(env, limit, percent, state):
    active_window_calls(env)
    with freeze_time("2026-11-20T11:30:00Z"):
        window = real(blocks(env, "--token-limit", str(limit)))[-1]
    assert window["tokenLimitStatus"] == {"limit": limit, "projectedUsage": 27000,
                                          "percentUsed": pytest.approx(percent), "status": state}


def test_a_window_is_inactive_once_it_has_ended(env):
    active_window_calls(env)
    with freeze_time("2026-11-20T15:00:00Z"):     # the end: no longer active
        window = real(blocks(env))[-1]
    assert window["isActive"] is False and window["burnRate"] is None and window["projection"] is None
    with freeze_time("2026-11-20T14:59:59Z"):
        assert real(blocks(env))[-1]["isActive"] is True


def test_an_active_window_with_one_call_has_no_rate_yet(env):
    write(env, call("2026-11-20T10:20:00.000Z", output=100))
    with freeze_time("2026-11-20T10:30:00Z"):
        (window,) = blocks(env)["blocks"]
    assert window["isActive"] is True
    assert window["burnRate"] is None and window["projection"] is None


# ---------------------------------------------------------------------------
# blocks: --active, --recent, --order
# ---------------------------------------------------------------------------

def four_windows(env):
    write(env, call("2026-11-10T08:30:00.000Z", output=1), call("2026-11-17T10:30:00.000Z", output=2),
          call("2026-11-19T12:00:00.000Z", output=4), call("2026-11-20T11:20:00.000Z", output=8))


ALL_IDS = ["2026-11-10T08:00:00.000Z",
           "gap-2026-11-10T13:30:00.000Z",     # 08:30 + 5 h to 2026-11-17 10:30
           "2026-11-17T10:00:00.000Z",
           "gap-2026-11-17T15:30:00.000Z",     # 10:30 + 5 h to 2026-11-19 12:00
           "2026-11-19T12:00:00.000Z",
           "gap-2026-11-19T17:00:00.000Z",     # 12:00 + 5 h to 2026-11-20 11:20
           "2026-11-20T11:00:00.000Z"]


def test_active_recent_and_order(env):
    four_windows(env)
    with freeze_time("2026-11-20T12:00:00Z"):
        assert ids(blocks(env)) == ALL_IDS
        assert ids(blocks(env, "--order", "desc")) == ALL_IDS[::-1]
        active = blocks(env, "--active")
        assert ids(active) == ["2026-11-20T11:00:00.000Z"] and active["blocks"][0]["isActive"] is True
        # the last 3 days: what ends after 2026-11-17 12:00; the window of the 17th ends at 15:00
        assert ids(blocks(env, "--recent")) == ALL_IDS[2:]
        assert ids(blocks(env, "-r", "-o", "desc")) == ALL_IDS[2:][::-1]
        table = env.run("blocks", "--active")
        assert table.code == 0 and "2026-11-20 11:00" in table.out and "2026-11-19" not in table.out, table
    with freeze_time("2026-11-21T00:00:00Z"):
        assert blocks(env, "--active")["blocks"] == []
        assert env.run("blocks", "--active").out == "No active window.\n"


def test_blocks_with_no_calls(env):
    with freeze_time("2026-11-20T12:00:00Z"):
        report = blocks(env)
        assert report["blocks"] == [] and report["limit"]["tokens"] is None
        assert env.run("blocks").out == "No usage found.\n"


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------

def test_status_with_no_calls_at_all(env):
    with freeze_time("2026-11-20T12:00:00Z"):
        code, data = status(env)
        text = env.run("status")
    assert code == 0
    assert data["active"] is False and data["window"] is None
    assert data["percentUsed"] is None and data["limit"]["tokens"] is None and data["limitReached"] is False
    assert text.code == 0 and text.out.startswith("No active window"), text


def test_status_of_one_call_without_a_known_limit(env):
    # 1000 input + 2000 output at 10:20: (1000*3 + 2000*15) / 1e6 = $0.033
    write(env, call("2026-11-20T10:20:00.000Z", input=1000, output=2000))
    with freeze_time("2026-11-20T10:30:00Z"):
        code, data = status(env)
        text = env.run("status")
    assert code == 0 and text.code == 0
    assert data["active"] is True
    subset(data["window"], {"startTime": "2026-11-20T10:00:00.000Z", "endTime": "2026-11-20T15:00:00.000Z",
                            "resetsAt": "2026-11-20T15:00:00.000Z", "lastActivity": "2026-11-20T10:20:00.000Z",
                            "entries": 1, "totalTokens": 3000, "costUSD": 0.033, "models": [SONNET]})
    # since the window start (10:00) as it is under 60 minutes old: 3000 tokens in 30 minutes
    assert data["burnRate"]["spanMinutes"] == 30
    assert data["burnRate"]["tokensPerMinute"] == 100
    assert data["burnRate"]["costPerHour"] == pytest.approx(0.033 / 30 * 60)
    assert data["limit"]["tokens"] is None and data["percentUsed"] is None
    assert data["limitReachedAt"] is None and data["limitBeforeReset"] is False and data["limitReached"] is False
    lines = text.out.splitlines()
    assert lines[0].startswith("Window  2026-11-20 10:00 to 15:00, 4h 30m left (resets 15:00")
    assert "3,000 tokens" in lines[1]
    assert lines[-1] == "Limit   unknown"


def test_status_predicts_when_the_limit_is_reached(env):
    write(env, call("2026-11-20T10:20:00.000Z", input=1000, output=2000))
    with freeze_time("2026-11-20T10:30:00Z"):
        # 20000 - 3000 = 17000 tokens at 100 a minute: 170 minutes after 10:30 is 13:20, before the 15:00 reset
        code, data = status(env, "--token-limit", "20000")
        text = env.run("status", "-t", "20000").out.splitlines()
        assert code == 0
        assert data["percentUsed"] == pytest.approx(3000 / 20000 * 100)
        assert data["limitReachedAt"] == "2026-11-20T13:20:00.000Z" and data["limitBeforeReset"] is True
        assert text[-1] == "Limit   at 13:20 at this rate (in 2h 50m)"
        assert "3,000 of 20,000 tokens (15%" in text[1]
        # 30000 - 3000 = 27000 at 100 a minute: 270 minutes, 15:00, the reset itself: not before it
        code, data = status(env, "--token-limit", "30000")
        assert data["limitReachedAt"] == "2026-11-20T15:00:00.000Z" and data["limitBeforeReset"] is False
        assert env.run("status", "-t", "30000").out.splitlines()[-1] == "Limit   not before the reset at this rate"
        # 3001: not yet reached
        assert status(env, "-t", "3001")[0] == 0


@pytest.mark.parametrize("limit", [3000, 2999, 100])
def test_status_exits_3_once_the_limit_is_reached(env, limit):
    write(env, call("2026-11-20T10:20:00.000Z", input=1000, output=2000))
    with freeze_time("2026-11-20T10:30:00Z"):
        code, data = status(env, "-t", str(limit))
        text = env.run("status", "-t", str(limit))
    assert code == 3 and text.code == 3
    assert data["limitReached"] is True and data["percentUsed"] == pytest.approx(3000 / limit * 100, abs=0.05)
    assert "Limit   reached" in text.out


def test_status_burn_rate_is_over_the_last_60_minutes(env):
    # 5000 input at 10:05 ($0.015), then 600 and 1200 output at 12:10 and 12:40 ($0.009 and $0.018)
    write(env, call("2026-11-20T10:05:00.000Z", input=5000), call("2026-11-20T12:10:00.000Z", output=600),
          call("2026-11-20T12:40:00.000Z", output=1200))
    with freeze_time("2026-11-20T13:00:00Z"):
        code, data = status(env, "-t", "10000")
    rate = data["burnRate"]
    assert rate["spanMinutes"] == 60                                    # 12:00 to 13:00
    assert rate["tokensPerMinute"] == pytest.approx(1800 / 60)           # the 12:10 and 12:40 calls
    assert rate["tokensPerMinuteForIndicator"] == pytest.approx(1800 / 60)
    assert data["window"]["totalTokens"] == 6800
    assert data["percentUsed"] == pytest.approx(68.0)
    # (10000 - 6800) / 30 = 106 2/3 minutes after 13:00: 14:46:40, before the reset at 15:00
    assert data["limitReachedAt"] == "2026-11-20T14:46:40.000Z" and data["limitBeforeReset"] is True
    assert code == 0


def test_status_dollars_per_hour_are_what_the_last_60_minutes_cost(env):
    # The span's calls cost (600 + 1200) * 15 / 1e6 = $0.027 in 60 minutes: $0.027 an hour.  (The
    # 10:05 call, $0.015 of input, is outside the span; its tokens are cheaper than the span's.)
    write(env, call("2026-11-20T10:05:00.000Z", input=5000), call("2026-11-20T12:10:00.000Z", output=600),
          call("2026-11-20T12:40:00.000Z", output=1200))
    with freeze_time("2026-11-20T13:00:00Z"):
        code, data = status(env)
    assert data["burnRate"]["costPerHour"] == pytest.approx(0.027)


def test_status_burn_rate_span_is_at_least_a_minute(env):
    write(env, call("2026-11-20T10:00:00.000Z", output=600))
    with freeze_time("2026-11-20T10:00:30Z"):
        code, data = status(env)
    assert data["burnRate"]["spanMinutes"] == 1 and data["burnRate"]["tokensPerMinute"] == 600


def test_a_window_across_midnight_in_new_york_is_one_window(env):
    # New York is UTC-5 in November: 03:30Z is 22:30 on the 19th, 05:30Z is 00:30 on the 20th.
    write(env, call("2026-11-20T03:30:00.000Z", input=100), call("2026-11-20T05:30:00.000Z", output=200))
    with freeze_time("2026-11-20T06:00:00Z"):
        code, data = status(env, "-z", "America/New_York")
        text = env.run("status", "-z", "America/New_York").out.splitlines()
        report = blocks(env, "-z", "America/New_York")
        daily = env.run("daily", "--json", "-z", "America/New_York").json()
    assert code == 0
    subset(data["window"], {"startTime": "2026-11-20T03:00:00.000Z", "endTime": "2026-11-20T08:00:00.000Z",
                            "entries": 2, "totalTokens": 300})
    # 03:00Z is 22:00 on the 19th in New York, 08:00Z is 03:00; 06:00 to 08:00 is 2 hours
    assert text[0].startswith("Window  2026-11-19 22:00 to 2026-11-20 03:00, 2h 00m left (resets 03:00")
    assert [(b["startTime"], b["entries"], b["totalTokens"]) for b in report["blocks"]] == \
        [("2026-11-20T03:00:00.000Z", 2, 300)]
    # the days split it; the window counts each call once
    assert {d["date"]: d["totalTokens"] for d in daily["daily"]} == {"2026-11-19": 100, "2026-11-20": 200}
    # the span: 05:00 to 06:00 holds the 05:30 call only
    assert data["burnRate"]["tokensPerMinute"] == pytest.approx(200 / 60, abs=0.05)


def test_a_limit_message_sets_when_the_window_resets(env):
    reset = epoch("2026-11-20T14:30:00Z")
    write(env, call("2026-11-20T10:20:00.000Z", output=1000), limit_line("2026-11-20T12:00:00.000Z", reset),
          call("2026-11-20T12:30:00.000Z", output=500))
    with freeze_time("2026-11-20T13:00:00Z"):
        code, data = status(env)
        text = env.run("status").out.splitlines()
        (window,) = blocks(env)["blocks"]
    assert data["window"]["resetsAt"] == "2026-11-20T14:30:00.000Z"
    assert data["window"]["endTime"] == "2026-11-20T15:00:00.000Z"
    assert (data["window"]["entries"], data["window"]["totalTokens"]) == (2, 1500)   # the message bills nothing
    assert text[0].startswith("Window  2026-11-20 10:00 to 15:00, 1h 30m left (resets 14:30")
    assert "limit message" in " ".join(line.strip() for line in text[:2])   # 84 characters: wrapped at 80
    assert window["limitReached"] is True and window["resetsAt"] == "2026-11-20T14:30:00.000Z"
    assert (window["entries"], window["totalTokens"]) == (2, 1500)


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

def past_windows(env, totals, day=10):
    """One window a day from 2026-11-<day>, at 10:00, of each of totals' output tokens."""
    write(env, *[call(f"2026-11-{day + i:02d}T10:00:00.000Z", output=n) for i, n in enumerate(totals)])


def test_plan_auto_is_the_90th_percentile_of_past_windows(env):
    past_windows(env, [300, 100, 400, 200])
    write(env, call("2026-11-20T10:10:00.000Z", output=185))
    with freeze_time("2026-11-20T10:40:00Z"):
        code, data = status(env)
        report = blocks(env)
    # sorted 100, 200, 300, 400: rank (4 - 1) * 0.9 = 2.7, so 300 + (400 - 300) * 0.7 = 370
    assert data["limit"]["tokens"] == 370 and report["limit"]["tokens"] == 370
    assert data["percentUsed"] == pytest.approx(185 / 370 * 100)
    assert "percentile" in data["limit"]["basis"] and data["limit"]["official"] is False
    assert code == 0


def test_windows_that_hit_the_limit_decide_plan_auto(env):
    past_windows(env, [100, 200, 300, 400, 5000, 9000])
    write(env, call("2026-11-20T10:10:00.000Z", output=185))
    with freeze_time("2026-11-20T10:40:00Z"):
        # none hit the limit: all six, 100 ... 9000: rank 5 * 0.9 = 4.5, so 5000 + (9000 - 5000) * 0.5 = 7000
        assert status(env)[1]["limit"]["tokens"] == 7000
        # a limit message in each of the first four windows: only they count, 370 as above
        write(env, *[limit_line(f"2026-11-{day}T10:30:00.000Z", epoch(f"2026-11-{day}T15:00:00Z"))
                     for day in (10, 11, 12, 13)])
        code, data = status(env)
    assert data["limit"]["tokens"] == 370
    assert "limit" in data["limit"]["basis"] and "4" in data["limit"]["basis"]
    assert data["percentUsed"] == pytest.approx(185 / 370 * 100)


def test_token_limit_max_is_the_largest_past_window(env):
    past_windows(env, [100, 1000, 300])
    write(env, call("2026-11-20T10:10:00.000Z", output=5000))    # the active window is not a past one
    with freeze_time("2026-11-20T10:40:00Z"):
        code, data = status(env, "--token-limit", "max")
        report = blocks(env, "-t", "max")
    assert data["limit"]["tokens"] == 1000 and report["limit"]["tokens"] == 1000
    assert data["percentUsed"] == pytest.approx(500.0)
    assert code == 3


def test_token_limit_max_without_history_is_unknown(env):
    write(env, call("2026-11-20T10:10:00.000Z", output=5000))
    with freeze_time("2026-11-20T10:40:00Z"):
        code, data = status(env, "-t", "max")
    assert code == 0 and data["limit"]["tokens"] is None and data["percentUsed"] is None


@pytest.mark.parametrize("plan, tokens", [("pro", 10_000_000), ("max5", 50_000_000), ("max20", 200_000_000),
                                          ("MAX5", 50_000_000)])
def test_plans_use_the_built_in_estimates(env, plan, tokens):
    past_windows(env, [100, 200])     # ignored: a plan is named
    write(env, call("2026-11-20T10:10:00.000Z", output=1_000_000))
    with freeze_time("2026-11-20T10:40:00Z"):
        code, data = status(env, "--plan", plan)
        text = env.run("status", "--plan", plan).out
        report = blocks(env, "--plan", plan)
    assert data["limit"]["tokens"] == tokens and report["limit"]["tokens"] == tokens
    assert "estimate" in data["limit"]["basis"] and "estimate" in text
    assert data["percentUsed"] == pytest.approx(1_000_000 / tokens * 100)
    assert code == 0


def test_plan_custom_needs_a_token_limit(env):
    write(env, call("2026-11-20T10:10:00.000Z", output=100))
    with freeze_time("2026-11-20T10:40:00Z"):
        for command in ("status", "blocks"):
            result = env.run(command, "--plan", "custom")
            assert result.code == 2, result
            first_line_is_one_error(result)
            assert "token" in result.err
        code, data = status(env, "--plan", "custom", "--token-limit", "400")
    assert data["limit"]["tokens"] == 400 and data["percentUsed"] == pytest.approx(25.0)


def test_a_bad_token_limit_is_a_usage_error(env):
    for value in ("0", "-3", "lots", "1.5"):
        result = env.run("status", "--token-limit", value)
        assert result.code == 2, result
        first_line_is_one_error(result)


# ---------------------------------------------------------------------------
# Official figures
# ---------------------------------------------------------------------------

def insert_rate_limits(env, *rows):
    """rows of (window, captured_at ISO, used percentage, resets_at ISO) into the store's rate_limits."""
    conn = sqlite3.connect(env.db)
    with conn:
        conn.executemany("INSERT INTO rate_limits (window, captured_at, used_percentage, resets_at) "
                         "VALUES (?, ?, ?, ?)",
                         [(w, ms(captured), used, epoch(resets)) for w, captured, used, resets in rows])
    conn.close()


def test_official_figures_win_while_they_are_current(env):
    write(env, call("2026-11-20T10:20:00.000Z", output=3000))
    with freeze_time("2026-11-20T13:00:00Z"):
        assert status(env, "-t", "10000")[1]["official"] is None      # creates the store
        insert_rate_limits(env,
                           ("five_hour", "2026-11-20T11:00:00Z", 90.0, "2026-11-20T14:00:00Z"),   # older
                           ("five_hour", "2026-11-20T12:50:00Z", 42.0, "2026-11-20T14:00:00Z"),
                           ("seven_day", "2026-11-20T12:50:00Z", 17.0, "2026-11-24T09:00:00Z"))
        code, data = status(env, "-t", "10000")
        text = env.run("status", "-t", "10000").out.splitlines()
    assert code == 0
    assert data["percentUsed"] == pytest.approx(42.0)
    assert data["limit"]["official"] is True
    assert data["official"] == {"usedPercentage": 42.0, "resetsAt": "2026-11-20T14:00:00.000Z",
                                "capturedAt": "2026-11-20T12:50:00.000Z"}
    assert data["weekly"] == {"usedPercentage": 17.0, "resetsAt": "2026-11-24T09:00:00.000Z",
                              "capturedAt": "2026-11-20T12:50:00.000Z"}
    assert data["window"]["resetsAt"] == "2026-11-20T14:00:00.000Z"
    assert any(line.startswith("Used    42% (official, 10m ago)") for line in text), text
    # 2026-11-24 is a Tuesday (the 20th is a Friday)
    assert "Week    17% used (official, 10m ago), resets Tue 09:00" in text
    assert text[0].startswith("Window  2026-11-20 10:00 to 15:00, 1h 00m left (resets 14:00")


def test_official_figure_at_100_percent_exits_3(env):
    write(env, call("2026-11-20T10:20:00.000Z", output=3000))
    with freeze_time("2026-11-20T13:00:00Z"):
        status(env)
        insert_rate_limits(env, ("five_hour", "2026-11-20T12:55:00Z", 100.0, "2026-11-20T14:00:00Z"))
        code, data = status(env, "-t", "1000000")
        assert env.run("status").code == 3
    assert code == 3 and data["limitReached"] is True and data["percentUsed"] == pytest.approx(100.0)


def test_stale_official_figures_are_ignored(env):
    write(env, call("2026-11-20T10:20:00.000Z", output=3000))
    with freeze_time("2026-11-20T13:00:00Z"):
        status(env)
        insert_rate_limits(env, ("five_hour", "2026-11-20T07:00:00Z", 80.0, "2026-11-20T12:00:00Z"),
                           ("seven_day", "2026-11-13T13:00:00Z", 55.0, "2026-11-20T12:59:00Z"))
        code, data = status(env, "-t", "10000")
        text = env.run("status", "-t", "10000").out
    assert data["official"] is None and data["weekly"] is None and data["limit"]["official"] is False
    assert data["percentUsed"] == pytest.approx(3000 / 10000 * 100)
    assert data["window"]["resetsAt"] == "2026-11-20T15:00:00.000Z"
    assert "official" not in text and "Week" not in text
    assert code == 0


def test_weekly_figure_without_an_active_window(env):
    write(env, call("2026-11-20T10:20:00.000Z", output=3000))
    with freeze_time("2026-11-21T00:00:00Z"):
        status(env)
        insert_rate_limits(env, ("seven_day", "2026-11-20T23:00:00Z", 17.0, "2026-11-24T09:00:00Z"))
        code, data = status(env)
        text = env.run("status").out
    assert code == 0 and data["active"] is False
    assert data["weekly"]["usedPercentage"] == 17.0
    assert text.startswith("No active window") and "Week    17% used (official, 1h 00m ago)" in text


# ---------------------------------------------------------------------------
# Windows count what the reports count
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["auto", "calculate"])
def test_windows_add_up_to_the_daily_report(env, synth, mode):
    tree = synth(3)
    with freeze_time("2026-11-20T18:30:00Z"):
        report = blocks(env, "--mode", mode)
        daily = env.run("daily", "--json", "--mode", mode).json()
        code, current = status(env, "--mode", mode)
    windows = real(report)
    totals = daily["totals"]
    sums = tuple(sum(w["tokenCounts"][k] for w in windows)
                 for k in ("inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens"))
    assert sums == tokens_of(totals)
    t = tree.truth.total
    assert sums == (t.input, t.output, t.cache_creation, t.cache_read)
    assert sum(w["totalTokens"] for w in windows) == totals["totalTokens"]
    assert sum(w["entries"] for w in windows) == t.responses
    assert sum(w["costUSD"] for w in windows) == pytest.approx(totals["totalCost"], abs=1e-6 * len(windows))
    assert totals["totalCost"] > 0
    # every window: on the hour, 5 hours long, its calls inside it; gaps between calls
    for w in report["blocks"]:
        start, end = ms(w["startTime"]), ms(w["endTime"])
        if w["isGap"]:
            assert end - start > 0
            continue
        assert start % 3_600_000 == 0 and end - start == 5 * 3_600_000
        assert start <= ms(w["actualEndTime"]) <= end
    # the live session ends at 18:00: one active window, the one status shows
    active = [w for w in windows if w["isActive"]]
    assert len(active) == 1
    assert current["window"]["totalTokens"] == active[0]["totalTokens"]
    assert current["window"]["costUSD"] == pytest.approx(active[0]["costUSD"])


def test_a_call_after_the_limit_message_reset_starts_a_new_window(env):
    # The limit message says the limit resets at 12:00, before the computed end (15:00).  That moment
    # wins over the end, so the window ends at 12:00 and the 12:30 call is the first after it: it
    # starts a new window, 12:00 to 17:00, holding its 700 tokens alone.
    write(env, call("2026-11-20T10:20:00.000Z", output=1000),
          limit_line("2026-11-20T10:30:00.000Z", epoch("2026-11-20T12:00:00Z")),
          call("2026-11-20T12:30:00.000Z", output=700))
    with freeze_time("2026-11-20T12:45:00Z"):
        code, data = status(env)
    assert ms(data["window"]["resetsAt"]) > ms("2026-11-20T12:45:00Z"), data["window"]
    subset(data["window"], {"startTime": "2026-11-20T12:00:00.000Z", "endTime": "2026-11-20T17:00:00.000Z",
                            "entries": 1, "totalTokens": 700})


def test_recent_windows_do_not_start_with_a_gap(env):
    # 10 days ago, then 2 days ago: the gap between them begins before the last 3 days.
    write(env, call("2026-11-10T10:00:00.000Z", output=10), call("2026-11-18T10:00:00.000Z", output=20))
    with freeze_time("2026-11-20T12:00:00Z"):
        report = blocks(env, "--recent")
    assert [b["isGap"] for b in report["blocks"]] == [False]
    assert report["blocks"][0]["startTime"] == "2026-11-18T10:00:00.000Z"


def test_status_fits_80_columns(env):
    write(env, call("2026-11-19T10:00:00.000Z", output=900_000_000),
          call("2026-11-20T10:00:00.000Z", output=800_000_000), call("2026-11-20T11:00:00.000Z", output=5))
    with freeze_time("2026-11-20T11:30:00Z"):
        result = env.run("status", "-z", "UTC")
    assert "percentile" in result.out
    assert all(len(line) <= 80 for line in result.out.splitlines()), result.out


def blocks_fixture(env):
    """Windows on three days, two projects: game on the 20th and 22nd, web on the 21st."""
    for session, cwd, ts, output in (("g1", "/home/u/game", "2026-11-20T09:10:00.000Z", 100),
                                     ("w1", "/home/u/web", "2026-11-21T09:10:00.000Z", 200),
                                     ("g2", "/home/u/game", "2026-11-22T09:10:00.000Z", 300)):
        write_lines(env.log(session, cwd=cwd), [assistant_line(ts=ts, session=session, cwd=cwd, output=output)])


def test_blocks_take_the_reports_dates_project_and_csv(env):
    blocks_fixture(env)
    with freeze_time("2026-11-30T12:00:00Z"):
        every = env.run("blocks", "--json", "-z", "UTC").json()["blocks"]
        dated = env.run("blocks", "--json", "-z", "UTC", "--since", "2026-11-21", "--until", "2026-11-21").json()
        game = env.run("blocks", "--json", "-z", "UTC", "-p", "game").json()["blocks"]
        csv_text = env.run("blocks", "--csv", "-z", "UTC", "--since", "2026-11-21").out
    assert [b["startTime"] for b in every if not b["isGap"]] == [
        "2026-11-20T09:00:00.000Z", "2026-11-21T09:00:00.000Z", "2026-11-22T09:00:00.000Z"]
    assert [(b["startTime"], b["tokenCounts"]["outputTokens"]) for b in dated["blocks"]] == [
        ("2026-11-21T09:00:00.000Z", 200)]
    assert [(b["startTime"], b["tokenCounts"]["outputTokens"]) for b in game if not b["isGap"]] == [
        ("2026-11-20T09:00:00.000Z", 100), ("2026-11-22T09:00:00.000Z", 300)]
    lines = csv_text.splitlines()
    assert lines[0].split(",")[:6] == ["window_start", "window_end", "last_call", "active", "limit_reached", "calls"]
    assert [line.split(",")[0] for line in lines[1:]] == ["2026-11-21T09:00:00.000Z", "2026-11-22T09:00:00.000Z"]
    assert lines[1].split(",")[6:8] == ["0", "200"]   # input and output tokens


def test_blocks_with_a_day_in_another_zone(env):
    blocks_fixture(env)
    with freeze_time("2026-11-30T12:00:00Z"):
        # 09:00 UTC on the 21st is the 21st in Tokyo too (18:00), but the 20th's window is the 20th there.
        tokyo = env.run("blocks", "--json", "-z", "Asia/Tokyo", "--until", "2026-11-20").json()["blocks"]
    assert [b["startTime"] for b in tokyo] == ["2026-11-20T09:00:00.000Z"]
