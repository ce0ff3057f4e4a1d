"""What build_parser() accepts, walked from the parser itself.

The man page and completion tests check their files against this, so a
command or option added to the parser fails them until it is documented and
completed, with no list here to keep in step.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The working tree's ccusage.py, not an installed copy that may be older.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ccusage  # noqa: E402


class Command:
    """One parser: ccusage itself, or a command below it."""

    def __init__(self, path, parser):
        self.path = path
        self.name = " ".join(("ccusage",) + path)
        self.subcommands = []
        self.words = []  # choices of a positional, such as config's action
        self.options = []  # every option string, short and long
        self.choices = {}  # option string -> the values it accepts
        self.metavars = {}  # option string -> metavar, for options that take a value
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # hidden on purpose, so not documented either
            if isinstance(action, argparse._SubParsersAction):
                self.subcommands.extend(action.choices)
            elif not action.option_strings:
                self.words.extend(str(c) for c in action.choices or ())
            else:
                self.options.extend(action.option_strings)
                for option in action.option_strings:
                    if action.choices is not None:
                        self.choices[option] = [str(c) for c in action.choices]
                    if action.nargs != 0:
                        self.metavars[option] = action.metavar or action.dest.upper()

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def targets(self):
        """What may follow the command that is not an option."""
        return self.subcommands + self.words


def commands():
    """Every Command, ccusage itself first."""
    found = []

    def walk(parser, path):
        found.append(Command(path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + (name,))

    walk(ccusage.build_parser(), ())
    return found


def all_options():
    return {option for command in commands() for option in command.options}
