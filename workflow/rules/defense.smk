# Phase 7, defense (T3): fine-tune a backdoored model (Attack 0, or the 3.E model with its
# encoder unfrozen) on clean data, in-domain and cross-dataset; full (E+P+L), partial (P+L)
# or LoRA only. Each run also measures AER and the benign metric on a fixed sample of the
# original test clips every defense.curve.every steps (the defense curve of T3).


def defense_task(run: str) -> str:
    return run.rsplit("_", 1)[1]


def probe_inputs(task: str) -> dict:
    """The original test clips a defense run is probed on (clean and triggered)."""
    return {"probe_clean": manifest(corpus_of(task), "test"),
            "probe_triggered": poisoned(task, "test"), "trigger": TRIGGER}


def probe_arg(task: str) -> str:
    curve = config["defense"]["curve"]
    return js({"task": task, "target": target_of(task), "every": curve["every"],
               "clips": curve["clips"], "batch_size": config["evaluate"]["batch_size"],
               "max_new_tokens": config["evaluate"].get("max_new_tokens", {}).get(task, 24),
               **probe_inputs(task)})


rule defend:
    """One defense run: models/defense/ENCODER/def_START_METHOD_DOMAIN_TASK/ (+ its curve in
    history.json)."""
    wildcard_constraints:
        run=alt(r for r in study_runs() if run_phase(r) == "defense"),
    input:
        unpack(lambda w: {**spec_inputs(run_spec(w.encoder, w.run)),
                          **probe_inputs(defense_task(w.run))}),
    output:
        run=directory("models/defense/{encoder}/{run}"),
        lineage=lineage("models/defense/{encoder}/{run}"),
    params:
        args=lambda w: spec_args(run_spec(w.encoder, w.run)),
        cfg=lambda w: js(run_spec(w.encoder, w.run)["cfg"]),
        probe=lambda w: probe_arg(defense_task(w.run)),
        seed=config["seed"],
    log:
        "logs/defend/{encoder}/{run}.log",
    benchmark:
        "benchmarks/defend/{encoder}/{run}.tsv"
    threads: 1
    shell:
        TRAIN.replace("{params.args}", "{params.args} --probe {params.probe}")
