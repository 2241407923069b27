# Two entry points do all the set-up: `make chat` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
STAMP  := $(VENV)/.installed
# What pyproject.toml needs, one requirement a line: the runtime's, and the extras named.
# Only the dependencies are installed: the bot runs from this folder (`python -m bot`), and
# pytest finds it there too (pythonpath), so no editable install of the project is made.
REQUIREMENTS = $(BIN)/python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(*p["dependencies"], *(r for e in sys.argv[1:] for r in p["optional-dependencies"][e]), sep="\n")'
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

# The suite's workers: the tests mostly wait on sockets, servers and processes, so twice the
# 2 cores of the machine it is tuned on; `make test WORKERS=1` runs it in one process.
# --dist loadgroup hands out tests one by one, except those of a browser module (one Chromium
# and one bot server per module, tests/harness/browsers.py), which stay on one worker.
WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup
# What `make test-fast` leaves out (pytest markers, see pyproject.toml).
SLOW := browser or process or postgres

.PHONY: chat test test-fast screenshots lint check bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)

# `make chat`: what the bot needs to run, nothing more.
$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing what the bot needs into $(VENV)..."
	@$(REQUIREMENTS) > $(VENV)/requirements.txt
	@$(PIP) -r $(VENV)/requirements.txt
	@touch $@

# `make test`: everything, with the test and lint tools.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the bot's and the test tools' needs into $(VENV)..."
	@$(REQUIREMENTS) dev > $(VENV)/requirements-dev.txt
	@$(PIP) -r $(VENV)/requirements-dev.txt
	@touch $(RUNTIME_STAMP) $@

chat: $(RUNTIME_STAMP)  ## Talk to the bot in this terminal (embedded defaults, SQLite, no tokens)
	@$(BIN)/python -m bot chat

test: $(STAMP)  ## Lint, check the layers, validate flows, run transcripts and the whole pytest suite
	$(BIN)/ruff check bot tests scripts
	$(BIN)/lint-imports
	$(BIN)/python -m bot check
	BOT_DATA_DIR=$$(mktemp -d) $(BIN)/python -m bot test-dialogs tests/transcripts
	$(PYTEST)

test-fast: $(STAMP)  ## The suite without browsers, real processes and PostgreSQL (under 2 minutes)
	$(PYTEST) -m "not ($(SLOW))"

screenshots: $(STAMP)  ## Refresh the README's screenshots in docs/screenshots/ (browser tests)
	SCREENSHOTS_PUBLISH_DIR=docs/screenshots $(BIN)/python -m pytest -m browser \
		tests/test_web_browser.py tests/test_admin_browser.py

bench: $(STAMP)  ## Engine benchmark on SQLite and on PostgreSQL (prints figures)
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
