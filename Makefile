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

bench: install
	$(PY) -m torch_ttnn.cli bench

clean:
	rm -rf $(VENV) build *.egg-info
