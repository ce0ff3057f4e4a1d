"""Limits: Claude Code 2.x limit messages, the limit predicted from the official series, and the limit learned
from official figures and limit hits."""

import io
import json
import sys
from datetime import datetime

import pytest
from freezegun import freeze_time

import ccusage
from logsynth import assistant_line, write_lines

SONNET = "claude-sonnet-4-5-20250929"    # USD per million: output 15
MINUTE = 60_000


def ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def epoch(text):
    return ms(text) // 1000


def call(ts, output):
    return assistant_line(ts=ts, model=SONNET, output=output)


def limit_message(ts, text, session="hand-session"):
    """Claude Code 2.x's limit message: a <synthetic> assistant line with "error": "rate_limit"."""
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/u/proj",
            "sessionId": session, "version": "2.1.104", "type": "assistant", "error": "rate_limit",
            "isApiErrorMessage": True, "uuid": "00000000-0000-4000-c000-000000000001", "timestamp": ts,
            "message": {"id": "f3b0c1d2-0000-4000-8000-000000000001", "model": "<synthetic>", "role": "assistant",
                        "type": "message", "content": [{"type": "text", "text": text}],
                        "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                  "cache_read_input_tokens": 0}}}


# ---------------------------------------------------------------------------
# Claude Code 2.x limit messages
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("said_at, text, resets", [
    # 10:00 UTC is 18:00 in Shanghai (UTC+8): the next 7pm there is 11:00 UTC
    ("2026-02-20T10:00:00.000Z", "You've hit your limit · resets 7pm (Asia/Shanghai)", "2026-02-20T11:00:00Z"),
    # 12:00 UTC is 20:00 there: 7pm has passed, so the next day's
    ("2026-02-20T12:00:00.000Z", "You've hit your limit · resets 7pm (Asia/Shanghai)", "2026-02-21T11:00:00Z"),
    # 15:30 in India (UTC+5:30): the next 00:50 is the 21st's, 19:20 UTC on the 20th
    ("2026-02-20T10:00:00.000Z", "You've hit your limit · resets 12:50am (Asia/Calcutta)", "2026-02-20T19:20:00Z"),
    # summer in Brussels (UTC+2): 5pm is 15:00 UTC
    ("2026-07-01T10:00:00.000Z", "You're out of extra usage · resets 5pm (Europe/Brussels)", "2026-07-01T15:00:00Z"),
    # a date: Paris in February is UTC+1
    ("2026-02-20T10:00:00.000Z", "You're out of extra usage · resets Feb 22 at 1pm (Europe/Paris)",
     "2026-02-22T12:00:00Z"),
    # a date in January said in December is next year's (New York in winter is UTC-5)
    ("2026-12-30T12:00:00.000Z", "You've hit your limit · resets Jan 2 at 9am (America/New_York)",
     "2027-01-02T14:00:00Z"),
])
def test_the_reset_of_a_2x_message(said_at, text, resets):
    line = json.dumps(limit_message(said_at, text)).encode()
    assert ccusage.parse_limit_reset(line) == (ms(said_at), epoch(resets))


@pytest.mark.parametrize("text", ["You've hit your limit", "You've hit your limit · resets 7pm (Mars/Olympus)",
                                  "You've hit your limit · resets 25pm (Europe/Paris)",
                                  "You're out of extra usage · resets Feb 30 at 1pm (Europe/Paris)"])
def test_a_2x_message_without_a_reset_it_can_tell_is_none(text):
    assert ccusage.parse_limit_reset(json.dumps(limit_message("2026-02-20T10:00:00.000Z", text)).encode()) is None


def test_the_1x_message_is_still_read():
    text = f"Claude AI usage limit reached|{epoch('2026-11-20T12:00:00Z')}"
    line = json.dumps({"timestamp": "2026-11-20T10:30:00.000Z", "type": "assistant",
                       "message": {"content": [{"type": "text", "text": text}]}})
    assert ccusage.parse_limit_reset(line.encode()) == (ms("2026-11-20T10:30:00Z"), epoch("2026-11-20T12:00:00Z"))


def test_a_5_hour_limit_hit_ends_its_window_and_shows_in_blocks(env):
    # 10:30 UTC is 11:30 in Berlin: the limit resets at 1pm there, 12:00 UTC, before the window's 15:00 end.
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 1000),
                            limit_message("2026-11-20T10:30:00.000Z",
                                          "You've hit your limit · resets 1pm (Europe/Berlin)"),
                            call("2026-11-20T12:30:00.000Z", 700)])
    with freeze_time("2026-11-20T12:45:00Z"):
        data = env.run("blocks", "--json").json()
        text = env.run("blocks", "-z", "UTC").out
    first, second = [b for b in data["blocks"] if not b["isGap"]]
    assert (first["limitReached"], first["weeklyLimitReached"], first["resetsAt"]) == \
        (True, False, "2026-11-20T12:00:00.000Z")
    assert (second["startTime"], second["totalTokens"], second["limitReached"]) == \
        ("2026-11-20T12:00:00.000Z", 700, False)
    assert "10:20 limit" in text


