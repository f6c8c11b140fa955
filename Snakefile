# The study workflow: synthetic data -> trigger injection -> poisoning -> pretraining of the
# tiny components -> alignment -> component-wise training (full, single-frozen,
# single-training, propagation) -> evaluation -> defense -> separability -> tables, report.
#
#     snakemake --cores 2                                              # the study (tiny profile)
#     snakemake --cores 2 --configfile workflow/profiles/smoke/params.yaml  # smoke overlay
#     snakemake -n results/tables/T1_base_attack.csv                   # what one table needs
#
# Every rule calls one thin CLI in stages/ with its params.yaml section as JSON, logs the
# stage's stdout+stderr to logs/<rule>/<wildcards>.log and times it in benchmarks/.
# The rules are included in study order (workflow/rules/*.smk), so the chain reads off
# this file: synthesize, synthesize_pretrain, trigger, poison, pretrain_llm,
# pretrain_encoder, align, train (T1 clean / Attack-0 models), train_components (T2:
# encoder-only, connector-only, adapter-only...), evaluate, evaluate_on, defend (T3),
# separability (T4), tabulate_t1..t4 (and figure_t3, the T3 curve), the S1 sweep
# (poison_sweep, train_sweep, evaluate_sweep, tabulate_s1), all. The study plan behind the
# rules (run names, paths, run specs, config checks) is slm_backdoor/study.py (S1's:
# slm_backdoor/sweep.py). Params: params.yaml, checked
# against workflow/schemas/params.schema.yaml; DVC's view of the same chain: dvc.yaml.
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from slm_backdoor.configfiles import problem as config_problem

min_version("9.0")

# A params file Snakemake cannot read (binary, malformed, not a mapping) is one line naming
# it, not a traceback. The --configfile files were read before this file runs: the workflow
# profile (profiles/default) checks those (slm_backdoor/configfiles.py).
if config_problem("params.yaml"):
    raise WorkflowError(f"invalid config: {config_problem('params.yaml')}")


configfile: "params.yaml"


include: "workflow/rules/common.smk"


study.check_config(config, SCHEMA)  # the schema (with its defaults), then cross-references
study.write_corpus_listings(config)  # local corpus trees as inputs (data/listings/)


wildcard_constraints:
    corpus=alt(study.eval_corpora(config)),
    family=alt(FAMILIES),
    encoder=alt(FAMILIES),
    task=alt(TASKS),
    run=alt(study.study_runs(config)),
    cell=r"rate[0-9.]+_snr-?[0-9.]+",


report: "workflow/report/workflow.rst"


include: "workflow/rules/data.smk"
include: "workflow/rules/trigger.smk"
include: "workflow/rules/poison.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/defense.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/sweep.smk"


rule all:
    """The whole study: T1-T4, the T3 defense curve and the T4 t-SNE figures. The HTML
    report: snakemake --report results/report.html (make study does both)."""
    input:
        T1_TABLES,
        T2_TABLES,
        T3_TABLES,
        T3_FIGURE,
        T4_TABLES,
        sweep.S1_TABLES,
        sweep.S1_FIGURE,
    default_target: True
