"""The man page and the completion files against the parser.

Whatever build_parser() accepts must be in man/ccusage.1 and in every file
under completions/; a new command, option or choice fails here, naming what
is missing from which file, until it is documented and completed.
"""

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cli_model  # noqa: E402
from cli_model import ROOT, ccusage  # noqa: E402

MAN = ROOT / "man" / "ccusage.1"
COMPLETIONS = ["completions/ccusage.bash", "completions/_ccusage", "completions/ccusage.fish"]
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT", "FILES",
                "EXIT STATUS", "EXAMPLES", "SEE ALSO"]


def plain(line):
    """A man(7) source line as the words a reader sees."""
    if line.startswith('.\\"'):
        return ""
    line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
    line = re.sub(r"\\\(aq", "'", line)
    line = re.sub(r"\\\(dq", '"', line)
    line = re.sub(r"\\\(..|\\\[[^]]*\]", " ", line)
    line = line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    return re.sub(r"^\.[A-Za-z]+\s?", "", line)


def man_sections():
    sections, name = {}, None
    for line in MAN.read_text(encoding="utf-8").splitlines():
        if line.startswith(".SH"):
            name = plain(line).strip().strip('"')
            sections[name] = []
        elif name:
            sections[name].append(plain(line))
    return {name: "\n".join(lines) for name, lines in sections.items()}


def man_examples():
    """The lines of the man page's .EX blocks."""
    lines, inside = [], False
    for line in MAN.read_text(encoding="utf-8").splitlines():
        if line.startswith(".EX"):
            inside = True
        elif line.startswith(".EE"):
            inside = False
        elif inside:
            lines.append(plain(line))
    return lines


def mentions(text, word):
    """Is word in text as a whole word? (-s must not match inside --since.)"""
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def missing_report(where, missing):
    """'<where> lacks: <item> (of <commands>); ...', grouping the commands an item is missing for."""
    grouped = {}
    for item, command in missing:
        grouped.setdefault(item, []).append(command)
    return f"{where} lacks: " + "; ".join(f"{item} (of {', '.join(commands)})" for item, commands in grouped.items())


# ---------------------------------------------------------------------------
# The man page
# ---------------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("mandoc"), reason="mandoc is not installed (.ci/run installs it)")
def test_man_page_is_clean_under_mandoc_lint():
    result = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(MAN)],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_man_page_has_the_sections_and_examples_a_reader_looks_for():
    sections = man_sections()
    assert [s for s in MAN_SECTIONS if s not in sections] == []
    examples = "\n".join(man_examples())
    cron = re.search(r"^\s*(\S+\s+){5}\S*ccusage\b", examples, re.M)
    assert cron, "EXAMPLES has no crontab(5) line running ccusage"
    assert re.search(r"ccusage .*\| *jq ", examples), "EXAMPLES has no jq pipeline"
    assert re.search(r"^\s*(PS1|RPROMPT|PROMPT)=.*ccusage", examples, re.M), "EXAMPLES has no prompt snippet"


def test_man_page_documents_every_command():
    text = man_sections()["COMMANDS"]
    missing = [(f"command {name!r}", command.name)
               for command in cli_model.commands() for name in command.targets if not mentions(text, name)]
    assert not missing, missing_report("man/ccusage.1 section COMMANDS", missing)


def test_man_page_documents_every_option_and_its_values():
    text = man_sections()["OPTIONS"]
    missing = []
    for command in cli_model.commands():
        missing += [(f"option {option}", command.name) for option in command.options
                    if not mentions(text, option)]
        missing += [(f"value {value!r} of {option}", command.name)
                    for option, values in command.choices.items() if option.startswith("--")
                    for value in values if not mentions(text, value)]
    assert not missing, missing_report("man/ccusage.1 section OPTIONS", missing)


def test_man_page_names_no_option_the_parser_lacks():
    # Catches an option renamed or removed in the code but not on the page.
    text = "\n".join(man_sections().values())
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    assert named - cli_model.all_options() == set()


def man_option_entries():
    """{option: the words of its entry} of the OPTIONS subsection on the reports, blocks and status."""
    text = MAN.read_text(encoding="utf-8").split(".SS Options of the reports", 1)[1].split(".SS", 1)[0]
    entries = {}
    for block in text.split("\n.TP\n")[1:]:
        head, _, body = block.partition("\n")
        words = " ".join(plain(line) for line in body.splitlines())
        for option in re.findall(r"(?<![\w-])--?[a-z][a-z-]*", plain(head)):
            entries[option] = words
    return entries


