"""The completion files, run in real bash, fish and zsh.

Expectations come from build_parser() (see cli_model.py): for every command,
completing "-" must offer exactly its options, an empty word its commands or
words, an option with choices exactly those, and a file, directory or time
zone option what the shell lists of those.  Every shell runs once for all its
cases; zsh completes only at a terminal, so it runs in tmux.
"""

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cli_model  # noqa: E402
from cli_model import ROOT  # noqa: E402
from support import shell_env  # noqa: E402

COMPLETIONS = ROOT / "completions"
FILE_METAVARS = {"FILE", "PATH"}
DIR_METAVARS = {"DIR"}
ZONE_METAVARS = {"TZ"}


def needs(tool):
    return pytest.mark.skipif(not shutil.which(tool), reason=f"{tool} is not installed (.ci/run installs it)")


class Case:
    """Completing `ccusage <words> <cur>`: what must be offered, and what must not."""

    def __init__(self, words, cur, exact=None, includes=(), excludes=()):
        self.words, self.cur = list(words), cur
        self.exact, self.includes, self.excludes = exact, set(includes), set(excludes)

    @property
    def line(self):
        return " ".join(["ccusage"] + self.words + [self.cur])

    def problem(self, offered):
        """Why `offered` is wrong for this case, or None."""
        offered = {o.rstrip("/") for o in offered if o}
        if self.exact is not None and offered != set(self.exact):
            return (f"{self.line!r} offers {sorted(offered)}: missing {sorted(set(self.exact) - offered)}, "
                    f"not expected {sorted(offered - set(self.exact))}")
        if not self.includes <= offered or self.excludes & offered:
            return (f"{self.line!r} offers {sorted(offered)[:20]}: should include {sorted(self.includes)} "
                    f"and not {sorted(self.excludes)}")
        return None


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An empty HOME for the shells: nothing of the developer's is read."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """A directory with a file and two directories, for file and directory completion."""
    top = tmp_path_factory.mktemp("paths")
    (top / "logs").mkdir()
    (top / "more").mkdir()
    (top / "prices.json").write_text("{}\n")
    return top


def cli_cases(top):
    """The cases every shell must pass, derived from the parser."""
    cases = []
    for command in cli_model.commands():
        words = list(command.path)
        cases.append(Case(words, "-", exact=command.options))
        if command.targets:
            cases.append(Case(words, "", exact=command.targets))
        not_a_value = set(command.targets) | set(command.options)
        for option, metavar in command.metavars.items():
            if option in command.choices:
                cases.append(Case(words + [option], "", exact=command.choices[option]))
            elif metavar in FILE_METAVARS:
                cases.append(Case(words + [option], f"{top}/", includes={f"{top}/prices.json", f"{top}/logs"}))
            elif metavar in DIR_METAVARS:
                cases.append(Case(words + [option], f"{top}/", includes={f"{top}/logs", f"{top}/more"},
                                  excludes={f"{top}/prices.json"}))
            elif metavar in ZONE_METAVARS:
                cases.append(Case(words + [option], "Europe/Ber", includes={"Europe/Berlin"}))
            else:
                cases.append(Case(words + [option], "", excludes=not_a_value))
            if len(command.targets) >= 2:
                # The value is never taken for the command: after
                # `--project daily`, the command is still to come.
                first, second = command.targets[:2]
                cases.append(Case(words + [option, first], second, exact=[second]))
    return cases


def check(cases, results, shell):
    problems = [p for case, offered in zip(cases, results) if (p := case.problem(offered))]
    assert not problems, f"{shell} completion is wrong:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------
# bash: source the file, set COMP_WORDS and friends, call the function
# ---------------------------------------------------------------------------

BASH_HARNESS = r"""
source "$1"
complete -p ccusage >/dev/null || { echo "ccusage.bash registers no completion" >&2; exit 3; }
_case() {
    COMP_LINE=$1; COMP_POINT=${#COMP_LINE}; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
    _ccusage ccusage "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}"
    printf '\036\n'
}
"""


