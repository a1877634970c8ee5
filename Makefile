# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the whole suite).
# Each creates the virtualenv under .venv/ and installs the package with what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test notebooks venv clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py --out runs/demo

# Re-execute notebooks/*.ipynb from a clean kernel (full runs, ~8 min on 2 cores) and save them
# with their outputs; what they write goes to a temporary folder (scripts/run_notebooks.py).
notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py

test: $(STAMP)
	GLUON_SSD_REQUIRE_RUNTIMES=1 $(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) runs *.egg-info
