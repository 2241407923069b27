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

.PHONY: chat test lint check bench clean

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
	$(BIN)/python -m pytest

bench: $(STAMP)  ## Engine benchmark on SQLite and on PostgreSQL (prints figures)
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
