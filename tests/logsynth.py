#!/usr/bin/env python3
"""logsynth: realistic Claude Code log trees whose exact usage is known.

It writes ``<root>/projects/<encoded-cwd>/<session>.jsonl`` the way Claude Code
does (shared/reference/claude-code-logs.md) and keeps, while writing, what a
correct reader must report: per UTC day and model, per session and per project,
the input, output, cache write (and its 1-hour part) and cache read tokens, the
web searches and the number of API responses.

Traps in every tree:

- a response is one line per content block sharing message.id and requestId;
  before Claude Code 2.1.97 the early lines carry a placeholder
  output_tokens.  One response straddles midnight UTC (its day is the first
  line's).
- subagents: ``<session>/subagents/agent-<id>.jsonl`` (2.1), flat
  ``agent-<id>.jsonl`` beside the session (2.0), inline sidechain lines (1.x);
  their usage belongs to the parent session.  2.1 parents replay subagent lines
  inside ``progress`` lines, and some subagents have no file of their own.
- ``<synthetic>`` API errors and a usage-limit message, summary / system /
  file-history-snapshot / queue-operation lines, a line of an unknown type
  that carries a usage object, a Task tool result with a usage summary, big
  tool results, NUL and non-JSON garbage lines, timestamps written with a UTC
  offset, 1.x lines without the cache-write split, Bedrock model ids.
- lossy directory names: two cwds share one encoded directory, and a cwd over
  200 characters is cut and hashed.
- the live session ends with a torn line (no newline yet): not counted until
  ``Tree.finish_torn_line()`` completes it.

Library::

    tree = synthesize(root, seed=3)             # about a megabyte, in a few tens of ms
    tree.truth.days["2026-11-02"]["claude-opus-4-6"].output
    write_lines(path, [assistant_line(output=5)])   # hand-made lines

Script (writes DIR/expected.json)::

    python3 tests/logsynth.py --out DIR --mb 100 --days 60 --seed 1
"""

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone

DEFAULT_END = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)

# (version, subagent layout, writes placeholder output on early lines)
VERSIONS = [
    ("1.0.88", "inline", True),
    ("2.0.37", "flat", True),
    ("2.1.39", "subagents", True),
    ("2.1.104", "subagents", False),
]
MODELS_BY_ERA = {
    "1": [("claude-sonnet-4-20250514", 6), ("claude-opus-4-20250514", 3), ("claude-3-5-haiku-20241022", 1)],
    "2": [("claude-sonnet-4-5-20250929", 8), ("claude-opus-4-6", 5), ("claude-sonnet-4-6", 3),
          ("claude-opus-4-5-20251101", 2), ("claude-opus-4-1-20250805", 1), ("claude-haiku-4-5-20251001", 1)],
}
SUBAGENT_MODELS = ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
# A project run through Amazon Bedrock logs Bedrock model ids.
BEDROCK_CWD = "/srv/infra"
BEDROCK_MODELS = ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-haiku-4-5-20251001-v1:0"]

PROJECTS = [
    "/home/dev/src/api-server",
    "/home/dev/old/api-server",      # same last component as the one above
    "/home/dev/src/web_app.v2",      # these two share the encoded directory
    "/home/dev/src/web-app-v2",      # -home-dev-src-web-app-v2
    "/home/dev/work/café-menu",
    BEDROCK_CWD,
    "/home/dev/work/café-menu/" + "/".join(f"deeply-nested-component-{i:02d}" for i in range(9)),  # > 200 chars
]
# The sessions that carry every trap (one per version) cover the lossy directory names and Bedrock.
FORCED_PROJECTS = [PROJECTS[2], PROJECTS[3], BEDROCK_CWD, PROJECTS[6]]
WORDS = ("the of and to in is that for it with as on be by this are or function return value error test "
         "file class import data config server request response token cache model session update build "
         "refactor parse handle fix check run path json query index café 東京 naïve 🚀").split()
TOOLS = ["Read", "Edit", "Bash", "Grep", "Glob", "Write"]


def encode_cwd(cwd):
    """Claude Code's directory name for a cwd: non-alphanumerics become '-', long names cut and hashed."""
    name = re.sub(r"[^A-Za-z0-9]", "-", cwd)
    if len(name) > 200:
        name = name[:200] + "-" + hashlib.sha256(cwd.encode()).hexdigest()[:8]
    return name


