# Quick start: `make run` opens the explorer; `make test` runs the whole suite.
.PHONY: run test setup bench clean
PY := .venv/bin/python

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(PY) main.py

test: setup
	@bash scripts/xdisplay.sh $(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf .venv .pytest_cache