def _named(text):
    """The commands of "X", "X and Y", "X, Y and Z", "X, Y or Z"."""
    return set(re.split(r"\s*,\s*|\s+and\s+|\s+or\s+", text.strip()))


def commands_a_man_entry_allows(words, commands):
    """The commands an option's entry says take it, from its closing phrase: "Reports only",
    "Reports only, and not X", "Reports (but not X) and Y only", "X and Y only", "X only",
    "Accepted only by X, Y and Z", "Not for X, Y or Z"; with none of them, every command."""
    reports = set(ccusage.REPORTS)
    match = re.search(r"Reports only(?:, and not (\w+))?\s*\.", words)
    if match:
        return reports - {match.group(1)}
    match = re.search(r"Reports(?: \(but not (\w+)\s*\))?(?: and ([\w ,]+?))? only\s*\.", words)
    if match:
        return (reports - {match.group(1)}) | (_named(match.group(2)) if match.group(2) else set())
    match = re.search(r"Accepted only by ([\w ,]+?)(?:\s*,)? and before a command", words)
    if match:
        return _named(match.group(1))
    match = re.search(r"(?:^|\. )([\w ,]+?) only\s*\.", words)
    if match:
        return _named(match.group(1))
    match = re.search(r"Not for ([\w ,]+?)\s*\.", words)
    if match:
        return set(commands) - _named(match.group(1))
    return set(commands)


def sample_value(option, command):
    """A value the option takes, so that only the command can object to it."""
    if option in command.choices:
        return [command.choices[option][0]]
    if option not in command.metavars:
        return []
    return [SAMPLES.get(command.metavars[option], "x")]


SAMPLES = {"DATE": "2026-11-01", "TZ": "UTC", "N|max": "1000", "HOURS": "5", "DIR": "/tmp",
           "PATH": "/tmp/ccusage-test.db", "SECONDS": "2", "KIND:PATH": "proxy:/tmp"}


def refused_by(argv):
    """Does the command line end in a usage error naming its option (argv[1])?  An error about
    something else, such as an option the command requires, is not a refusal of this one."""
    import contextlib
    import io
    parser = ccusage.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    # What the command requires, given, so that only the option probed can be objected to.
    required = [action for action in commands[argv[0]]._actions if action.required and action.option_strings]
    for action in required:
        argv = argv + [action.option_strings[-1]] + ([] if action.nargs == 0 else
                                                     [SAMPLES.get(action.metavar, "x")])
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            ccusage.check_args(parser.parse_args(argv))
    except SystemExit as exc:
        return exc.code == 2 and argv[1] in said.getvalue()
    return False


def man_command_entries():
    """{command: the words of its entry} of the COMMANDS section."""
    text = MAN.read_text(encoding="utf-8").split(".SH COMMANDS", 1)[1].split(".SH", 1)[0]
    entries = {}
    for block in text.split("\n.TP\n")[1:]:
        head, _, body = block.partition("\n")
        body = re.split(r"\n\.(?:PP|RS)\n", body)[0]   # what follows the entry is about no one command
        entries[plain(head).split()[0].strip('"')] = " ".join(plain(line) for line in body.splitlines())
    return entries


def test_man_page_says_which_commands_take_each_option(capsys):
    # Options before the command apply to it: every one of them is probed with every command.
    everything = {c.name: c for c in cli_model.commands()}
    top = everything["ccusage"]
    names = [name.split()[1] for name in everything if name.count(" ") == 1 and name != "ccusage config"]
    entries = man_option_entries()
    wrong = []
    for option in [o for o in top.options if o.startswith("--") and o not in ("--help", "--version")]:
        taken = {name for name in names if not refused_by([name, option] + sample_value(option, top))}
        said = commands_a_man_entry_allows(entries.get(option, ""), names)
        if taken != said:
            wrong.append(f"{option}: taken by {sorted(taken)}, the page says {sorted(said)}")
    # And an option named in a command's entry under COMMANDS that the command refuses is named only to
    # say so ("is not accepted", "takes no"), never as "accepted but has no effect".
    for name, entry in man_command_entries().items():
        if name not in names:
            continue
        own = everything[f"ccusage {name}"]
        for sentence in re.split(r"(?<=\.)\s", entry):
            for option in re.findall(r"--[a-z][a-z-]*", sentence):
                if refused_by([name, option] + sample_value(option, own if option in own.options else top)) and \
                        not re.search(r"\b(not accepted|not taken|takes no|refuses|refused)\b", sentence):
                    wrong.append(f"COMMANDS, {name}: {sentence.strip()!r} but {name} refuses {option}")
    capsys.readouterr()
    assert wrong == [], "man/ccusage.1 disagrees with the parser:\n" + "\n".join(wrong)