def utc_day(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def iso(moment, offset=None):
    """Claude Code's timestamp form (UTC, milliseconds, Z), or the same instant at a UTC offset."""
    if offset is None:
        return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.astimezone(timezone(offset)).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------------
# Expected totals
# ---------------------------------------------------------------------------

FIELDS = ("input", "output", "cache_creation", "cache_read", "cache_1h", "web_searches", "responses")


class Totals:
    """Sums a correct reader reports for a set of responses."""

    __slots__ = FIELDS

    def __init__(self, **values):
        for field in FIELDS:
            setattr(self, field, values.get(field, 0))

    def add(self, other):
        for field in FIELDS:
            setattr(self, field, getattr(self, field) + getattr(other, field))

    def as_dict(self):
        return {field: getattr(self, field) for field in FIELDS}

    def __eq__(self, other):
        return isinstance(other, Totals) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return f"Totals({self.as_dict()})"


class Truth:
    """What a correct reader reports for a tree (days are UTC)."""

    def __init__(self):
        self.days = defaultdict(lambda: defaultdict(Totals))   # day -> model -> Totals
        self.sessions = defaultdict(Totals)
        self.session_projects = {}
        self.projects = defaultdict(Totals)                   # cwd -> Totals
        self.total = Totals()
        self.malformed = defaultdict(int)                     # path -> garbage lines written there
        self.files = self.lines = self.bytes = 0
        self.calls = []                                       # (moment, model, Totals), for other zones

    def record(self, moment, model, session, cwd, amounts):
        for bucket in (self.days[utc_day(moment)][model], self.sessions[session], self.projects[cwd], self.total):
            bucket.add(amounts)
        self.session_projects.setdefault(session, cwd)
        self.calls.append((moment, model, amounts))

    def local_days(self, tz):
        """{day: {model: Totals}} with days of the time zone tz (a tzinfo)."""
        days = defaultdict(lambda: defaultdict(Totals))
        for moment, model, amounts in self.calls:
            days[moment.astimezone(tz).strftime("%Y-%m-%d")][model].add(amounts)
        return days

    def to_json(self, root=None):
        rel = (lambda p: os.path.relpath(p, root)) if root else (lambda p: p)
        return {
            "rules": "one response per (message.id, requestId) with its largest output_tokens at its first "
                     "line's UTC day; subagents count for the parent session; <synthetic>, unknown types, "
                     "garbage and the torn last line count nothing",
            "files": self.files, "lines": self.lines, "bytes": self.bytes,
            "totals": self.total.as_dict(),
            "days": {d: {m: t.as_dict() for m, t in sorted(ms.items())} for d, ms in sorted(self.days.items())},
            "sessions": {s: dict(t.as_dict(), project=self.session_projects[s])
                         for s, t in sorted(self.sessions.items())},
            "projects": {p: t.as_dict() for p, t in sorted(self.projects.items())},
            "malformed_lines": {rel(p): n for p, n in sorted(self.malformed.items())},
        }


# ---------------------------------------------------------------------------
# Hand-made lines
# ---------------------------------------------------------------------------

_hand_ids = itertools.count(1)


def assistant_line(*, ts="2026-11-20T12:00:00.000Z", model="claude-sonnet-4-5-20250929", msg_id=None,
                   request_id=None, input=0, output=0, cache_5m=0, cache_1h=0, cache_read=0, web_searches=0,
                   session="hand-session", cwd="/home/u/proj", split=True, **usage_extra):
    """One assistant line as Claude Code 2.x writes it.  usage_extra adds usage keys (speed, inference_geo)."""
    number = next(_hand_ids)
    usage = {"input_tokens": input, "cache_creation_input_tokens": cache_5m + cache_1h,
             "cache_read_input_tokens": cache_read, "output_tokens": output,
             "server_tool_use": {"web_search_requests": web_searches, "web_fetch_requests": 0},
             "service_tier": "standard"}
    if split:
        usage["cache_creation"] = {"ephemeral_1h_input_tokens": cache_1h, "ephemeral_5m_input_tokens": cache_5m}
    usage.update(usage_extra)
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session,
            "version": "2.1.39", "gitBranch": "main",
            "message": {"model": model, "id": msg_id or f"msg_hand{number:06d}", "type": "message",
                        "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                        "stop_reason": None, "stop_sequence": None, "usage": usage},
            "requestId": request_id or f"req_hand{number:06d}", "type": "assistant",
            "uuid": f"00000000-0000-4000-8000-{number:012d}", "timestamp": ts}


def user_line(text="hello", *, ts="2026-11-20T11:59:00.000Z", session="hand-session", cwd="/home/u/proj"):
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session,
            "version": "2.1.39", "type": "user", "message": {"role": "user", "content": text},
            "uuid": f"00000000-0000-4000-9000-{next(_hand_ids):012d}", "timestamp": ts}


