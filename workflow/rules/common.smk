# Shared by every rule file: the study plan (slm_backdoor.study: run names, paths, run
# specs, the config checks; functions of the config), the stage command lines, JSON params.
from slm_backdoor import study
from slm_backdoor.study import (COMPONENTS, FAMILIES, PRETRAIN_CORPUS, SPLITS, T1_TABLES,
                                T2_TABLES, T3_FIGURE, T3_TABLES, T4_TABLES, TASKS, TRIGGER, alt,
                                lineage, manifest, metrics_on, metrics_path, poisoned, with_csv)

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "params.schema.yaml")

# The stage CLIs, run with this interpreter (the venv's when snakemake is .venv/bin/snakemake).
PY = shlex.quote(sys.executable)
_stages = os.path.join(workflow.basedir, "stages")
STAGES = shlex.quote(_stages if os.path.relpath(_stages).startswith("..") else os.path.relpath(_stages))
# Every job: its thread budget for torch/BLAS (the stages read SLM_THREADS).
ENV = ("export SLM_THREADS={threads} OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
       "TOKENIZERS_PARALLELISM=false; ")
SYNTHESIZE = (ENV + "{PY} {STAGES}/synthesize.py {params.name} --params {params.cfg} "
              "--seed {params.seed} --out data/manifests/{params.name} "
              "--audio-out {output.audio} --no-progress > {log} 2>&1")
# SpeechLLM runs (align, train, train_components, defend) share one command line.
TRAIN = (ENV + "{PY} {STAGES}/train.py {params.args} --params {params.cfg} "
         "--seed {params.seed} --out {output.run} > {log} 2>&1")


def js(obj) -> str:
    """A params value for the shell: the JSON of a config section, shell-quoted."""
    return shlex.quote(json.dumps(obj))


def run_spec(w) -> dict:
    """The spec of the run named by a job's wildcards (study.run_spec)."""
    return study.run_spec(config, w.encoder, w.run)
