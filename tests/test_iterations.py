"""usage.iterations[] in Claude Code transcripts: the steps of a response that its top-level counts leave out
(a compaction, an advisor's reply) are billed, and a response whose top level includes them is billed once."""

import re

import pytest

from logsynth import assistant_line, write_lines
from support import tokens_of

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-6"


def step(kind, input, output, cache_write=0, cache_read=0, **extra):
    return dict({"type": kind, "input_tokens": input, "output_tokens": output,
                 "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read}, **extra)


def response(input, output, iterations, **kwargs):
    return assistant_line(model=SONNET, input=input, output=output, iterations=iterations, **kwargs)


def daily(env, *args):
    result = env.run("daily", "--json", "-z", "UTC", *args)
    assert result.code == 0 and "Traceback" not in result.err, result
    return result.json()


def by_model(report):
    return {part["modelName"]: (tokens_of(part), part["cost"])
            for day in report["daily"] for part in day["modelBreakdowns"]}


def test_an_empty_list_bills_the_top_level(env):
    write_lines(env.log(), [response(10, 20, [])])
    assert tokens_of(daily(env)["totals"]) == (10, 20, 0, 0)


def test_a_single_message_step_equal_to_the_top_level_is_billed_once(env):
    write_lines(env.log(), [response(10, 20, [step("message", 10, 20)])])
    assert tokens_of(daily(env)["totals"]) == (10, 20, 0, 0)


# The example in Anthropic's compaction docs: the top level covers only the final message step.
COMPACTION = [step("compaction", 180_000, 3_500), step("message", 23_000, 1_000)]


def test_a_compaction_step_is_billed_beside_the_top_level(env):
    write_lines(env.log(), [response(23_000, 1_000, COMPACTION)])
    report = daily(env)
    # 23,000 + 180,000 input and 1,000 + 3,500 output, at Sonnet 4.5's $3 and $15 a million (both prompts
    # under 200k): 23,000 * 3 + 1,000 * 15 = $0.084 and 180,000 * 3 + 3,500 * 15 = $0.5925.
    assert tokens_of(report["totals"]) == (203_000, 4_500, 0, 0)
    assert report["totals"]["totalCost"] == pytest.approx(0.6765)
    sessions = env.run("session", "--json").json()["sessions"]
    assert [tokens_of(s) for s in sessions] == [(203_000, 4_500, 0, 0)]


def test_a_top_level_that_includes_the_steps_is_not_billed_twice(env):
    write_lines(env.log(), [response(203_000, 4_500, COMPACTION)])
    assert tokens_of(daily(env)["totals"]) == (203_000, 4_500, 0, 0)


def test_an_advisor_step_is_priced_as_the_model_it_names(env):
    advisor = step("advisor_message", 1_000, 200, cache_write=400, model=OPUS,
                   cache_creation={"ephemeral_1h_input_tokens": 400, "ephemeral_5m_input_tokens": 0})
    write_lines(env.log(), [response(10_000, 500, [step("message", 10_000, 500), advisor])])
    models = by_model(daily(env, "--breakdown"))
    # Sonnet 4.5: 10,000 * $3 + 500 * $15 a million.  Opus 4.6: 1,000 * $5 + 200 * $25, and 400 tokens
    # written to the 1-hour cache at $10.
    assert models[SONNET][0] == (10_000, 500, 0, 0)
    assert models[SONNET][1] == pytest.approx(0.0375)
    assert models[OPUS][0] == (1_000, 200, 400, 0)
    assert models[OPUS][1] == pytest.approx(0.014)


# An early line's output is a placeholder, its steps' outputs too: 12 + 1 may be more than its 1.  Its
# input tells whether the top level includes the steps: 23,000 leaves the compaction out (billed beside it),
# 203,000 (180,000 + 23,000) has it in (billed once).
@pytest.mark.parametrize("top_input, top_output", [pytest.param(23_000, 1_000, id="the steps left out"),
                                                   pytest.param(203_000, 4_500, id="the steps included")])
def test_streaming_lines_of_a_response_with_steps_count_each_step_once(env, top_input, top_output):
    early = [step("compaction", 180_000, 12), step("message", 23_000, 1)]
    lines = [response(top_input, 1, early, msg_id="msg_it01", request_id="req_it01", ts="2026-11-20T12:00:00.000Z"),
             response(top_input, top_output, COMPACTION, msg_id="msg_it01", request_id="req_it01",
                      ts="2026-11-20T12:00:02.000Z")]
    write_lines(env.log(), lines)
    assert tokens_of(daily(env)["totals"]) == (203_000, 4_500, 0, 0)


@pytest.mark.parametrize("iterations", [
    pytest.param([5], id="an entry that is not an object"),
    pytest.param([step("compaction", -1, 3_500)], id="a negative count"),
    pytest.param([step("compaction", 180_000, "3500")], id="a count that is a string"),
])
def test_a_malformed_entry_makes_the_line_a_bad_one(env, iterations):
    path = write_lines(env.log(), [assistant_line(output=10), response(23_000, 1_000, iterations),
                                   assistant_line(output=20)])
    result = env.run("daily", "--json", "-z", "UTC", "--verbose")
    assert tokens_of(result.json()["totals"]) == (0, 30, 0, 0)
    counted = [line.replace(str(path), "") for line in result.err.splitlines() if str(path) in line]
    assert [int(n) for n in re.findall(r"\d+", counted[0])] == [1]
