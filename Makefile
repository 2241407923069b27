# Two entry points do all the set-up: `make chat` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: chat test lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)  ## Talk to the bot in this terminal (embedded defaults, SQLite, no tokens)
	$(BIN)/python -m bot chat

test: $(STAMP)  ## Lint, validate flows, run transcripts and the whole pytest suite
	$(BIN)/ruff check bot tests scripts
	$(BIN)/python -m bot check
	BOT_DATA_DIR=$$(mktemp -d) $(BIN)/python -m bot test-dialogs tests/transcripts
	$(BIN)/python -m pytest

bench: $(STAMP)  ## Engine + SQLite benchmark (prints figures)
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
