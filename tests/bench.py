#!/usr/bin/env python3
"""Benchmark the installed ccusage against baselines measured in the same run.

For each corpus size it writes a Claude config dir with tests/logsynth.py
(kept between runs in --work), then times, as the median of --runs runs:

- python start: the bare interpreter (`python -c pass`);
- json.loads reader: a plain script that json.loads every line of every log;
- native: the npm ccusage's native binary, when --native names it (timed
  alternately with ccusage's cold run);
- cold: `ccusage daily --json` on an empty store;
- warm: the same with nothing new;
- append: one new call appended to a log, then the same;
- today: `ccusage today --json`, a single-window query, warm;
- status and blocks --active: the current 5-hour window, warm (the
  windows before it are kept in the store);

and the peak memory (largest process) of a cold run.  Times are printed with
their ratios to the baselines, because absolute times on shared machines
drift.  Run it through `make bench` (100 and 300 MB; `BENCH_ARGS=--large`
adds 1 GB).  `--corpus DIR` measures config dirs made elsewhere instead,
such as gen_corpus.py's.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PLAIN_READER = """
import json, os, sys
for top, dirs, files in os.walk(os.path.join(sys.argv[1], "projects")):
    for name in files:
        if name.endswith(".jsonl"):
            with open(os.path.join(top, name), "rb") as f:
                for line in f:
                    try:
                        json.loads(line)
                    except ValueError:
                        pass
