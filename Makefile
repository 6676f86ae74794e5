# The README's commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# ansible-lint and ansible-playbook find their siblings (ansible-galaxy, ...) on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv test lint unit bench bench-loopback check-instrument report lab-up lab-down lock clean

venv: $(STAMP)

# Everything pinned: direct dependencies in pyproject.toml, the whole tree in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[controller,server,dev]'
	touch $@

# Rewrite constraints.txt from what is installed (after changing a pin in pyproject.toml).
lock:
	$(BIN)/pip freeze --exclude-editable | sort > constraints.txt

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --offline

test: lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m 'not lab'

# Every implementation and a redis-server on loopback, interleaved; prints the table.
bench-loopback: venv
	$(BIN)/python -m tools.loopback_bench $(ARGS)

# The benchmark on the built-in lab: bench.yml with presets/default.yml (the lab brought up
# when it is down, preflight, provision, run, collect). Another preset:
# make bench PRESET=seed
PRESET ?= default
bench: venv
	$(BIN)/ansible-playbook bench.yml -i inventory/lab -e @presets/$(PRESET).yml $(ARGS)

# The instrument checked against the bare client on the built-in lab: native redis measured by
# wirebench, each cell followed by bare redis-benchmark from the same load host (same flags),
# 10 interleaved pairs without and with -P 16; prints the paired ratios and a verdict.
check-instrument: venv
	$(BIN)/ansible-playbook bench.yml -i inventory/lab -e @presets/instrument.yml -e wirebench_label=instrument $(ARGS)
	$(BIN)/python -m collect instrument results/latest

# Re-collect a run's raw results: run.json, summary.csv, report.md, plots.
RUN ?= results/latest
report: venv
	$(BIN)/python -m collect report $(RUN) $(ARGS)

# The built-in lab: two systemd-nspawn hosts on this machine (inventory/lab; bench.yml with
# that inventory runs lab-up itself).
lab-up: venv
	$(BIN)/ansible-playbook playbooks/lab-up.yml $(ARGS)

lab-down: venv
	$(BIN)/ansible-playbook playbooks/lab-down.yml $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