def progress_copy(line, *, ts=None, agent_id="a0c0ffee"):
    """The copy of a subagent's line that its parent transcript keeps in a progress line."""
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": line.get("cwd"),
            "sessionId": line.get("sessionId"), "version": line.get("version"), "type": "progress",
            "data": {"type": "agent_progress", "agentId": agent_id, "prompt": "",
                     "message": {"type": line["type"], "message": line["message"],
                                 "requestId": line.get("requestId"), "uuid": line.get("uuid"),
                                 "timestamp": line["timestamp"]}},
            "toolUseID": "agent_msg_01", "parentToolUseID": "toolu_01hand",
            "uuid": f"00000000-0000-4000-a000-{next(_hand_ids):012d}", "timestamp": ts or line["timestamp"]}


def session_path(root, session, cwd="/home/u/proj", agent=None):
    """Where Claude Code 2.1 keeps a session's transcript, or one of its subagents' (agent=id)."""
    directory = os.path.join(root, "projects", encode_cwd(cwd))
    if agent is None:
        return os.path.join(directory, session + ".jsonl")
    return os.path.join(directory, session, "subagents", f"agent-{agent}.jsonl")


def dumps(line):
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def write_lines(path, lines, newline=True):
    """Append lines (dicts are JSON-encoded, str and bytes written as they are) to path, one per line.

    newline=False leaves the last line without its newline: a torn write.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = b"\n".join(line if isinstance(line, bytes) else
                      (line if isinstance(line, str) else dumps(line)).encode("utf-8") for line in lines)
    with open(path, "ab") as f:
        f.write(data + (b"\n" if newline and lines else b""))
    return path


# ---------------------------------------------------------------------------
# Generated trees
# ---------------------------------------------------------------------------

class Tree:
    """A generated log tree: where it is, what a reader must report, and its torn last line."""

    def __init__(self, root, truth, torn):
        self.root = root
        self.truth = truth
        self._torn = torn

    @property
    def torn_path(self):
        return self._torn["path"]

    def finish_torn_line(self):
        """Write the rest of the torn line, as Claude Code would, and count its response's real output."""
        torn = self._torn
        with open(torn["path"], "ab") as f:
            f.write(torn["rest"])
        self.truth.record(torn["moment"], torn["model"], torn["session"], torn["cwd"],
                          Totals(output=torn["output_delta"]))


class _Session:
    """Fields shared by the lines of one transcript."""

    def __init__(self, session, cwd, version, layout, placeholders, offset=None):
        self.session, self.cwd, self.version = session, cwd, version
        self.layout, self.placeholders, self.offset = layout, placeholders, offset
        self.parent = None