def test_man_page_examples_run_as_written():
    parser = ccusage.build_parser()
    invocations = []
    for line in man_examples():
        line = re.sub(r"(?<!\S)\d*[<>]+&?\s*\S+", " ", line)  # redirections such as 2>/dev/null
        for match in re.finditer(r"(?:^|[\s(/])ccusage((?:\s+[^\s|>)&;]+)*)", line):
            invocations.append(shlex.split(match.group(1)))
    assert len(invocations) >= 5, invocations
    failed = []
    for argv in invocations:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code:
                failed.append(" ".join(["ccusage"] + argv))
    assert failed == [], f"man/ccusage.1 has examples the parser rejects: {failed}"


def environment_variables():
    source = (ROOT / "ccusage.py").read_text(encoding="utf-8")
    names = set(re.findall(r"(?:environ\.get|environ|getenv)\s*[(\[]\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    # Settings read their variables by name from a table, not by a literal lookup.
    for setting in getattr(ccusage, "SETTINGS", ()):
        names.update(getattr(setting, "env", ()))
    return names


def test_man_page_documents_every_environment_variable():
    names = environment_variables()
    assert {"CCUSAGE_DB", "XDG_DATA_HOME", "TZ"} <= names, "the scan of ccusage.py no longer finds variables"
    text = man_sections()["ENVIRONMENT"]
    missing = sorted(name for name in names if not mentions(text, name))
    assert missing == [], f"man/ccusage.1 section ENVIRONMENT lacks: {', '.join(missing)}"


def test_man_page_documents_every_setting():
    settings = [getattr(s, "name", None) for s in getattr(ccusage, "SETTINGS", ())]
    if not settings:
        pytest.skip("ccusage has no settings table")
    text = man_sections().get("CONFIGURATION", "")
    missing = [name for name in settings if not mentions(text, name)]
    assert missing == [], f"man/ccusage.1 section CONFIGURATION lacks: {', '.join(missing)}"


# ---------------------------------------------------------------------------
# The completion files
# ---------------------------------------------------------------------------

def fish_options(text):
    """The options fish's complete lines define: -s x is -x, -l name is --name."""
    options = set()
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if re.match(r"\s*complete\b", line):
            options.update("-" + s for s in re.findall(r"\s(?:-s|--short-option)\s+(\w)\b", line))
            options.update("--" + s for s in re.findall(r"\s(?:-l|--long-option)\s+([\w-]+)", line))
            options.update("-" + s for s in re.findall(r"\s(?:-o|--old-option)\s+([\w-]+)", line))
    return options


@pytest.mark.parametrize("path", COMPLETIONS)
def test_completion_file_covers_every_command_option_and_value(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    if path.endswith(".fish"):
        defined = fish_options(text)

        def has_option(option):
            return option in defined
    else:
        def has_option(option):
            return mentions(text, option)
    missing = []
    for command in cli_model.commands():
        missing += [(f"command {name!r}", command.name) for name in command.targets if not mentions(text, name)]
        missing += [(f"option {option}", command.name) for option in command.options if not has_option(option)]
        missing += [(f"value {value!r} of {option}", command.name)
                    for option, values in command.choices.items() for value in values if not mentions(text, value)]
    assert not missing, missing_report(path, missing)


def test_the_walk_of_the_parser_sees_what_the_cli_takes():
    # The tests above pass vacuously if the walk finds nothing.
    commands = {c.path: c for c in cli_model.commands()}
    assert {("daily",), ("weekly",), ("session",)} <= set(commands)
    assert {"--since", "-s", "--json", "-V"} <= set(commands[()].options)
    assert commands[("weekly",)].choices["--order"] == ["asc", "desc"]
    assert "--start-of-week" not in commands[("daily",)].options
