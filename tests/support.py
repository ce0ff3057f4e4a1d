"""Helpers shared by the tests: running ccusage in an isolated environment, and reading its reports."""

import json
import os
import re
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
        self._monkeypatch = monkeypatch
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(self.config_home))
        monkeypatch.setenv("XDG_DATA_HOME", str(self.data_home))
        monkeypatch.setenv("TZ", "UTC")   # the default zone of reports that take no -z
        for name in list(os.environ):
            if name.startswith("CCUSAGE_") or name in ("CLAUDE_CONFIG_DIR", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
                monkeypatch.delenv(name)
            # What would change the commands this env starts: the developer's locale (the C
            # locale makes Python write UTF-8), Python settings and a shell's startup file.
            elif name in ("LANG", "LANGUAGE", "BASH_ENV", "ENV") or name.startswith(("LC_", "PYTHON")):
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
        proc = subprocess.run(self.command(*argv, data_dirs=data_dirs), capture_output=True, encoding="utf-8",
                              env=dict(os.environ, **(env or {})), timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def module(self, *argv, data_dirs=None, timeout=60):
        """`python -m ccusage` from the working copy, with --db and --data-dir added."""
        proc = subprocess.run([sys.executable, "-m", "ccusage"] + self._args(argv, data_dirs), cwd=PROJECT_DIR,
                              capture_output=True, encoding="utf-8", timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def live_frame(self, *args, columns=120, lines=40, now="2026-11-20T11:30:00Z"):
        """`live --once -z UTC` at columns x lines, at the moment now: the frame, checked to fit its size."""
        from freezegun import freeze_time
        with self._monkeypatch.context() as patch:
            patch.setenv("COLUMNS", str(columns))
            patch.setenv("LINES", str(lines))
            with freeze_time(now):
                result = self.run("live", "--once", "-z", "UTC", *args)
        assert result.code == 0, result
        rows = result.out.split("\n")
        assert rows[-1] == "" and len(rows) - 1 <= lines
        assert max(len(row) for row in rows) <= columns
        return result

    def log(self, session="s1", cwd="/home/u/proj", agent=None):
        """Path of a session transcript (or one of its subagents') in this env's Claude config dir."""
        return logsynth.session_path(str(self.claude), session, cwd, agent)


def installed_ccusage():
    """The ccusage command installed beside the running Python (make test's venv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ccusage")
    path = beside if os.access(beside, os.X_OK) else shutil.which("ccusage")
    assert path, "the ccusage command is not installed: run `python3 -m pip install .` first (make test does)"
    return path


def shell_env(home, **extra):
    """The whole environment of a shell a test starts: its own HOME and XDG dirs, UTF-8, and a PATH
    that finds the installed ccusage (fish loads a command's completions only once it finds the
    command), then the system's tools, whatever the developer's own PATH and locale hold."""
    system = [os.path.dirname(shutil.which(tool) or "") for tool in ("bash", "fish", "zsh", "tmux")]
    path = [os.path.dirname(installed_ccusage())] + os.defpath.split(os.pathsep) + system
    environ = {"HOME": str(home), "XDG_CONFIG_HOME": os.path.join(str(home), ".config"),
               "XDG_DATA_HOME": os.path.join(str(home), ".local", "share"), "LANG": "C.UTF-8",
               "PATH": os.pathsep.join(dict.fromkeys(d for d in path if d))}
    environ.update(extra)
    return environ


# The settings file ccusage reads by default: TOML from Python 3.11 on, JSON
# before (no tomllib there).  Tests write settings as data, in the form the
# running Python reads, so make test on 3.9 and on 3.13 covers both.
CONFIG_SUFFIX = ".toml" if sys.version_info >= (3, 11) else ".json"
CONFIG_NAME = "config" + CONFIG_SUFFIX


def write_config(env, settings, name=CONFIG_NAME):
    """The settings file `name` in env's config dir, holding settings (data, or the file's text)."""
    return write_settings(env.config_home / "ccusage" / name, settings)


def write_settings(path, settings):
    """Write settings at path: data as TOML or JSON by the path's suffix, text as it is."""
    if not isinstance(settings, str):
        settings = toml_text(settings) if path.suffix == ".toml" else json.dumps(settings, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings, encoding="utf-8")
    return path


def toml_text(settings, table=()):
    """settings as TOML: keys and values, then a [table] per dict within ([prices."model"] in prices)."""
    def key(name):
        return name if re.fullmatch(r"[A-Za-z0-9_]+", name) else json.dumps(name)
    lines = [f"{key(k)} = {toml_value(v)}\n" for k, v in settings.items() if not isinstance(v, dict)]
    if table and (lines or not settings):
        lines.insert(0, "\n[" + ".".join(key(k) for k in table) + "]\n")
    for name, inner in settings.items():
        if isinstance(inner, dict):
            lines.append(toml_text(inner, table + (name,)))
    return "".join(lines)


def toml_value(value):
    """A TOML value: a list, or a string, number or boolean (written as JSON writes it)."""
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


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