def test_a_weekly_limit_hit_leaves_the_window_alone(env):
    # The reset is days away (Nov 23, 9am in Berlin): the weekly limit's.  The window keeps its 15:00 end,
    # so the 12:30 call stays in it.
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 1000),
                            limit_message("2026-11-20T10:30:00.000Z",
                                          "You're out of extra usage · resets Nov 23 at 9am (Europe/Berlin)"),
                            call("2026-11-20T12:30:00.000Z", 700)])
    with freeze_time("2026-11-20T12:45:00Z"):
        data = env.run("blocks", "--json").json()
        text = env.run("blocks", "-z", "UTC").out
    (window,) = [b for b in data["blocks"] if not b["isGap"]]
    assert (window["limitReached"], window["weeklyLimitReached"], window["resetsAt"], window["totalTokens"]) == \
        (False, True, "2026-11-20T15:00:00.000Z", 1700)
    assert "12:30 now weekly limit" in text


def test_plan_auto_learns_from_windows_that_hit_a_2x_limit(env):
    # Two past windows ended in a 2.x limit message, at 100,000 and 200,000 tokens: the 90th percentile of
    # those is 190,000 (no official figures to learn from).
    write_lines(env.log(), [call("2026-11-18T10:20:00.000Z", 100_000),
                            limit_message("2026-11-18T10:30:00.000Z", "You've hit your limit · resets 3pm (UTC)"),
                            call("2026-11-19T10:20:00.000Z", 200_000),
                            limit_message("2026-11-19T10:30:00.000Z", "You've hit your limit · resets 3pm (UTC)"),
                            call("2026-11-20T10:20:00.000Z", 95_000)])
    with freeze_time("2026-11-20T13:00:00Z"):
        data = env.run("status", "--json").json()
    assert data["limit"] == {"tokens": 190_000, "basis": "90th percentile of 2 windows that hit the limit",
                             "official": False}
    assert data["percentUsed"] == pytest.approx(50.0)


# ---------------------------------------------------------------------------
# The limit predicted from the official series
# ---------------------------------------------------------------------------

def test_the_prediction_of_a_series_with_a_known_slope():
    # From 40% at 12:00, 20% an hour (a third of a percent a minute), captured every minute for 30 minutes
    # with a jitter of up to 0.9 points: 100% comes at 15:00.
    start = ms("2026-11-20T12:00:00Z")
    jitter = [0.9, -0.4, 0.2, -0.9, 0.5, 0.0, -0.6, 0.8, -0.2, 0.3]
    series = [(start + n * MINUTE, 40 + n / 3 + jitter[n % len(jitter)]) for n in range(31)]
    now = start + 30 * MINUTE
    prediction = ccusage.predict_official_limit(series, now, ms("2026-11-20T16:00:00Z"))
    truth = ms("2026-11-20T15:00:00Z")
    assert abs(prediction.at - truth) <= 0.10 * (truth - now)
    assert prediction.span_ms == 30 * MINUTE and prediction.points == 31
    assert prediction.rate_per_hour == pytest.approx(20, abs=2)


def test_no_prediction_past_the_reset_or_without_a_rate():
    start = ms("2026-11-20T12:00:00Z")
    rising = [(start + n * MINUTE, 10 + n / 6) for n in range(31)]     # 10% an hour, 15% at 12:30: 100% at 21:00
    falling = [(start + n * MINUTE, 50 - n / 6) for n in range(31)]
    now, resets = start + 30 * MINUTE, ms("2026-11-20T16:00:00Z")
    assert ccusage.predict_official_limit(rising, now, resets).at is None
    assert ccusage.predict_official_limit(rising, now, resets).span_ms == 30 * MINUTE
    assert ccusage.predict_official_limit(falling, now, resets).at is None
    single = ccusage.predict_official_limit(rising[-1:], now, resets)
    assert (single.at, single.span_ms) == (None, 0)