class Synthesizer:
    def __init__(self, root, seed, end=DEFAULT_END, days=14):
        self.root = root
        self.rng = random.Random(seed)
        self.end = end
        self.days = days
        self.truth = Truth()
        self.torn = None
        words = self.rng.choices(WORDS, k=200_000)
        self.blob = " ".join(words)

    # -- small pieces --

    def uuid(self):
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def token(self, prefix, n):
        return prefix + f"{self.rng.getrandbits(4 * n):0{n}x}"

    def text(self, n):
        start = self.rng.randrange(0, len(self.blob) - n) if n < len(self.blob) else 0
        return self.blob[start:start + n]

    def base(self, s, kind, moment, sidechain=False, agent=None):
        line = {"parentUuid": s.parent, "isSidechain": sidechain, "userType": "external", "cwd": s.cwd,
                "sessionId": s.session, "version": s.version, "gitBranch": "main"}
        if agent:
            line["agentId"] = agent
        line["type"] = kind
        line["uuid"] = self.uuid()
        line["timestamp"] = iso(moment, s.offset)
        s.parent = line["uuid"]
        return line

    def user(self, s, moment, content, sidechain=False, agent=None, **extra):
        line = self.base(s, "user", moment, sidechain, agent)
        line["message"] = {"role": "user", "content": content}
        line.update(extra)
        return line

    def tool_result(self, s, moment, tool_id, size, sidechain=False, agent=None):
        body = self.text(size)
        return self.user(s, moment, [{"tool_use_id": tool_id, "type": "tool_result", "content": body}],
                         sidechain, agent,
                         toolUseResult={"stdout": body[:300], "stderr": "", "interrupted": False})

    # -- one API response --

    def usage_numbers(self, s, ctx, web=False):
        rng = self.rng
        write = int(rng.lognormvariate(7.0, 1.2))
        one_hour = write if s.version.startswith("2.1") and rng.random() < 0.4 else 0
        if s.version.startswith("1."):
            one_hour = 0  # 1.x logs have no split: every cache write is a 5-minute one
        return {"input": rng.choice([1, 3, 4, 6, 8, 10, rng.randint(20, 4000)]),
                "output": min(int(rng.lognormvariate(5.2, 1.1)) + 31, 32_000),
                "cache_5m": write - one_hour, "cache_1h": one_hour, "cache_read": ctx,
                # 1.x logs have no server_tool_use: their web searches cannot be seen
                "web": rng.randint(1, 3) if web and not s.version.startswith("1.") else 0}

    def usage_dict(self, s, n, output, final):
        usage = {"input_tokens": n["input"], "cache_creation_input_tokens": n["cache_5m"] + n["cache_1h"],
                 "cache_read_input_tokens": n["cache_read"], "output_tokens": output}
        if not s.version.startswith("1."):
            usage["server_tool_use"] = {"web_search_requests": n["web"], "web_fetch_requests": 0}
        usage["service_tier"] = "standard"
        if not s.version.startswith("1."):
            usage["cache_creation"] = {"ephemeral_1h_input_tokens": n["cache_1h"],
                                       "ephemeral_5m_input_tokens": n["cache_5m"]}
        if s.version.startswith("2.1"):
            usage["inference_geo"] = ""
            usage["iterations"] = []
        if final:  # the last line of a response orders its usage differently
            usage = dict(sorted(usage.items(), key=lambda kv: kv[0] != "output_tokens"))
        return usage

    def response(self, s, moment, model, ctx, blocks, sidechain=False, agent=None, web=False, gaps=None):
        """Lines of one response (one per block); records it.  Returns (lines, time after, numbers)."""
        rng = self.rng
        n = self.usage_numbers(s, ctx, web)
        msg_id, request_id = self.token("msg_01", 22), self.token("req_011C", 20)
        lines, first = [], moment
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            output = n["output"] if last or not s.placeholders else rng.randint(1, 30)
            if s.version.startswith("1."):
                message = {"id": msg_id, "type": "message", "role": "assistant", "model": model}
            else:
                message = {"model": model, "id": msg_id, "type": "message", "role": "assistant"}
            message.update({"content": [block], "stop_reason": "tool_use" if last else None,
                            "stop_sequence": None, "usage": self.usage_dict(s, n, output, last)})
            line = self.base(s, "assistant", moment, sidechain, agent)
            line["message"] = message
            line["requestId"] = request_id
            lines.append(line)
            moment += gaps[i] if gaps else timedelta(milliseconds=rng.randint(200, 2500))
        amounts = Totals(input=n["input"], output=n["output"], cache_creation=n["cache_5m"] + n["cache_1h"],
                         cache_read=n["cache_read"], cache_1h=n["cache_1h"], web_searches=n["web"], responses=1)
        self.truth.record(first, model, s.session, s.cwd, amounts)
        return lines, moment, n

    def blocks(self, s, tools):
        rng = self.rng
        blocks = []
        if rng.random() < 0.4:
            blocks.append({"type": "thinking", "thinking": self.text(rng.randint(100, 1500)),
                           "signature": "Eu" + self.text(120)})
        if rng.random() < 0.7 or not tools:
            blocks.append({"type": "text", "text": self.text(rng.randint(20, 1200))})
        for tool_id in tools:
            blocks.append({"type": "tool_use", "id": tool_id, "name": rng.choice(TOOLS),
                           "input": {"file_path": s.cwd + "/src/" + rng.choice(WORDS) + ".py"}})
        return blocks

    def synthetic(self, s, moment, text):
        line = self.base(s, "assistant", moment)
        line["isApiErrorMessage"] = True
        line["message"] = {"id": self.uuid(), "model": "<synthetic>", "role": "assistant", "type": "message",
                           "content": [{"type": "text", "text": text}],
                           "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0}}
        return line

    # -- transcripts --

    def turns(self, s, moment, model, count, out, sidechain=False, agent=None, force=False, big=False):
        """count user turns with their responses and tool results appended to out; returns the time after.

        force: the first call searches the web and uses a tool; big: that tool's result is big.
        """
        rng = self.rng
        ctx = rng.randint(8_000, 20_000)
        for turn in range(count):
            moment += timedelta(seconds=rng.randint(5, 600))
            out.append(self.user(s, moment, self.text(rng.randint(20, 400)), sidechain, agent))
            for call in range(rng.randint(1, 5)):
                moment += timedelta(seconds=rng.uniform(1, 30))
                first = force and turn == call == 0
                tools = [self.token("toolu_01", 22) for _ in range(max(first, rng.choice([0, 1, 1, 1, 2])))]
                web = first or rng.random() < 0.03
                lines, moment, n = self.response(s, moment, model, ctx, self.blocks(s, tools), sidechain, agent, web)
                out.extend(lines)
                ctx = min(ctx + n["cache_5m"] + n["cache_1h"] + n["output"], 170_000)
                if ctx > 140_000 and rng.random() < 0.3:
                    ctx = rng.randint(8_000, 30_000)  # auto-compaction
                for tool_id in tools:
                    for _ in range(rng.choice([0, 0, 2, 4])):  # hook progress: no usage
                        line = self.base(s, "progress", moment, sidechain, agent)
                        line["data"] = {"type": "hook_progress", "hookEvent": "PostToolUse",
                                        "hookName": "PostToolUse:Bash", "command": "make lint"}
                        out.append(line)
                    moment += timedelta(seconds=rng.uniform(0.5, 20))
                    size = 120_000 if big and first else min(int(rng.lognormvariate(6.8, 1.4)), 150_000)
                    out.append(self.tool_result(s, moment, tool_id, size, sidechain, agent))
            if not sidechain:
                moment = self.extras(s, moment, out, force and turn == 0)
        return moment

    def extras(self, s, moment, out, force):
        """Lines that bill nothing, each now and then (all of them when force)."""
        rng = self.rng
        if force or rng.random() < 0.05:
            out.append(self.synthetic(s, moment, "API Error: 529 Overloaded"))
        if force or rng.random() < 0.02:
            moment += timedelta(seconds=2)
            out.append(self.synthetic(s, moment, f"Claude AI usage limit reached|{int(moment.timestamp()) + 7200}"))
        if force or rng.random() < 0.2:
            out.append({"type": "file-history-snapshot", "messageId": self.uuid(), "isSnapshotUpdate": False,
                        "snapshot": {"messageId": self.uuid(), "trackedFileBackups": {},
                                     "timestamp": iso(moment, s.offset)}})
        if force or rng.random() < 0.1:
            line = self.base(s, "system", moment)
            line.update({"subtype": "compact_boundary", "content": "Conversation compacted", "level": "info",
                         "compactMetadata": {"trigger": "auto", "preTokens": 155_000}})
            out.append(line)
        if force or rng.random() < 0.05:
            out.append({"type": "queue-operation", "operation": "enqueue", "timestamp": iso(moment, s.offset),
                        "sessionId": s.session, "content": self.text(60)})
        if force or rng.random() < 0.02:
            # A line type this reader does not know: skipped, even though it carries a usage object.
            line = self.base(s, "x-telemetry", moment)
            line["message"] = {"model": "claude-opus-4-6", "id": self.token("msg_01", 22),
                               "usage": {"input_tokens": 999, "output_tokens": 999}}
            line["requestId"] = self.token("req_011C", 20)
            out.append(line)
        return moment

    def subagent(self, s, moment, out, pdir, orphan=False, compact=False):
        """A Task subagent run from s at moment: its transcript, and what the parent keeps of it."""
        rng = self.rng
        agent = ("acompact-" if compact else "") + f"{rng.getrandbits(28):07x}"
        task_id = self.token("toolu_01", 22)
        sub = _Session(s.session, s.cwd, s.version, s.layout, s.placeholders, s.offset)
        model = BEDROCK_MODELS[1] if s.cwd == BEDROCK_CWD else rng.choice(SUBAGENT_MODELS)
        lines = []
        end = self.turns(sub, moment, model, rng.randint(1, 2), lines, sidechain=True, agent=agent)
        if s.layout == "inline":   # 1.x: sidechain lines live in the session's own file
            out.extend(lines)
        else:
            if s.layout == "subagents":
                for line in (x for x in lines if x["type"] in ("user", "assistant")):
                    # the parent replays the subagent's messages, a moment later
                    replayed = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
                    copy = self.base(s, "progress", replayed + timedelta(milliseconds=rng.randint(5, 900)))
                    copy["data"] = {"type": "agent_progress", "agentId": agent, "prompt": "",
                                    "message": {"type": line["type"], "message": line["message"],
                                                "requestId": line.get("requestId"), "uuid": line["uuid"],
                                                "timestamp": line["timestamp"]}}
                    copy["toolUseID"], copy["parentToolUseID"] = "agent_msg_" + self.uuid()[:8], task_id
                    out.append(copy)
                path = os.path.join(pdir, s.session, "subagents", f"agent-{agent}.jsonl")
            else:
                path = os.path.join(pdir, f"agent-{agent}.jsonl")
            if not orphan:
                self.write(path, lines)
        # The Task result carries a usage summary of the whole run: not a call of its own.
        out.append(self.user(s, end, [{"tool_use_id": task_id, "type": "tool_result",
                                        "content": [{"type": "text", "text": self.text(300)}]}],
                             toolUseResult={"status": "completed", "agentId": agent, "totalDurationMs": 41_000,
                                            "totalTokens": 52_000, "totalToolUseCount": 4,
                                            "usage": {"input_tokens": 40, "cache_creation_input_tokens": 9_000,
                                                      "cache_read_input_tokens": 42_000, "output_tokens": 960}}))
        return end

    def session(self, cwd, start, version_index=None, force=False):
        """One session transcript (and its subagents) starting at start."""
        rng = self.rng
        version, layout, placeholders = VERSIONS[rng.randrange(len(VERSIONS)) if version_index is None
                                                 else version_index]
        offset = timedelta(hours=5, minutes=30) if force and layout == "flat" or rng.random() < 0.02 else None
        s = _Session(self.uuid(), cwd, version, layout, placeholders, offset)
        pdir = os.path.join(self.root, "projects", encode_cwd(cwd))
        pool = MODELS_BY_ERA[version[0]] if cwd != BEDROCK_CWD else [(BEDROCK_MODELS[0], 1)]
        model = rng.choices([m for m, _ in pool], [w for _, w in pool])[0]
        out = []
        if force or rng.random() < 0.3:
            out.append({"type": "summary", "summary": self.text(50), "leafUuid": self.uuid()})
        moment = start
        chunks = 1 if force else max(1, min(40, int(rng.lognormvariate(1.3, 0.8))))
        for chunk in range(chunks):
            first = force and chunk == 0
            moment = self.turns(s, moment, model, 1 if first else rng.randint(1, 3), out, force=first,
                                big=first and version_index == 0)
            if first or rng.random() < 0.25:
                moment = self.subagent(s, moment, out, pdir)
                if first and layout == "subagents":   # one with no file of its own, one compaction run
                    moment = self.subagent(s, moment, out, pdir, orphan=True)
                    moment = self.subagent(s, moment, out, pdir, compact=True)
            elif rng.random() < 0.05:
                moment = self.subagent(s, moment, out, pdir, orphan=layout == "subagents")
            if rng.random() < 0.05:
                model = rng.choices([m for m, _ in pool], [w for _, w in pool])[0]  # /model
        garbage = None
        if force and layout == "inline" or rng.random() < 0.01:
            garbage = "{not json at all"
        elif force and layout == "flat":
            garbage = "\x00" * 64   # a crash leaves NUL bytes behind
        if garbage is not None:
            out.insert(len(out) // 2, garbage)
        path = os.path.join(pdir, s.session + ".jsonl")
        self.write(path, out)
        if garbage is not None:
            self.truth.malformed[path] += 1
        return s

    def midnight(self):
        """A short session whose one response starts just before midnight UTC and ends after it."""
        day = (self.end - timedelta(days=max(1, self.days // 2))).replace(hour=0, minute=0, second=0,
                                                                         microsecond=0)
        start = day - timedelta(milliseconds=600)
        s = _Session(self.uuid(), PROJECTS[0], "2.1.39", "subagents", True)
        out = [self.user(s, start - timedelta(seconds=20), "finish the release notes")]
        blocks = [{"type": "thinking", "thinking": self.text(400), "signature": "Eu"},
                  {"type": "text", "text": self.text(200)},
                  {"type": "tool_use", "id": self.token("toolu_01", 22), "name": "Edit", "input": {}}]
        lines, _, _ = self.response(s, start, "claude-opus-4-6", 40_000, blocks,
                                    gaps=[timedelta(milliseconds=900)] * 3)
        out.extend(lines)
        self.write(os.path.join(self.root, "projects", encode_cwd(s.cwd), s.session + ".jsonl"), out)

    def live(self):
        """The session being written now: its last line, the end of a response, is torn."""
        s = _Session(self.uuid(), PROJECTS[1], "2.1.39", "subagents", True)
        out = []
        moment = self.turns(s, self.end - timedelta(hours=1), "claude-opus-4-6", 2, out)
        blocks = [{"type": "text", "text": self.text(300)},
                  {"type": "text", "text": "Writing ✓ " + self.text(500)}]
        start = moment + timedelta(seconds=3)
        lines, _, n = self.response(s, start, "claude-opus-4-6", 30_000, blocks)
        out.extend(lines)
        # Until the torn line is complete, the response counts with what its complete lines say.
        written = max(line["message"]["usage"]["output_tokens"] for line in lines[:-1])
        self.truth.record(start, "claude-opus-4-6", s.session, s.cwd, Totals(output=written - n["output"]))
        path = os.path.join(self.root, "projects", encode_cwd(s.cwd), s.session + ".jsonl")
        torn = dumps(out.pop()).encode("utf-8") + b"\n"
        self.write(path, out)
        cut = len(torn) // 2   # inside the message text, maybe inside a multi-byte character
        with open(path, "ab") as f:
            f.write(torn[:cut])
        self.truth.bytes += cut
        self.torn = {"path": path, "rest": torn[cut:], "moment": start, "model": "claude-opus-4-6",
                     "session": s.session, "cwd": s.cwd, "output_delta": n["output"] - written}

    def write(self, path, lines):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = "".join((line if isinstance(line, str) else dumps(line)) + "\n" for line in lines).encode("utf-8")
        with open(path, "wb") as f:
            f.write(data)
        self.truth.files += 1
        self.truth.lines += len(lines)
        self.truth.bytes += len(data)

    def generate(self, target_bytes):
        span = timedelta(days=self.days) - timedelta(hours=8)
        self.midnight()
        for index in range(len(VERSIONS)):   # every layout and trap at least once, however small the tree
            self.session(FORCED_PROJECTS[index], self.end - span * (0.9 - index * 0.2),
                         version_index=index, force=True)
        while self.truth.bytes < target_bytes:
            cwd = self.rng.choice(PROJECTS)
            self.session(cwd, self.end - timedelta(days=self.days) + span * self.rng.random())
        self.live()
        return Tree(self.root, self.truth, self.torn)


def synthesize(root, seed=1, mb=0.8, days=14, end=DEFAULT_END):
    """Write a log tree of about mb megabytes under root; return its Tree.  Same seed, same bytes."""
    return Synthesizer(str(root), seed, end, days).generate(int(mb * 1_000_000))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a synthetic Claude Code config dir and its expected totals.")
    parser.add_argument("--out", required=True, help="directory to write (usable as a Claude config dir)")
    parser.add_argument("--mb", type=float, default=10, help="approximate size of the logs in MB")
    parser.add_argument("--days", type=int, default=30, help="days of history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", default=DEFAULT_END.isoformat(),
                        help="ISO time the history ends at (default %(default)s)")
    parser.add_argument("--expected", help="where to write the expected totals (default OUT/expected.json)")
    args = parser.parse_args(argv)
    end = datetime.fromisoformat(args.end.replace("Z", "+00:00"))
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    tree = synthesize(args.out, args.seed, args.mb, args.days, end)
    expected = args.expected or os.path.join(args.out, "expected.json")
    with open(expected, "w", encoding="utf-8") as f:
        json.dump(tree.truth.to_json(args.out), f, indent=1, ensure_ascii=False)
    t = tree.truth
    print(f"{t.files} files, {t.lines} lines, {t.bytes / 1e6:.1f} MB, {t.total.responses} responses "
          f"-> {args.out} (expected totals in {expected})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
