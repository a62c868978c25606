# Every target sets up what it needs: a virtual environment in .venv with the package installed.
# Only Python 3.11 has to be on the machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: demo test bench ui sandbox lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## run the pipeline on the sample catalogs and print the outcome
	$(BIN)/course-pipeline demo --sources data/sources.yaml

test: $(STAMP)  ## the test suite
	$(BIN)/python -m pytest

bench: $(STAMP)  ## benchmarks on a synthetic catalog; prints figures
	$(BIN)/python -m benchmarks.run

ui: $(STAMP)  ## the Dagster UI on http://127.0.0.1:3000, with the vendor sandbox beside it
	$(BIN)/course-pipeline ui --port 3000

sandbox: $(STAMP)  ## the local vendor sandbox on http://127.0.0.1:8787
	$(BIN)/course-pipeline sandbox

lint: $(STAMP)
	$(BIN)/ruff check course_pipeline tests benchmarks

clean:
	rm -rf $(VENV) dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
