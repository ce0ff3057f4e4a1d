"""Fixtures: an isolated environment for every test, generated log trees, the installed command."""

import sys
from pathlib import Path

import pytest

# Test the working copy of ccusage.py, even when an older one is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logsynth  # noqa: E402
from support import Env, installed_ccusage  # noqa: E402


@pytest.fixture
def env(tmp_path, monkeypatch, capsys):
    """A tmp HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, store and Claude config dir (env.claude)."""
    return Env(tmp_path, monkeypatch, capsys)


@pytest.fixture
def synth(env):
    """synth(seed, **options): a generated log tree in env.claude."""
    def make(seed, **options):
        return logsynth.synthesize(env.claude, seed, **options)
    return make


@pytest.fixture(scope="session")
def ccusage_cmd():
    """Path of the installed ccusage command."""
    return installed_ccusage()
