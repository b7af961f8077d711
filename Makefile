# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-workspace
PORT ?= 8765

.PHONY: demo test lint venv clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: lint
	RETENTIONEERING_NO_TRACK=1 $(VENV)/bin/pytest -q

demo: $(STAMP)
	$(VENV)/bin/journeymap demo --out $(DEMO_DIR) --customers 5000 --seed 7 --force
	$(VENV)/bin/journeymap analyze metrics --workspace $(DEMO_DIR)
	$(VENV)/bin/journeymap report --workspace $(DEMO_DIR) --format html --out $(DEMO_DIR)/journey-map.html
	@echo "The demo journey map is also at $(DEMO_DIR)/journey-map.html (one offline HTML file)."
	$(VENV)/bin/journeymap serve $(DEMO_DIR) --host 127.0.0.1 --port $(PORT)

bench: $(STAMP)
	$(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
