# ccusage: developer tasks.  `make help` lists them.
PYTHON ?= python3
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: help test lint bench install uninstall

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

test:  ## install ccusage and the test tools, then run the tests
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore '.[test]'
	$(PYTHON) -m pytest -q

lint:  ## check the code runs on Python 3.9 and compiles
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore vermin
	$(PYTHON) -c "import sys, vermin; sys.exit(vermin.main())" --target=3.9- --violations --no-tips --eval-annotations ccusage.py tests
	$(PYTHON) -m py_compile ccusage.py