def feed(env, monkeypatch, moment, five_hour=None, seven_day=None):
    """One status-line refresh at moment with these official figures ((percent, resets ISO))."""
    limits = {}
    for name, figure in (("five_hour", five_hour), ("seven_day", seven_day)):
        if figure:
            limits[name] = {"used_percentage": figure[0], "resets_at": epoch(figure[1])}
    payload = {"session_id": "s1", "model": {"display_name": "Opus"}, "rate_limits": limits}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
    with freeze_time(moment):
        result = env.run("statusline")
    assert result.code == 0, result


def test_status_predicts_the_limit_from_the_recorded_series(env, monkeypatch):
    # Status-line refreshes every 2 minutes from 12:00 to 12:30, the official figure climbing 20% an hour from
    # 40%, reset at 16:00: 100% at 15:00, in 150 minutes at 12:30.
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 1000)])
    for n in range(16):
        feed(env, monkeypatch, f"2026-11-20T12:{2 * n:02d}:00Z", five_hour=(40 + 2 * n / 3, "2026-11-20T16:00:00Z"))
    with freeze_time("2026-11-20T12:30:00Z"):
        data = env.run("status", "--json").json()
        text = env.run("status", "-z", "UTC").out
    predicted = ms(data["officialPrediction"]["limitAt"])
    assert abs(predicted - ms("2026-11-20T15:00:00Z")) <= 0.10 * 150 * MINUTE
    assert data["officialPrediction"]["spanMinutes"] == 30.0 and data["officialPrediction"]["captures"] == 16
    assert data["limitBeforeReset"] is True
    assert "Limit   at 15:00 (in 2h 30m; official +20%/hour over the last 30m)" in text


def test_status_says_not_before_the_reset_from_a_slow_series(env, monkeypatch):
    write_lines(env.log(), [call("2026-11-20T10:20:00.000Z", 1000)])
    for n in range(4):
        feed(env, monkeypatch, f"2026-11-20T12:{10 * n:02d}:00Z", five_hour=(20 + n, "2026-11-20T14:00:00Z"))
    with freeze_time("2026-11-20T12:30:00Z"):
        text = env.run("status").out
        data = env.run("status", "--json").json()
    assert "Limit   not before the reset (official +6%/hour over the last 30m)" in text
    assert data["officialPrediction"]["limitAt"] is None and data["limitBeforeReset"] is False


# ---------------------------------------------------------------------------
# The limit learned from official figures
# ---------------------------------------------------------------------------

def test_plan_auto_prefers_the_limit_learned_from_official_figures(env, monkeypatch):
    # The hidden limit is 400,000 tokens.  Nov 17: 200,000 tokens counted when the status line said 50%.
    # Nov 18: 80,000 when it said 20% (a later call, after that figure, does not count to it).  Nov 19: a
    # window that ended in a limit message at 390,000.  Each says what 100% is: 400,000, 400,000, 390,000;
    # the median is 400,000.
    write_lines(env.log(), [call("2026-11-17T10:10:00.000Z", 100_000), call("2026-11-17T11:10:00.000Z", 100_000),
                            call("2026-11-18T10:10:00.000Z", 80_000), call("2026-11-18T11:00:00.000Z", 50_000),
                            call("2026-11-19T10:10:00.000Z", 390_000),
                            limit_message("2026-11-19T10:30:00.000Z", "You've hit your limit · resets 3pm (UTC)"),
                            call("2026-11-20T10:20:00.000Z", 100_000)])
    feed(env, monkeypatch, "2026-11-17T11:30:00Z", five_hour=(50, "2026-11-17T15:00:00Z"))
    feed(env, monkeypatch, "2026-11-18T10:30:00Z", five_hour=(20, "2026-11-18T15:00:00Z"))
    with freeze_time("2026-11-20T13:00:00Z"):
        data = env.run("status", "--json").json()
        text = env.run("status").out
        pinned = env.run("status", "--json", "--plan", "pro").json()
        prompt = env.run("prompt", "--format", "{used} {used_kind}").out
    assert data["limit"]["tokens"] == 400_000 and data["limit"]["official"] is False
    # the cost of each: $3.00 at 50% and $1.20 at 20% ($6.00 each), $5.85 at the hit
    assert data["limit"]["basis"] == "learned from 2 official figures and 1 limit hit, about $6.00 a window"
    assert data["percentUsed"] == pytest.approx(25.0)
    assert "Used    100,000 of 400,000 tokens (25%, estimated)" in text
    assert "limit: learned from 2 official figures and 1 limit hit" in text
    assert pinned["limit"]["tokens"] == 10_000_000
    assert prompt == "~25% estimated\n"
