# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.assay-installed

.PHONY: demo test bench system clean

$(STAMP): pyproject.toml scripts/install-llama.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,trl,ray,report]'
	@bash scripts/install-llama.sh $(BIN)/python
	@touch $(STAMP)

system:
	@bash scripts/setup-system.sh

demo: system $(STAMP)
	$(BIN)/assay eval --benchmark humaneval --samples canonical
	$(BIN)/assay models install qwen2.5-coder-0.5b
	$(BIN)/python scripts/demo_search.py --limit 5

test: system $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/python -m pytest -q

bench: system $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build src/*.egg-info
