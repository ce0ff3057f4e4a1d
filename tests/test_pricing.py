"""Costs, worked out here by hand.

Rates are USD per million tokens from shared/reference/pricing/
claude_price_table_per_mtok.csv (input, 5-minute cache write, 1-hour cache
write, cache read, output); web searches cost $10 per 1,000.
"""

import json

import pytest

from logsynth import assistant_line, write_lines
from support import first_line_is_one_error

M = 1_000_000
SEARCH = 0.01
# (input, 5m write, 1h write, cache read, output) of the models the generator writes.
RATES = {
    "claude-sonnet-4-5-20250929": (3, 3.75, 6, 0.3, 15),
    "claude-sonnet-4-6": (3, 3.75, 6, 0.3, 15),
    "claude-sonnet-4-20250514": (3, 3.75, 6, 0.3, 15),
    "claude-opus-4-6": (5, 6.25, 10, 0.5, 25),
    "claude-opus-4-5-20251101": (5, 6.25, 10, 0.5, 25),
    "claude-opus-4-1-20250805": (15, 18.75, 30, 1.5, 75),
    "claude-opus-4-20250514": (15, 18.75, 30, 1.5, 75),
    "claude-haiku-4-5-20251001": (1, 1.25, 2, 0.1, 5),
    "claude-3-5-haiku-20241022": (0.8, 1, 1.6, 0.08, 4),
    # Bedrock: regional endpoints of 4.5 models cost 1.1x, global ones 1x
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": tuple(1.1 * r for r in (3, 3.75, 6, 0.3, 15)),
    "global.anthropic.claude-haiku-4-5-20251001-v1:0": (1, 1.25, 2, 0.1, 5),
}


def daily(env, *args):
    return env.run("daily", "--json", "-z", "UTC", *args).json()


def cost_of(env, lines, *args):
    write_lines(env.log(), lines)
    return daily(env, *args)["totals"]["totalCost"]


