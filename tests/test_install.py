"""`make install` and `make uninstall`, staged with DESTDIR as a packager would."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_model import ROOT, ccusage  # noqa: E402

# Where the issue says each file goes, below PREFIX.
INSTALLED = {
    "share/man/man1/ccusage.1": "man/ccusage.1",
    "share/bash-completion/completions/ccusage": "completions/ccusage.bash",
    "share/zsh/site-functions/_ccusage": "completions/_ccusage",
    "share/fish/vendor_completions.d/ccusage.fish": "completions/ccusage.fish",
}


def system_python():
    """Debian's /usr/bin/python3 when it is not the interpreter running the tests and has pip."""
    python = "/usr/bin/python3"
    if not os.path.exists(python) or os.path.realpath(python) == os.path.realpath(sys.executable):
        return None
    has_pip = subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0
    return python if has_pip else None


# What the Makefile takes from the environment, and what an outer make (make
# test) hands down: the developer's MANDIR or a jobserver must not reach the
# make a test runs.
MAKE_ENVIRONMENT = set(re.findall(r"^([A-Z_]+) \?=", (ROOT / "Makefile").read_text(), re.M)) | {
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}


def make(source, python, *args):
    env = {name: value for name, value in os.environ.items() if name not in MAKE_ENVIRONMENT}
    result = subprocess.run(["make", "--no-print-directory", "-C", str(source), f"PYTHON={python}", *args],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# Debian's Python lays out a --prefix install under PREFIX/local unless the
# Makefile corrects for it, and /usr/local is where that shows.
INTERPRETERS = [pytest.param(sys.executable, "/usr", id="this-python-prefix-usr"),
                pytest.param(system_python(), "/usr/local", id="system-python-prefix-usr-local")]


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
@pytest.mark.parametrize("python,prefix", INTERPRETERS)
def test_make_install_stages_everything_and_uninstall_removes_it(tmp_path, python, prefix):
    if python is None:
        pytest.skip("no other system Python with pip")
    # A copy of the tree, so pip's in-tree build/ and *.egg-info stay out of
    # the working tree.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "build", "*.egg-info", ".pytest_cache"))
    stage = tmp_path / "stage"
    root = stage / prefix.lstrip("/")

    make(source, python, "install", f"DESTDIR={stage}", f"PREFIX={prefix}")

    for target, origin in INSTALLED.items():
        path = root / target
        assert path.is_file(), f"make install did not put {origin} at $(PREFIX)/{target}"
        assert path.read_bytes() == (ROOT / origin).read_bytes()
        assert path.stat().st_mode & 0o777 == 0o644
    script = root / "bin" / "ccusage"
    staged = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if not p.is_dir())
    assert script.is_file() and os.access(script, os.X_OK), f"no runnable $(PREFIX)/bin/ccusage in {staged}"
    modules = list(root.glob("lib*/python3*/*-packages/ccusage.py"))
    assert len(modules) == 1, f"no ccusage.py in $(PREFIX)/lib/python3*/*-packages among {staged}"
    site = modules[0].parent

    # The staged script must run the staged module: run it away from the
    # working tree, and ask the same interpreter where it imports from.
    env = dict(os.environ, PYTHONPATH=str(site))
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"ccusage {ccusage.__version__} (prices checked {ccusage.PRICES_CHECKED})")
    where = subprocess.run([python, "-c", "import ccusage; print(ccusage.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert Path(where.stdout.strip()) == modules[0]

    make(source, python, "uninstall", f"DESTDIR={stage}", f"PREFIX={prefix}")

    left = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if not p.is_dir())
    assert left == [], "make uninstall left these behind"
