"""Helpers shared by the tests: running ccusage in an isolated environment, and reading its reports."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ccusage
import logsynth

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Result:
    """Exit status and output of one ccusage run."""

    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def json(self):
        assert self.code == 0, self.err
        return json.loads(self.out)

    def __repr__(self):
        return f"Result(code={self.code!r}, out={self.out[:300]!r}, err={self.err!r})"


class Env:
    """A private HOME, XDG dirs, store and Claude config dir; nothing touches the real home.

    run() calls ccusage.main in this process (stdout/stderr captured by capsys)
    with --db and --data-dir added; cli() runs the installed command.
    """

    def __init__(self, tmp_path, monkeypatch, capsys):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.claude = tmp_path / "claude"
        self.db = tmp_path / "store" / "usage.db"
        self.config_home = self.home / ".config"
        self.data_home = self.home / ".local" / "share"
        self.home.mkdir()
        self.claude.mkdir()
        self.db.parent.mkdir(mode=0o700)   # ccusage creates only its default store's directory
        self._capsys = capsys
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(self.config_home))
        monkeypatch.setenv("XDG_DATA_HOME", str(self.data_home))
        monkeypatch.setenv("TZ", "UTC")   # the default zone of reports that take no -z
        for name in list(os.environ):
            if name.startswith("CCUSAGE_") or name in ("CLAUDE_CONFIG_DIR", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
                monkeypatch.delenv(name)

    def _args(self, argv, data_dirs):
        args = [str(a) for a in argv] + ["--db", str(self.db)]
        for directory in [self.claude] if data_dirs is None else data_dirs:
            args += ["--data-dir", str(directory)]
        return args

    def run(self, *argv, data_dirs=None):
        return self.run_raw(*self._args(argv, data_dirs))

    def run_raw(self, *argv):
        """ccusage.main(argv) exactly as given; a usage error's SystemExit becomes the exit status."""
        self._capsys.readouterr()
        try:
            code = ccusage.main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
        out, err = self._capsys.readouterr()
        return Result(code, out, err)

    def command(self, *argv, data_dirs=None):
        """The installed ccusage command line, with --db and --data-dir added."""
        return [installed_ccusage()] + self._args(argv, data_dirs)

    def cli(self, *argv, data_dirs=None, env=None, timeout=60):
        """Run the installed ccusage command, with --db and --data-dir added."""
        proc = subprocess.run(self.command(*argv, data_dirs=data_dirs), capture_output=True, text=True,
                              env=dict(os.environ, **(env or {})), timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def module(self, *argv, data_dirs=None, timeout=60):
        """`python -m ccusage` from the working copy, with --db and --data-dir added."""
        proc = subprocess.run([sys.executable, "-m", "ccusage"] + self._args(argv, data_dirs), cwd=PROJECT_DIR,
                              capture_output=True, text=True, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def log(self, session="s1", cwd="/home/u/proj", agent=None):
        """Path of a session transcript (or one of its subagents') in this env's Claude config dir."""
        return logsynth.session_path(str(self.claude), session, cwd, agent)


def installed_ccusage():
    """The ccusage command installed beside the running Python (make test's venv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ccusage")
    path = beside if os.access(beside, os.X_OK) else shutil.which("ccusage")
    assert path, "the ccusage command is not installed: run `python3 -m pip install .` first (make test does)"
    return path


def tokens_of(entry):
    """(input, output, cache write, cache read) of a JSON report entry."""
    return (entry["inputTokens"], entry["outputTokens"], entry["cacheCreationTokens"], entry["cacheReadTokens"])


def truth_tokens(totals):
    return (totals.input, totals.output, totals.cache_creation, totals.cache_read)


def daily_by_model(report):
    """{(date, model): tokens} of a daily --json report."""
    return {(day["date"], part["modelName"]): tokens_of(part)
            for day in report["daily"] for part in day["modelBreakdowns"]}


def truth_daily_by_model(truth):
    return {(day, model): truth_tokens(t) for day, models in truth.days.items() for model, t in models.items()}


def sessions_by_id(report):
    return {s["sessionId"]: s for s in report["sessions"]}


def first_line_is_one_error(result):
    """A usage or runtime error: one line on stderr, no traceback, nothing on stdout."""
    assert result.err.count("\n") == 1 and result.err.endswith("\n"), result.err
    assert "Traceback" not in result.err
    assert result.out == ""
