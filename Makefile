# enet_ros developer commands. Both quick-start commands create/use .venv/ at the repo root.
#   make test   - set up .venv/ if needed, then run the whole test suite (what CI runs: .ci/run)
#   make demo   - set up .venv/ if needed, then run the main job (shipped box model over a sample bag)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.enet_ros-installed
PYTEST_ARGS ?=

.PHONY: venv test demo lint bench clean

$(STAMP): requirements-dev.txt requirements.txt setup.py package.xml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q -e .
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest test $(PYTEST_ARGS)

demo: $(STAMP)
	scripts/demo.sh

lint: $(STAMP)
	$(PY) -m pytest test -m linter

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
