# make setup   create .venv (Python 3.11) and install the package with its test extras
# make study   setup, then run the study (Snakemake, 2 cores, params.yaml)
# make smoke   setup, then the smoke profile in a scratch copy of the workflow (.tmp.smoke/,
#              git-ignored; never the study's data/ models/ results/), a couple of minutes
# make test    setup, then the test suite (the command CI runs, via .ci/run)
# make pull    setup, then the study's artifacts from the DVC remote, ready for Snakemake
#              (scripts/dvc_pull.sh)
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup study smoke test dag pull

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
	$(BIN)/pytest -q

pull: setup
	scripts/dvc_pull.sh
