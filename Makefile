# A newcomer needs two commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench mutation docs docs-figures clean

install: $(STAMP)

# Before a venv or pip: is the Python that installs (the venv's own once it exists, else $(PYTHON)) one
# that requires-python in pyproject.toml admits? tools/python_ok.py says so in one line if not, and
# make stops there (exit 2). requires-python is the one place the supported versions are stated.
INSTALL_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python --venv $(VENV),$(PYTHON) --as $(PYTHON))
python_refusal = $(shell set -- $(INSTALL_PYTHON); out=$$("$$1" tools/python_ok.py "$$2" "$$3" 2>/dev/null); status=$$?; \
	if [ $$status = 1 ] && [ -n "$$out" ]; then echo "$$out"; elif [ $$status != 0 ]; then \
	echo "$$1 did not run (exit $$status), and rnnexp needs Python $$(sed -n 's/^requires-python *= *"\(.*\)"/\1/p' pyproject.toml) \
	(requires-python in pyproject.toml): make install PYTHON=/path/to/python3"; fi)
stop_if = $(if $(1),$(error $(1)))

# Pinned by constraints.txt so every machine installs the same versions (torch: the CPU build where pip finds
# it, here Python 3.11's in /opt/wheels; else PyPI's CUDA build, its CUDA packages pinned too).
# uv installs them (pinned too): the same versions as pip, in a third of its time here (docs/development.md).
# It does not read pip's configuration, so it is handed the folders pip finds wheels in (find-links).
# Where uv itself cannot be installed, pip does the work.
INSTALL_ARGS := -c constraints.txt -e '.[datasets,postgres,tensorboard,onnx,dev,mlflow,docs]'
$(STAMP): pyproject.toml constraints.txt
	$(call stop_if,$(python_refusal))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install -q -c constraints.txt uv 2>/dev/null; then \
	  links=""; for l in $$($(BIN)/python -m pip config list 2>/dev/null | sed -n "s/^[^=]*find-links='\(.*\)'$$/\1/p" | tr ' ' '\n' | sort -u); do \
	    links="$$links --find-links $$l"; done; \
	  set -x; $(BIN)/python -m uv pip install -q --compile-bytecode --python $(BIN)/python $$links $(INSTALL_ARGS); \
	else \
	  set -x; $(BIN)/python -m pip install -q $(INSTALL_ARGS); \
	fi
	touch $(STAMP)

# Train the quickstart config on real data (amazon-food), evaluate it on the test split.
demo: install
	@out=$$($(BIN)/rnnexp train configs/quickstart.yaml --json) || exit $$?; \
	run=$$(printf '%s' "$$out" | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["run_dir"])'); \
	$(BIN)/rnnexp evaluate "$$run" || exit $$?; \
	echo "demo run folder: $$run"

# -n auto: one test process per core (pytest-xdist); most tests wait on subprocesses. worksteal:
# an idle process takes tests queued for the other, so the long sweep tests do not end the run on one.
test: install
	$(BIN)/python -m pytest -q -rs -n auto --dist worksteal

lint: install
	$(BIN)/ruff check rnnexp tests bench docs/gen tools
	$(BIN)/ruff format --check rnnexp tests bench docs/gen tools

bench: install
	$(BIN)/python bench/report.py

# Mutation testing of the modules that decide (docs/development.md, "Mutation testing"): slow, apart from make test.
mutation: install
	$(BIN)/python tools/mutation.py

# The documentation site in site/ (offline). The generated pages are refreshed first.
docs: install
	$(BIN)/python docs/gen/gen.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Rerun what the docs show from real runs (the tuning guide's figures, the demo's output): slow.
docs-figures: install
	$(BIN)/python docs/gen/figures.py
	$(BIN)/python docs/gen/gen.py

clean:
	rm -rf $(VENV) site build dist *.egg-info .pytest_cache .ruff_cache
	find bench/results -type f ! -name latest.json -delete 2>/dev/null || true
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
