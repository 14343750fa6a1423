# The two commands of the README. Each does all set-up first (system libLLVM, .venv, deps).
.PHONY: setup demo test bench clean

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m scratchlight.cli demo --out out/demo

# Both cores: one pytest-xdist worker per core; tests that share a per-module or per-session
# fixture stay on one worker (tests/conftest.py). Quick subset: $(PY) -m pytest -m "not slow"
test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=15

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf out .pytest_cache
