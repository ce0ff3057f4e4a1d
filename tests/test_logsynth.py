"""The generator itself: its trees hold every trap, and its expected totals are right.

The expected totals are checked against a plain reading of the tree written
here from the rules of claude-code-logs.md, so a mistake in the generator's
bookkeeping cannot hide behind a matching mistake in ccusage.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import logsynth


def read_tree(root):
    """Every line of every transcript: (path, line number, raw bytes, parsed object or None, complete?)."""
    for path in sorted(Path(root, "projects").rglob("*.jsonl")):
        data = path.read_bytes()
        raw_lines = data.split(b"\n")
        for number, raw in enumerate(raw_lines):
            if number == len(raw_lines) - 1 and raw == b"":
                break
            complete = number < len(raw_lines) - 1
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            yield str(path), number, raw, obj if isinstance(obj, dict) else None, complete


def billable(obj):
    """(record, message) of a billable line or of its copy in a progress line, else None."""
    record = obj
    if obj.get("type") == "progress":
        record = (obj.get("data") or {}).get("message") or {}
    elif obj.get("type") != "assistant":
        return None
    message = record.get("message") or {}
    if record.get("type") != "assistant" or "usage" not in message or message.get("model") == "<synthetic>":
        return None
    return record, message


def reference_totals(root):
    """Per (UTC day, model) and per session: (input, output, cache write, cache read, 1-hour cache write,
    web searches) by the documented rule; and the lines of each response."""
    groups = defaultdict(list)
    for path, number, _, obj, complete in read_tree(root):
        if obj is None or not complete:
            continue
        found = billable(obj)
        if found:
            record, message = found
            groups[(message["id"], record.get("requestId"))].append((record, message, obj, path))
    days = defaultdict(lambda: defaultdict(lambda: [0] * 6))
    sessions = defaultdict(lambda: [0] * 6)
    for lines in groups.values():
        final = max(enumerate(lines), key=lambda item: (item[1][1]["usage"]["output_tokens"], item[0]))[1]
        first = min(datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r, _, _, _ in lines)
        usage = final[1]["usage"]
        counts = (usage["input_tokens"], usage["output_tokens"], usage["cache_creation_input_tokens"],
                  usage["cache_read_input_tokens"],
                  (usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0),
                  (usage.get("server_tool_use") or {}).get("web_search_requests", 0))
        day = first.astimezone(timezone.utc).strftime("%Y-%m-%d")
        for target in (days[day][final[1]["model"]], sessions[final[2]["sessionId"]]):
            for i, n in enumerate(counts):
                target[i] += n
    return ({(d, m): tuple(v) for d, ms in days.items() for m, v in ms.items()},
            {s: tuple(v) for s, v in sessions.items()}, groups)


def truth_tables(truth):
    def row(t):
        return (t.input, t.output, t.cache_creation, t.cache_read, t.cache_1h, t.web_searches)
    days = {(d, m): row(t) for d, ms in truth.days.items() for m, t in ms.items()}
    return days, {s: row(t) for s, t in truth.sessions.items()}


def test_expected_totals_follow_the_documented_rule(tmp_path):
    for seed in (1, 2):
        tree = logsynth.synthesize(tmp_path / str(seed), seed)
        days, sessions, _ = reference_totals(tree.root)
        assert (days, sessions) == truth_tables(tree.truth)


def test_finishing_the_torn_line_counts_its_response_in_full(tmp_path):
    tree = logsynth.synthesize(tmp_path, 4)
    before = tree.truth.total.output
    assert not Path(tree.torn_path).read_bytes().endswith(b"\n")
    tree.finish_torn_line()
    assert Path(tree.torn_path).read_bytes().endswith(b"\n")
    assert tree.truth.total.output > before
    days, sessions, _ = reference_totals(tree.root)
    assert (days, sessions) == truth_tables(tree.truth)


def test_every_tree_holds_every_trap(tmp_path):
    tree = logsynth.synthesize(tmp_path, 5)
    _, _, groups = reference_totals(tree.root)
    seen = set()
    subagent_lines = set()
    for path, _, raw, obj, complete in read_tree(tree.root):
        rel = os.path.relpath(path, tree.root)
        if not complete:
            seen.add("torn last line")
        if obj is None:
            seen.add("garbage line")
            continue
        kind = obj.get("type")
        seen.add(f"type {kind}")
        if len(raw) > 100_000:
            seen.add("big line")
        if "+05:30" in obj.get("timestamp", ""):
            seen.add("offset timestamp")
        if kind == "assistant" and obj["message"].get("model") == "<synthetic>":
            seen.add("synthetic")
        if kind == "user" and "usage" in (obj.get("toolUseResult") or {}):
            seen.add("Task result with usage")
        if kind == "assistant" and obj.get("isSidechain") and "agent-" not in rel:
            seen.add("inline sidechain")
        if kind == "assistant" and "usage" in obj["message"]:
            usage = obj["message"]["usage"]
            if "cache_creation" not in usage:
                seen.add("no cache split")
            elif usage["cache_creation"]["ephemeral_1h_input_tokens"]:
                seen.add("1h cache write")
            if (usage.get("server_tool_use") or {}).get("web_search_requests"):
                seen.add("web search")
            if obj["message"]["model"].startswith(("us.anthropic.", "global.anthropic.")):
                seen.add("bedrock model")
        if "/subagents/agent-acompact-" in rel:
            seen.add("compaction subagent file")
        elif "/subagents/agent-" in rel:
            seen.add("subagent file")
        elif os.path.basename(rel).startswith("agent-"):
            seen.add("flat agent file")
        if "agent-" in rel and kind == "assistant":
            subagent_lines.add(obj["uuid"])
    for lines in groups.values():
        outputs = [m["usage"]["output_tokens"] for _, m, _, _ in lines]
        if len(set(outputs)) > 1:
            seen.add("placeholder output")
        stamps = {r["timestamp"][:10] for r, _, _, _ in lines}
        if len(stamps) > 1:
            seen.add("response across midnight")
        copies = [o for _, _, o, _ in lines if o["type"] == "progress"]
        if copies and all(r["uuid"] in subagent_lines for r, _, o, _ in lines if o["type"] == "progress"):
            seen.add("progress copy of a subagent file")
        if copies and not any(r["uuid"] in subagent_lines for r, _, _, _ in lines):
            seen.add("progress-only copy")
    by_dir = defaultdict(set)
    for session, cwd in tree.truth.session_projects.items():
        by_dir[logsynth.encode_cwd(cwd)].add(cwd)
    if any(len(cwds) > 1 for cwds in by_dir.values()):
        seen.add("two cwds in one directory")
    if any(len(name) > 200 for name in os.listdir(Path(tree.root, "projects"))):
        seen.add("hashed long directory")
    expected = {
        "torn last line", "garbage line", "big line", "offset timestamp", "synthetic", "Task result with usage",
        "inline sidechain", "no cache split", "1h cache write", "web search", "compaction subagent file",
        "subagent file", "flat agent file", "placeholder output", "response across midnight",
        "progress copy of a subagent file", "progress-only copy", "type summary", "type system",
        "type file-history-snapshot", "type queue-operation", "type x-telemetry", "type progress",
        "type user", "type assistant", "bedrock model", "two cwds in one directory", "hashed long directory",
    }
    assert expected - seen == set()
    # Every generator tree must spread over several projects, days and models to be worth testing.
    assert len(tree.truth.days) >= 4 and len(tree.truth.projects) >= 6
    assert len({m for ms in tree.truth.days.values() for m in ms}) >= 3


def test_same_seed_writes_the_same_bytes(tmp_path):
    def snapshot(root):
        return {p.relative_to(root): p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}
    a = logsynth.synthesize(tmp_path / "a", 11)
    b = logsynth.synthesize(tmp_path / "b", 11)
    c = logsynth.synthesize(tmp_path / "c", 12)
    assert snapshot(a.root) == snapshot(b.root)
    assert snapshot(a.root) != snapshot(c.root)


def test_script_writes_the_tree_and_its_expected_totals(tmp_path):
    script = Path(logsynth.__file__)
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "cli"), "--mb", "0.2", "--days", "5",
                    "--seed", "7"], check=True, capture_output=True)
    expected = json.loads((tmp_path / "cli" / "expected.json").read_text())
    library = logsynth.synthesize(tmp_path / "lib", 7, mb=0.2, days=5)
    assert expected["totals"] == library.truth.total.as_dict()
    assert expected["days"] == library.truth.to_json()["days"]
    assert expected["bytes"] == library.truth.bytes
