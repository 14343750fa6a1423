# The two commands of the README. Each does all set-up first (system libLLVM, .venv, deps).
.PHONY: setup demo test bench clean

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m scratchlight.cli demo --out out/demo

# Every core: one pytest-xdist worker per core and one more, which runs while the others
# wait on their subprocesses, servers and browsers (2 cores: 3 workers, 315 s against 333 s
# with 2); tests that share a per-module or per-session fixture stay on one worker
# (tests/conftest.py). Quick subset: $(PY) -m pytest -m "not slow"
WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: setup
	$(PY) -m pytest -q -n $(WORKERS) --dist loadgroup --durations=15

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf out .pytest_cache
