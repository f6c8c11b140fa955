# make setup   create .venv (Python 3.11) and install the package with its test extras
# make study   setup, then run the study (Snakemake, 2 cores, params.yaml)
# make smoke   setup, then the smoke profile in a scratch copy of the workflow (.tmp.smoke/,
#              git-ignored; never the study's data/ models/ results/), a couple of minutes
# make test    setup, then the fast tier: unit and small integration tests, two workers
#              (pytest-xdist -n 2; about 3.5 min on 2 cores)
# make test-e2e  setup, then the end-to-end smoke runs (pytest -m e2e; ~15 min each run)
#              .ci/run runs both: make test, then make test-e2e
# make pull    setup, then the study's artifacts from the DVC remote, ready for Snakemake
#              (scripts/dvc_pull.sh)
# make results-doc  setup, then docs/RESULTS.md from the built tables in results/tables/
#              (scripts/results_doc.py; the notes below its marker line are kept)
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup study smoke test test-e2e dag pull results-doc

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

study: setup
	$(BIN)/snakemake
	$(BIN)/snakemake --report results/report.html

smoke: setup
	rm -rf .tmp.smoke && mkdir .tmp.smoke
	cp -r Snakefile params.yaml profiles workflow stages .tmp.smoke/
	cd .tmp.smoke && ../$(BIN)/snakemake --configfile workflow/profiles/smoke/params.yaml

dag: setup
	$(BIN)/dvc dag

test: setup
	$(BIN)/pytest -q -n 2 -m "not slow and not e2e"

test-e2e: setup
	$(BIN)/pytest -q -m "e2e and not slow"

pull: setup
	scripts/dvc_pull.sh

results-doc: setup
	$(BIN)/python scripts/results_doc.py
