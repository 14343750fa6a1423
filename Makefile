# The two commands of the README. Each does all set-up first (system libLLVM, .venv, deps).
.PHONY: setup demo test bench clean

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m scratchlight.cli demo --out out/demo

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf out .pytest_cache
