# Two entry points do all the set-up: `make chat` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
STAMP  := $(VENV)/.installed
# What is installed: the locks, compiled from pyproject.toml by `make lock` and committed, every
# package pinned with the hashes of its files (pip refuses anything else). Only the
# dependencies are installed: the bot runs from this folder (`python -m bot`), and pytest finds
# it there too (pythonpath), so no editable install of the project is made.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK     := requirements/dev.txt
PIP := $(BIN)/pip install --quiet --disable-pip-version-check --require-hashes
# pip-compile (pip-tools, from PyPI) runs in a virtual environment of its own, so the bot's
# holds what the locks list and nothing else. The locks are compiled on the oldest Python the
# bot supports (3.11, as the container image): a package only older Pythons need is then pinned.
LOCK_PYTHON ?= python3.11
LOCK_TOOLS  ?= $(VENV)-lock-tools
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_TOOLS)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-trusted-host --no-emit-find-links $(if $(UPGRADE),--upgrade)

# The suite's workers: the tests mostly wait on sockets, servers and processes, so twice the
# 2 cores of the machine it is tuned on; `make test WORKERS=1` runs it in one process.
# --dist loadgroup hands out tests one by one, except those of a browser module (one Chromium
# and one bot server per module, tests/harness/browsers.py), which stay on one worker.
WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup
# What `make test-fast` leaves out (pytest markers, see pyproject.toml).
SLOW := browser or process or postgres

.PHONY: chat test test-fast screenshots lint check bench clean lock

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)

# `make chat`: what the bot needs to run, nothing more; again whenever the lock changes.
$(RUNTIME_STAMP): $(RUNTIME_LOCK) | $(BIN)/python
	@echo "Installing what the bot needs into $(VENV) ($(RUNTIME_LOCK))..."
	@$(PIP) -r $(RUNTIME_LOCK)
	@touch $@

# `make test`: everything, with the test and lint tools (the dev lock holds the runtime's too).
$(STAMP): $(DEV_LOCK) $(RUNTIME_LOCK) | $(BIN)/python
	@echo "Installing the bot's and the test tools' needs into $(VENV) ($(DEV_LOCK))..."
	@$(PIP) -r $(DEV_LOCK)
	@touch $(RUNTIME_STAMP) $@

$(LOCK_TOOLS)/bin/pip-compile:
	@$(LOCK_PYTHON) -m venv $(LOCK_TOOLS)
	@$(LOCK_TOOLS)/bin/pip install --quiet --disable-pip-version-check "pip-tools>=7.4,<8"

# After a change to the dependencies in pyproject.toml. The pins that still fit are kept;
# `make lock UPGRADE=1` takes the newest releases the ranges allow. The dev lock is compiled
# within the runtime's pins, so both install the same versions of what they share.
lock: | $(LOCK_TOOLS)/bin/pip-compile  ## Compile the locks (requirements/*.txt) from pyproject.toml
	@mkdir -p $(dir $(RUNTIME_LOCK))
	$(PIP_COMPILE) -o $(RUNTIME_LOCK) pyproject.toml
	$(PIP_COMPILE) --extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK) pyproject.toml

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
	rm -rf $(VENV) $(LOCK_TOOLS) data .pytest_cache .ruff_cache
