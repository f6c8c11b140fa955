# Phase 7, defense (T3): fine-tune a backdoored model (Attack 0, or the 3.E model with its
# encoder unfrozen) on clean data, in-domain and cross-dataset; full (E+P+L), partial (P+L)
# or LoRA only. Each run also measures AER and the benign metric on a fixed sample of the
# original test clips every defense.curve.every steps (the defense curve of T3).


rule defend:
    """One defense run: models/defense/ENCODER/def_START_METHOD_DOMAIN_TASK/ (+ its curve in
    history.json)."""
    wildcard_constraints:
        run=alt(study.phase_runs(config, "defense")),
    input:
        unpack(lambda w: {**study.spec_inputs(config, run_spec(w)),
                          **study.probe_inputs(config, study.defense_task(w.run))}),
    output:
        run=directory("models/defense/{encoder}/{run}"),
        lineage=lineage("models/defense/{encoder}/{run}"),
    params:
        args=lambda w: study.spec_args(config, run_spec(w)),
        cfg=lambda w: js(run_spec(w)["cfg"]),
        probe=lambda w: js(study.probe_params(config, study.defense_task(w.run))),
        seed=config["seed"],
    log:
        "logs/defend/{encoder}/{run}.log",
    benchmark:
        "benchmarks/defend/{encoder}/{run}.tsv"
    threads: 1
    shell:
        TRAIN.replace("{params.args}", "{params.args} --probe {params.probe}")