def run_bash(cases, cwd, home):
    """What bash offers for each case; words are given split as bash splits them."""
    script = [BASH_HARNESS]
    for case in cases:
        line = case.line.replace(" = ", "=").replace(" =", "=")
        script.append("_case " + " ".join(shlex.quote(w) for w in [line, "ccusage"] + case.words + [case.cur]))
    result = subprocess.run(["bash", "--norc", "--noprofile", "-s", str(COMPLETIONS / "ccusage.bash")],
                            input="\n".join(script), capture_output=True, text=True, cwd=cwd, env=shell_env(home),
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    outputs = result.stdout.split("\036\n")[:-1]
    assert len(outputs) == len(cases)
    return [out.splitlines() for out in outputs]


@needs("bash")
def test_bash_completes_a_command_and_an_option(home):
    daily = Case([], "da", exact=["daily"])
    order = Case(["daily"], "--or", exact=["--order"])
    check([daily, order], run_bash([daily, order], ROOT, home), "bash")


@needs("bash")
def test_bash_completes_what_the_parser_takes(paths, home):
    cases = cli_cases(paths)
    check(cases, run_bash(cases, paths, home), "bash")


@needs("bash")
def test_bash_completes_the_value_of_option_equals_value(home):
    # bash splits "--order=d" into "--order" "=" "d"; the value is still completed.
    cases = []
    for command in cli_model.commands():
        for option, values in command.choices.items():
            if option.startswith("--"):
                cases.append(Case(list(command.path) + [option], "=", exact=values))
                cases.append(Case(list(command.path) + [option, "="], values[-1][:1],
                                  exact=[v for v in values if v.startswith(values[-1][:1])]))
    assert cases
    check(cases, run_bash(cases, ROOT, home), "bash")


# ---------------------------------------------------------------------------
# fish: `complete -C` with the file found where fish looks for completions
# ---------------------------------------------------------------------------

def fish_quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_fish(lines, home):
    # fish_complete_path makes fish autoload the file by its name, as it
    # does once installed.
    script = [f"set -g fish_complete_path {fish_quote(str(COMPLETIONS))} $fish_complete_path"]
    for line in lines:
        script.append(f"complete -C {fish_quote(line)}; printf '\\036\\n'")
    result = subprocess.run(["fish", "-c", "\n".join(script)], capture_output=True, text=True, env=shell_env(home),
                            cwd=home, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    outputs = result.stdout.split("\036\n")[:-1]
    assert len(outputs) == len(lines)
    # fish prints "candidate<TAB>description".
    return [[entry.split("\t")[0] for entry in out.splitlines()] for out in outputs]


@needs("fish")
def test_fish_accepts_the_file():
    result = subprocess.run(["fish", "--no-execute", str(COMPLETIONS / "ccusage.fish")],
                            capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


@needs("fish")
def test_fish_completes_a_command(tmp_path):
    assert run_fish(["ccusage da"], tmp_path) == [["daily"]]


@needs("fish")
def test_fish_completes_what_the_parser_takes(paths, tmp_path):
    cases = cli_cases(paths)
    check(cases, run_fish([c.line for c in cases], tmp_path), "fish")


# ---------------------------------------------------------------------------
# zsh: a real session in tmux, keys typed, the screen read
# ---------------------------------------------------------------------------

PROMPT = "zsh> "


class Zsh:
    """zsh -f in a detached tmux session of its own, with compinit and our file on fpath."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.socket = f"ccusage-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # SHELL: tmux runs the pane's command with it, which must not be the developer's fish.
        self.env = shell_env(tmp, TERM="screen", SHELL="/bin/sh", TMUX_TMPDIR=str(tmp))
        shell = shlex.join(["env", "-i"] + [f"{k}={self.env[k]}" for k in ("HOME", "TERM", "LANG", "PATH")]
                           + ["zsh", "-f"])
        self.tmux("new-session", "-d", "-x", "120", "-y", "60", shell)
        # list_ambiguous off: list the candidates even when a common prefix
        # could be inserted, so every case shows its list on one Tab.
        self.type(f"fpath=({shlex.quote(str(COMPLETIONS))} $fpath); autoload -Uz compinit; compinit -u -D; "
                  f"unsetopt list_ambiguous; LISTMAX=1000; PS1={shlex.quote(PROMPT)}; print CC''READY", "Enter")
        self.wait(lambda screen: "CCREADY" in screen.splitlines(), "zsh to start")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def type(self, text, *keys):
        self.tmux("send-keys", "-l", text)
        if keys:
            self.tmux("send-keys", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p")

    def wait(self, done, what, timeout=5.0, required=True):
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if done(screen):
                return screen
            if time.monotonic() > deadline:
                if required:
                    pytest.fail(f"timed out waiting for {what}; the screen:\n{screen}")
                return screen
            time.sleep(0.03)

    def complete(self, line):
        """(the edited line, the listed candidates) after typing line and Tab."""
        self.tmux("send-keys", "C-u", "C-l")
        self.wait(lambda screen: screen.strip() == PROMPT.strip(), "a clear screen")
        self.type(line, "Tab")
        typed = PROMPT + line.rstrip()

        def changed(screen):
            lines = screen.rstrip().splitlines()
            return len(lines) > 1 or (lines and lines[0].rstrip() != typed)
        # zsh answers "nothing to offer" by leaving the screen alone, which
        # only the timeout can tell; no passing case waits for it.
        screen = self.wait(changed, f"zsh to complete {line!r}", timeout=1.5, required=False)
        # The list may still be arriving: read until two looks agree.
        while True:
            time.sleep(0.05)
            again = self.screen()
            if again == screen:
                break
            screen = again
        lines = screen.rstrip().splitlines()
        listed = []
        for row in lines[1:]:
            listed += row.split(" -- ")[0].split()
        return lines[0][len(PROMPT):].rstrip(), listed

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True)


@pytest.fixture(scope="module")
def zsh(tmp_path_factory):
    if not (shutil.which("zsh") and shutil.which("tmux")):
        pytest.skip("zsh and tmux are needed (.ci/run installs them)")
    session = Zsh(tmp_path_factory.mktemp("zsh"))
    try:
        yield session
    finally:
        session.close()


@needs("zsh")
def test_zsh_accepts_the_file():
    result = subprocess.run(["zsh", "-n", str(COMPLETIONS / "_ccusage")], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_zsh_completes_a_command_at_a_terminal(zsh):
    line, _ = zsh.complete("ccusage mont")
    assert line == "ccusage monthly"


def test_zsh_completes_a_time_zone(zsh):
    line, _ = zsh.complete("ccusage -z Europe/Ber")
    assert line == "ccusage -z Europe/Berlin"


def test_zsh_lists_what_the_parser_takes(zsh, paths):
    problems = []
    for command in cli_model.commands():
        words = list(command.path)
        cases = [Case(words, "-", exact=command.options)]
        if command.targets:
            cases.append(Case(words, "", exact=command.targets))
        cases += [Case(words + [option], "", exact=values) for option, values in command.choices.items()
                  if option.startswith("--") or not command.path]
        cases += [Case(words + [option], f"{paths}/", includes={"logs", "more"}, excludes={"prices.json"})
                  for option, metavar in command.metavars.items() if metavar in DIR_METAVARS and not command.path]
        cases += [Case(words + [option], f"{paths}/", includes={"logs", "prices.json"})
                  for option, metavar in command.metavars.items() if metavar in FILE_METAVARS and not command.path]
        for case in cases:
            _, listed = zsh.complete(case.line)
            problem = case.problem(listed)
            if problem:
                problems.append(problem)
        if len(problems) >= 5:
            break  # each unanswered case costs a timeout: five say enough
    assert not problems, "zsh completion is wrong:\n" + "\n".join(problems)