CASES = [
    pytest.param(dict(model="claude-sonnet-4-5-20250929", input=1_000, output=2_000),
                 (1_000 * 3 + 2_000 * 15) / M, id="plain"),
    pytest.param(dict(model="claude-opus-4-6", input=10, cache_5m=100_000),
                 (10 * 5 + 100_000 * 6.25) / M, id="5-minute cache write"),
    pytest.param(dict(model="claude-opus-4-6", input=10, cache_1h=100_000),
                 (10 * 5 + 100_000 * 10) / M, id="1-hour cache write"),
    pytest.param(dict(model="claude-opus-4-6", input=10, cache_5m=30_000, cache_1h=70_000),
                 (10 * 5 + 30_000 * 6.25 + 70_000 * 10) / M, id="both cache writes"),
    pytest.param(dict(model="claude-haiku-4-5-20251001", input=3, cache_read=1_000_000, output=100),
                 (3 * 1 + 1_000_000 * 0.1 + 100 * 5) / M, id="cache read"),
    pytest.param(dict(model="claude-sonnet-4-6", input=100, output=200, web_searches=3),
                 (100 * 3 + 200 * 15) / M + 3 * SEARCH, id="web searches"),
    # Fast mode: Opus 4.6 cost $30/$150 (6x) while it had it; cache reads stay 0.1x of the input price.
    pytest.param(dict(model="claude-opus-4-6", input=1_000, cache_read=20_000, output=2_000, speed="fast",
                      ts="2026-05-10T12:00:00.000Z"),
                 (1_000 * 30 + 20_000 * 3 + 2_000 * 150) / M, id="fast opus 4.6"),
    pytest.param(dict(model="claude-opus-4-8", input=1_000, cache_read=20_000, output=2_000, speed="fast"),
                 (1_000 * 10 + 20_000 * 1 + 2_000 * 50) / M, id="fast opus 4.8"),
    pytest.param(dict(model="claude-opus-4-8", input=1_000, output=2_000, speed="fast", inference_geo="us"),
                 1.1 * (1_000 * 10 + 2_000 * 50) / M, id="fast and US-only opus 4.8"),
    pytest.param(dict(model="claude-sonnet-4-6", input=1_000, output=1_000, inference_geo="us"),
                 1.1 * (1_000 * 3 + 1_000 * 15) / M, id="US-only sonnet 4.6"),
    pytest.param(dict(model="claude-sonnet-4-5-20250929", input=1_000, output=1_000, inference_geo="us"),
                 (1_000 * 3 + 1_000 * 15) / M, id="US-only before 4.6 costs no more"),
    pytest.param(dict(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", input=1_000, output=1_000),
                 1.1 * (1_000 * 3 + 1_000 * 15) / M, id="bedrock regional"),
    pytest.param(dict(model="global.anthropic.claude-sonnet-4-5-20250929-v1:0", input=1_000, output=1_000),
                 (1_000 * 3 + 1_000 * 15) / M, id="bedrock global"),
    pytest.param(dict(model="claude-opus-4-5@20251101", input=1_000, cache_5m=1_000, output=1_000),
                 (1_000 * 5 + 1_000 * 6.25 + 1_000 * 25) / M, id="vertex"),
    # Routers' spellings seen in real transcripts: the family after the version, dots, a "-thinking" suffix.
    pytest.param(dict(model="anthropic/claude-4.7-opus-20260416", input=1_000, output=1_000),
                 (1_000 * 5 + 1_000 * 25) / M, id="router: version before family"),
    pytest.param(dict(model="claude-opus-4-6-thinking", input=1_000, output=1_000),
                 (1_000 * 5 + 1_000 * 25) / M, id="router: thinking suffix"),
    pytest.param(dict(model="claude-3.5-sonnet", input=1_000, output=1_000),
                 (1_000 * 3 + 1_000 * 15) / M, id="claude 3.5 keeps its own order"),
    # Sonnet 4.5 over 200k prompt tokens (input + cache writes + cache reads), until 2026-03-28.
    pytest.param(dict(model="claude-sonnet-4-5-20250929", input=10_000, cache_5m=40_000, cache_1h=10_000,
                      cache_read=160_000, output=5_000, ts="2026-03-20T12:00:00.000Z"),
                 (10_000 * 6 + 40_000 * 7.5 + 10_000 * 12 + 160_000 * 0.6 + 5_000 * 22.5) / M,
                 id="long context before 2026-03-28"),
    pytest.param(dict(model="claude-sonnet-4-5-20250929", input=10_000, cache_5m=40_000, cache_1h=10_000,
                      cache_read=160_000, output=5_000, ts="2026-04-05T12:00:00.000Z"),
                 (10_000 * 3 + 40_000 * 3.75 + 10_000 * 6 + 160_000 * 0.3 + 5_000 * 15) / M,
                 id="long context after 2026-03-28"),
    pytest.param(dict(model="claude-sonnet-4-5-20250929", cache_read=200_000, output=1_000,
                      ts="2026-03-20T12:00:00.000Z"),
                 (200_000 * 0.3 + 1_000 * 15) / M, id="exactly 200k is not over"),
    pytest.param(dict(model="claude-opus-4-20250514", input=1_000, output=1_000),
                 (1_000 * 15 + 1_000 * 75) / M, id="opus 4"),
    pytest.param(dict(model="claude-opus-4-6", input=1_000, output=1_000),
                 (1_000 * 5 + 1_000 * 25) / M, id="opus 4.6"),
    pytest.param(dict(model="claude-opus-4-1-20250805", input=1_000, output=1_000),
                 (1_000 * 15 + 1_000 * 75) / M, id="opus 4.1"),
    pytest.param(dict(model="claude-3-5-haiku-20241022", input=1_000, cache_read=10_000, output=1_000),
                 (1_000 * 0.8 + 10_000 * 0.08 + 1_000 * 4) / M, id="haiku 3.5"),
    # 1.x logs have no cache_creation split: every cache write is a 5-minute one.
    pytest.param(dict(model="claude-sonnet-4-20250514", input=10, cache_5m=10_000, split=False),
                 (10 * 3 + 10_000 * 3.75) / M, id="no cache split"),
]


@pytest.mark.parametrize("fields, expected", CASES)
def test_cost_of_one_call(env, fields, expected):
    assert cost_of(env, [assistant_line(**fields)]) == pytest.approx(expected, abs=1e-6)


def test_long_context_is_decided_call_by_call(env):
    day = "2026-03-20T12:00:00.000Z"
    big = assistant_line(input=50_000, cache_read=200_000, output=1_000, ts=day)
    small = assistant_line(input=50_000, cache_read=100_000, output=1_000, ts=day)
    expected = (50_000 * 6 + 200_000 * 0.6 + 1_000 * 22.5) / M + (50_000 * 3 + 100_000 * 0.3 + 1_000 * 15) / M
    assert cost_of(env, [big, small]) == pytest.approx(expected, abs=1e-6)


def test_opus_4_and_opus_4_6_are_never_confused(env):
    report = cost_report(env, [assistant_line(model="claude-opus-4-20250514", input=1_000, output=1_000),
                               assistant_line(model="claude-opus-4-6", input=1_000, output=1_000)])
    costs = {part["modelName"]: part["cost"] for part in report["daily"][0]["modelBreakdowns"]}
    assert costs == {"claude-opus-4-20250514": pytest.approx((1_000 * 15 + 1_000 * 75) / M),
                     "claude-opus-4-6": pytest.approx((1_000 * 5 + 1_000 * 25) / M)}


def cost_report(env, lines, *args):
    write_lines(env.log(), lines)
    return daily(env, *args)


def test_generated_costs_follow_the_price_table(env, synth):
    tree = synth(8)
    report = daily(env)
    got = {(day["date"], part["modelName"]): part["cost"] for day in report["daily"]
           for part in day["modelBreakdowns"]}
    expected = {}
    for day, models in tree.truth.days.items():
        for model, t in models.items():
            r_in, r_5m, r_1h, r_read, r_out = RATES[model]
            expected[(day, model)] = pytest.approx(
                (t.input * r_in + (t.cache_creation - t.cache_1h) * r_5m + t.cache_1h * r_1h
                 + t.cache_read * r_read + t.output * r_out) / M + t.web_searches * SEARCH, abs=2e-6)
    assert got == expected


# ---------------------------------------------------------------------------
# Models without a price
# ---------------------------------------------------------------------------

def test_an_unknown_model_is_never_free(env):
    known = assistant_line(input=1_000, output=1_000, ts="2026-11-20T10:00:00.000Z")
    unknown = [assistant_line(model="claude-foo-9", input=5_000, output=5_000, ts=ts)
               for ts in ("2026-11-20T11:00:00.000Z", "2026-11-21T11:00:00.000Z")]
    write_lines(env.log(), [known] + unknown)
    result = env.run("daily", "--json", "-z", "UTC")
    report = result.json()
    sonnet = (1_000 * 3 + 1_000 * 15) / M
    first, second = report["daily"]
    assert {p["modelName"]: p["cost"] for p in first["modelBreakdowns"]} == \
        {"claude-sonnet-4-5-20250929": pytest.approx(sonnet), "claude-foo-9": None}
    assert first["totalCost"] == pytest.approx(sonnet)
    assert second["modelBreakdowns"][0]["cost"] is None
    assert report["totals"]["totalCost"] == pytest.approx(sonnet)
    assert report["totals"]["unpricedModels"] == ["claude-foo-9"]
    assert "claude-foo-9" in result.err
    table = env.run("daily", "-z", "UTC").out.splitlines()
    row = {line.split()[0]: line for line in table if line[:4].isdigit()}
    assert row["2026-11-21"].rstrip().endswith("?")
    assert row["2026-11-20"].rstrip().endswith("*")


# ---------------------------------------------------------------------------
# The user's own prices
# ---------------------------------------------------------------------------

def test_a_price_file_adds_a_model_and_overrides_another(env):
    prices = env.tmp / "prices.json"
    prices.write_text(json.dumps({"claude-foo-9": {"input": 2, "output": 8},
                                  "claude-sonnet-4-5": {"input": 1, "output": 2, "cache_read": 0.05}}))
    report = cost_report(env, [
        assistant_line(model="claude-foo-9", input=1_000, cache_5m=1_000, cache_1h=1_000, cache_read=1_000,
                       output=1_000),
        assistant_line(model="claude-sonnet-4-5-20250929", input=1_000, cache_5m=1_000, cache_read=1_000,
                       output=1_000),
    ], "--prices", prices)
    costs = {part["modelName"]: part["cost"] for part in report["daily"][0]["modelBreakdowns"]}
    # Cache prices not given follow the input price: 1.25x, 2x and 0.1x.
    assert costs == {
        "claude-foo-9": pytest.approx((1_000 * 2 + 1_000 * 2.5 + 1_000 * 4 + 1_000 * 0.2 + 1_000 * 8) / M),
        "claude-sonnet-4-5-20250929": pytest.approx((1_000 * 1 + 1_000 * 1.25 + 1_000 * 0.05 + 1_000 * 2) / M),
    }
    assert "unpricedModels" not in report["totals"]


def test_the_default_price_file_is_read(env):
    (env.config_home / "ccusage").mkdir(parents=True)
    (env.config_home / "ccusage" / "prices.json").write_text(json.dumps({"claude-foo-9": {"input": 2, "output": 8}}))
    assert cost_of(env, [assistant_line(model="claude-foo-9", input=1_000, output=1_000)]) == \
        pytest.approx((1_000 * 2 + 1_000 * 8) / M)


@pytest.mark.parametrize("content", [
    pytest.param("{not json", id="not JSON"),
    pytest.param("[1, 2]", id="not an object"),
    pytest.param('{"claude-foo-9": 3}', id="entry not an object"),
    pytest.param('{"claude-foo-9": {"input": 3}}', id="no output price"),
    pytest.param('{"claude-foo-9": {"input": -1, "output": 2}}', id="negative"),
    pytest.param('{"claude-foo-9": {"input": "3", "output": 2}}', id="a string"),
    pytest.param('{"claude-foo-9": {"input": true, "output": 2}}', id="a boolean"),
    pytest.param('{"claude-foo-9": {"input": 3, "output": 2, "outptu": 1}}', id="unknown key"),
    pytest.param(None, id="missing file"),
])
def test_a_bad_price_file_is_a_usage_error(env, content):
    prices = env.tmp / "prices.json"
    if content is not None:
        prices.write_text(content)
    write_lines(env.log(), [assistant_line(output=1)])
    result = env.run("daily", "--json", "--prices", prices)
    assert result.code == 2
    first_line_is_one_error(result)
    assert str(prices) in result.err


# ---------------------------------------------------------------------------
# --mode and the costUSD of old logs
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode, expected", [
    ("calculate", (1_000 * 3 + 1_000 * 15) / M + (2_000 * 3) / M + (1_000 * 15) / M),
    ("auto", 0.5 + (2_000 * 3) / M + (1_000 * 15) / M),
    ("display", 0.5),
])
def test_mode_chooses_between_logged_and_calculated_costs(env, mode, expected):
    # Claude Code up to 1.0.8 wrote its own costUSD; some builds wrote null.
    logged = assistant_line(model="claude-sonnet-4-20250514", input=1_000, output=1_000)
    logged.update(costUSD=0.5, version="1.0.8")
    unlogged = assistant_line(model="claude-sonnet-4-20250514", input=2_000)
    null = assistant_line(model="claude-sonnet-4-20250514", output=1_000)
    null["costUSD"] = None
    assert cost_of(env, [logged, unlogged, null], "--mode", mode) == pytest.approx(expected, abs=1e-6)


def test_a_price_that_changed_on_a_date_applies_before_it(env):
    # Sonnet 5.5 cache reads: $0.20 per million until 2026-10-07, $0.10 after; the prompt is small.
    before = dict(model="claude-sonnet-5-5", cache_read=50_000, ts="2026-10-01T12:00:00.000Z")
    after = dict(model="claude-sonnet-5-5", cache_read=50_000, ts="2026-10-20T12:00:00.000Z")
    assert cost_of(env, [assistant_line(**before), assistant_line(**after)]) == \
        pytest.approx((50_000 * 0.2 + 50_000 * 0.1) / M)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e9])
def test_a_price_that_is_no_price_is_refused(env, tmp_path, value):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"claude-x-1": {"input": value, "output": 1}}))
    result = env.run_raw("daily", "--json", "--prices", str(prices), "--data-dir", env.claude, "--db", env.db)
    assert result.code == 2
    first_line_is_one_error(result)
