# The two commands users run (see README): `make demo` and `make test`. Both create .venv and install
# everything first. torch is pinned and installed before the rest: `torch==2.13.0` finds the local CPU wheel,
# while an unpinned torch pulled in by another package would download gigabytes of CUDA builds.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0

.PHONY: install demo test bench conformance clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith('2.13.0') else 'pip replaced torch with ' + v)"
	touch $@

demo: install
	$(PY) -m torch_ttnn.demo

test: install
	$(PY) -m pytest -q

# The benchmark suite over the zoo's full configs (~25 min on 2 cores); writes benchmarks/results/latest.{json,md}.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--size tiny" or BENCH_ARGS="--models bert,llama".
BENCH_ARGS ?=
bench: install
	$(VENV)/bin/torch-ttnn bench $(BENCH_ARGS)
	$(PY) -m torch_ttnn.bench.compare --write
	$(PY) -m torch_ttnn.bench.readme

# The emulator checked against the real ttnn (host side only, no card): formats, host typecasts, API surface,
# host-side errors; writes conformance/COVERAGE.md. The real library needs CPython 3.12/3.10 and lives in its own
# venv (.venv-ttnn, numpy only, never torch); its version is pinned in conformance/requirements-ttnn.txt.
TTNN_VENV := .venv-ttnn
TTNN_PYS := python3.12 $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) python3.10 $(wildcard /root/.pyenv/versions/3.10*/bin/python3.10)
conformance: install
	@set -e; real=""; \
	if [ -x $(TTNN_VENV)/bin/python ]; then real=$(TTNN_VENV)/bin/python; else \
	  for c in $(TTNN_PYS); do \
	    if $$c -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 12), (3, 10)))' 2>/dev/null; then \
	      echo "conformance: creating $(TTNN_VENV) with $$c"; $$c -m venv $(TTNN_VENV); real=$(TTNN_VENV)/bin/python; break; fi; \
	  done; fi; \
	if [ -z "$$real" ]; then \
	  echo "###############################################################"; \
	  echo "## conformance skipped: no Python 3.12/3.10 for the real ttnn"; \
	  echo "###############################################################"; exit 0; fi; \
	cmp -s conformance/requirements-ttnn.txt $(TTNN_VENV)/.installed || { \
	  $$real -m pip install -q -r conformance/requirements-ttnn.txt && \
	  cp conformance/requirements-ttnn.txt $(TTNN_VENV)/.installed; }; \
	TTNN_REAL_PYTHON=$$real CONFORMANCE_STRICT=1 $(PY) -m conformance

clean:
	rm -rf $(VENV) build *.egg-info
