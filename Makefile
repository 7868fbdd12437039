# Quick start: `make run` opens the explorer; `make test` runs the whole suite.
.PHONY: run test test-fast lint setup bench clean
PY := .venv/bin/python

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(PY) main.py

test: setup lint
	@bash scripts/xdisplay.sh $(PY) -m pytest -q

# the fast tier: every test not marked slow (pytest.ini), without lint
test-fast: setup
	@bash scripts/xdisplay.sh $(PY) -m pytest -q -m "not slow"

# ruff: pyflakes and pycodestyle rules; lint-imports: the layer contracts; mypy: each module's error
# count held to mypy-baseline.json (all configured in pyproject.toml)
lint: setup
	.venv/bin/ruff check --quiet .
	@out=$$(.venv/bin/lint-imports --no-cache 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | grep -E 'KEPT|BROKEN'
	$(PY) scripts/mypy_ratchet.py

bench: setup
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf .venv .pytest_cache
