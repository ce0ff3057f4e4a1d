# ccusage: developer tasks.  `make help` lists them.
PYTHON ?= python3
PREFIX ?= /usr/local
# One test venv per Python version, so that PYTHON=python3.9 and the default
# never share (or half-upgrade) one.
PYTHON_VERSION = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
TEST_VENV ?= build/venv-$(PYTHON_VERSION)
DESTDIR ?=

.PHONY: help test lint bench install uninstall

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

test:  ## install ccusage and the test tools in a venv (build/venv-3.X), then run the tests
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '.[test]'
	$(TEST_VENV)/bin/python -m pytest -q

lint:  ## check the code runs on Python 3.9 and compiles
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore vermin
	$(PYTHON) -c "import sys, vermin; sys.exit(vermin.main())" --target=3.9- --violations --no-tips --eval-annotations ccusage.py tests
	$(PYTHON) -m py_compile ccusage.py

# Where `make install` puts the man page and the completions; each can be
# overridden, e.g. FISHCOMPDIR=$(PREFIX)/share/fish/completions.
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

# pip lays out a --prefix install by the Python's preferred scheme.  Debian's
# system Python ("posix_local") puts it under PREFIX/local, so there
# PREFIX=/usr/local is given to pip as /usr: the module then lands in
# /usr/local/lib/python3.X/dist-packages, where that Python looks, and the
# script in /usr/local/bin.  (PREFIX=/usr lands in /usr/local there too,
# unless DEB_PYTHON_INSTALL_LAYOUT=deb, as Debian's own packaging sets it.)
PIP_PREFIX ?= $(shell $(PYTHON) -c 'import sys, sysconfig; p = sys.argv[1]; \
	s = getattr(sysconfig, "get_preferred_scheme", lambda key: "")("prefix"); \
	print(p[:-len("/local")] if s == "posix_local" and p.endswith("/local") else p)' '$(PREFIX)')

# --ignore-installed: without it pip would first uninstall a ccusage it finds
# in the running Python, even when installing into DESTDIR.
install:  ## install ccusage, its man page and completions under $(DESTDIR)$(PREFIX)
	PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --disable-pip-version-check \
		--no-deps --ignore-installed --no-warn-script-location \
		--prefix='$(PIP_PREFIX)' $(if $(DESTDIR),--root='$(DESTDIR)') .
	install -d '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(BASHCOMPDIR)' \
		'$(DESTDIR)$(ZSHCOMPDIR)' '$(DESTDIR)$(FISHCOMPDIR)'
	install -m 644 man/ccusage.1 '$(DESTDIR)$(MANDIR)/man1/ccusage.1'
	install -m 644 completions/ccusage.bash '$(DESTDIR)$(BASHCOMPDIR)/ccusage'
	install -m 644 completions/_ccusage '$(DESTDIR)$(ZSHCOMPDIR)/_ccusage'
	install -m 644 completions/ccusage.fish '$(DESTDIR)$(FISHCOMPDIR)/ccusage.fish'

# pip cannot uninstall from a DESTDIR or another prefix, so remove exactly the
# files its RECORD lists, and nothing outside $(DESTDIR)$(PREFIX).
define UNINSTALL_PY
import csv, glob, os, sys
top = os.path.abspath(sys.argv[1])
for lib in ("lib*", os.path.join("local", "lib*")):
    for info in glob.glob(os.path.join(top, lib, "python3*", "*-packages", "ccusage-*.dist-info")):
        site = os.path.dirname(info)
        with open(os.path.join(info, "RECORD"), newline="") as f:
            paths = [os.path.normpath(os.path.join(site, row[0])) for row in csv.reader(f) if row]
        for path in paths:
            if path.startswith(top + os.sep) and os.path.lexists(path):
                os.remove(path)
        for path in sorted({os.path.dirname(p) for p in paths}, key=len, reverse=True):
            if path.startswith(site + os.sep) and os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
endef
export UNINSTALL_PY

uninstall:  ## remove what `make install` put under $(DESTDIR)$(PREFIX)
	$(PYTHON) -c "$$UNINSTALL_PY" '$(DESTDIR)$(PREFIX)'
	rm -f '$(DESTDIR)$(MANDIR)/man1/ccusage.1' '$(DESTDIR)$(BASHCOMPDIR)/ccusage' \
		'$(DESTDIR)$(ZSHCOMPDIR)/_ccusage' '$(DESTDIR)$(FISHCOMPDIR)/ccusage.fish'

BENCH_VENV ?= build/bench-venv
BENCH_ARGS ?=

bench:  ## time the installed ccusage on 100 and 300 MB of logs (BENCH_ARGS=--large adds 1 GB)
	$(PYTHON) -m venv --clear $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check .
	$(BENCH_VENV)/bin/python tests/bench.py --ccusage $(BENCH_VENV)/bin/ccusage $(BENCH_ARGS)
