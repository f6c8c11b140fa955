# Phase 5, component-wise training: SpeechLLMs trained from the aligned starting point.
# T1: the clean multitask model of each corpus and the Attack-0 model of each task (every
# component trains); T2: the component configurations 1.X / 2.X / 3.X (docs/DESIGN.md s4).
# A run is described by a spec (slm_backdoor.study.run_spec): where each component comes
# from, which components train, on which data, with which training parameters.


rule train:
    """One T1 run: models/runs/ENCODER/RUN/{encoder,connector,lora}/ + audit + history."""
    wildcard_constraints:
        run=alt(study.phase_runs(config, "runs")),
    input:
        unpack(lambda w: study.spec_inputs(config, run_spec(w))),
    output:
        run=directory("models/runs/{encoder}/{run}"),
        lineage=lineage("models/runs/{encoder}/{run}"),
    params:
        args=lambda w: study.spec_args(config, run_spec(w)),
        cfg=lambda w: js(run_spec(w)["cfg"]),
        seed=config["seed"],
    log:
        "logs/train/{encoder}/{run}.log",
    benchmark:
        "benchmarks/train/{encoder}/{run}.tsv"
    threads: 1
    shell:
        TRAIN


use rule train as train_components with:
    wildcard_constraints:
        run=alt(study.phase_runs(config, "components")),
    output:
        run=directory("models/components/{encoder}/{run}"),
        lineage=lineage("models/components/{encoder}/{run}"),
    log:
        "logs/train_components/{encoder}/{run}.log",
    benchmark:
        "benchmarks/train_components/{encoder}/{run}.tsv"
