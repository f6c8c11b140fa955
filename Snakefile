# The study workflow: synthetic data -> trigger -> poisoning -> pretraining of the tiny
# components -> alignment -> SpeechLLM training (clean and poisoned) -> evaluation -> tables.
#
#     snakemake --cores 2                                              # the study (tiny profile)
#     snakemake --cores 2 --configfile workflow/profiles/smoke/params.yaml  # smoke overlay
#     snakemake -n results/tables/T1_base_attack.csv                   # what one table needs
#
# Every rule calls one thin CLI in stages/ with its params.yaml section as JSON, logs the
# stage's stdout+stderr to logs/<rule>/<wildcards>.log and times it in benchmarks/.
# The rules are included in study order (workflow/rules/*.smk), so the chain reads off
# this file: all, synthesize, synthesize_pretrain, trigger, poison, pretrain_llm,
# pretrain_encoder, align, train, evaluate, tabulate_t1. Params: params.yaml, checked
# against workflow/schemas/params.schema.yaml; DVC's view of the same chain: dvc.yaml.
import json
import os
import shlex
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "params.yaml"


include: "workflow/rules/common.smk"


check_config(config)  # snakemake.utils.validate against workflow/schemas/params.schema.yaml


wildcard_constraints:
    corpus=alt(eval_corpora()),
    family=alt(FAMILIES),
    encoder=alt(FAMILIES),
    task=alt(TASKS),
    run=alt(study_runs()),


rule all:
    input:
        T1_TABLES,
    default_target: True


include: "workflow/rules/data.smk"
include: "workflow/rules/trigger.smk"
include: "workflow/rules/poison.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"
