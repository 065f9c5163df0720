# Two commands do all the set-up: `make run` (the server) and `make test` (the suite).
# Both create or reuse the virtual environment in .venv and install what they need.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
DB ?= fieldsync.db
BIN = $(VENV)/bin

.PHONY: run test bench clean browser

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fieldsync needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/fieldsync serve --db $(DB) --host $(HOST) --port $(PORT)

test: $(BIN)/.installed browser
	$(BIN)/python -m pytest -q

# The console's browser tests drive Debian's Chromium through Playwright
# (tests/helpers/browser.py). As root, install it when missing; otherwise say what
# to install (and, in CI, stop: a missing browser is a failure there, not a skip).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the console's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "The console's browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium'" >&2; \
	    if [ "$$CI" = true ]; then exit 1; fi; \
	  fi; \
	fi

bench: $(BIN)/.installed
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