"""
PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def corpus(work, mb, days, seed):
    """A generated config dir of about mb megabytes, made once and kept."""
    root = os.path.join(work, f"corpus-{mb}mb-{days}d-seed{seed}")
    done = os.path.join(root, "expected.json")
    if not os.path.exists(done):
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "logsynth.py"), "--out", root, "--mb", str(mb),
                        "--days", str(days), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return root


def timed(argv, env=None, before=None):
    """Seconds one run of argv takes; before() runs first, untimed."""
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def median_of(runs, argv, env=None, before=None):
    return statistics.median(timed(argv, env, before) for _ in range(runs))


class Appender:
    """Appends one new billable call to a log per call, as Claude Code would."""

    def __init__(self, root):
        self.path = next(os.path.join(top, name) for top, _, names in os.walk(os.path.join(root, "projects"))
                         for name in sorted(names) if name.endswith(".jsonl"))
        self.count = 0

    def __call__(self):
        self.count += 1
        line = {"type": "assistant", "sessionId": "bench-session", "cwd": "/home/dev/bench",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "requestId": f"req_bench_{os.getpid()}_{self.count}",
                "message": {"id": f"msg_bench_{os.getpid()}_{self.count}", "model": "claude-sonnet-4-5-20250929",
                            "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                            "usage": {"input_tokens": 3, "output_tokens": 5, "cache_creation_input_tokens": 0,
                                      "cache_read_input_tokens": 100}}}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def measure(args, root):
    python = args.python
    size = sum(os.path.getsize(os.path.join(top, n)) for top, _, names in os.walk(os.path.join(root, "projects"))
               for n in names)
    store_dir = tempfile.mkdtemp(prefix="ccusage-bench-store-")
    daily = [args.ccusage, "daily", "--json", "-z", "UTC", "--data-dir", root]
    # No settings file of the user's may change what is measured.
    env = dict(os.environ, XDG_CONFIG_HOME=store_dir)
    results = {}
    results["python start"] = median_of(args.runs, [python, "-c", "pass"])
    results["json.loads reader"] = median_of(args.runs, [python, "-c", PLAIN_READER, root])

    cold, native = [], []
    for run in range(args.runs):
        db = os.path.join(store_dir, f"cold-{run}.db")
        cold.append(timed(daily + ["--db", db], env))
        if args.native:
            native.append(timed([args.native, "claude", "daily", "--offline", "--json", "-z", "UTC"],
                                dict(os.environ, CLAUDE_CONFIG_DIR=root)))
    results["cold daily --json"] = statistics.median(cold)
    if native:
        results["native daily --json"] = statistics.median(native)

    db = os.path.join(store_dir, "warm.db")
    subprocess.run(daily + ["--db", db], stdout=subprocess.DEVNULL, check=True, env=env)
    results["warm daily --json"] = median_of(args.runs, daily + ["--db", db], env)
    results["append 1 call + daily"] = median_of(args.runs, daily + ["--db", db], env, before=Appender(root))
    results["warm today --json"] = median_of(args.runs, [args.ccusage, "today", "--json", "-z", "UTC",
                                                         "--data-dir", root, "--db", db], env)
    results["warm status"] = median_of(args.runs, [args.ccusage, "status", "--data-dir", root, "--db", db], env)
    results["warm blocks --active"] = median_of(args.runs, [args.ccusage, "blocks", "--active", "--json",
                                                            "--data-dir", root, "--db", db], env)
    peak = subprocess.run([python, "-c", PEAK_RSS] + daily + ["--db", os.path.join(store_dir, "peak.db")],
                          capture_output=True, text=True, check=True, env=env)
    peak_mb = int(peak.stdout.strip()) * (1 if sys.platform == "darwin" else 1024) / 1e6
    shutil.rmtree(store_dir)
    return size, results, peak_mb


def report(label, size, results, peak_mb):
    base = results["python start"]
    reader = results["json.loads reader"]
    native = results.get("native daily --json")
    print(f"\n{label} ({size / 1e6:,.0f} MB of logs)")
    head = f"{'measure':<24} {'median':>9} {'x start':>8} {'x reader':>9}" + (f" {'x native':>9}" if native else "")
    print(head)
    print("-" * len(head))
    for name, seconds in results.items():
        line = f"{name:<24} {seconds * 1000:>7.0f}ms {seconds / base:>8.2f} {seconds / reader:>9.3f}"
        if native:
            line += f" {seconds / native:>9.3f}"
        print(line)
    print(f"{'peak memory, cold':<24} {peak_mb:>7.0f}MB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ccusage", default=shutil.which("ccusage"), help="the ccusage command to measure")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the baselines")
    parser.add_argument("--native", default=os.environ.get("CCUSAGE_NATIVE"),
                        help="the npm ccusage's native binary, to compare with (default: $CCUSAGE_NATIVE)")
    parser.add_argument("--sizes", default="100,300", help="corpus sizes in MB (default: %(default)s)")
    parser.add_argument("--large", action="store_true", help="add the 1 GB corpus")
    parser.add_argument("--days", type=int, default=60, help="days of history (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (default: %(default)s)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ccusage-bench"),
                        help="where corpora are kept between runs (default: %(default)s)")
    parser.add_argument("--corpus", action="append", default=[], metavar="DIR",
                        help="measure a Claude config dir of your own instead (a copy of it: the runs "
                             "append to a log); repeat for several")
    args = parser.parse_args(argv)
    if not args.ccusage:
        parser.error("no ccusage command found: install it, or name it with --ccusage")
    os.makedirs(args.work, exist_ok=True)
    if args.corpus:
        corpora = [(os.path.basename(os.path.abspath(d)), d) for d in args.corpus]
    else:
        sizes = [int(s) for s in args.sizes.split(",")] + ([1000] if args.large else [])
        corpora = [(f"{mb} MB corpus", corpus(args.work, mb, args.days, args.seed)) for mb in sizes]
    warm = {}
    for label, root in corpora:
        if args.corpus:
            copy = os.path.join(args.work, "copy-of-" + label)
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(os.path.join(root, "projects"), os.path.join(copy, "projects"))
            root = copy
        size, results, peak_mb = measure(args, root)
        if args.corpus:
            shutil.rmtree(root)
        report(label, size, results, peak_mb)
        warm[size] = (label, results)
    if len(warm) > 1:
        (small, small_results), (large, large_results) = warm[min(warm)], warm[max(warm)]
        print()
        for name in ("warm daily --json", "warm today --json", "warm status", "warm blocks --active"):
            print(f"{name} grows {large_results[name] / small_results[name]:.2f}x from {small} to {large}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
