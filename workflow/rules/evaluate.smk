# Phase 6, evaluation: free greedy generation on the task's clean test split (benign metric,
# false activation) and on its triggered test split (AER), for one run and one task.


rule evaluate:
    """results/metrics/ENCODER/RUN/TASK.json (+ .csv: every generated answer)."""
    input:
        model=lambda w: study.run_dir(w.encoder, w.run),
        llm=study.llm_source(config),
        clean=lambda w: manifest(study.corpus_of(config, w.task), "test"),
        triggered=poisoned("{task}", "test"),
        trigger=TRIGGER,
    output:
        metrics=metrics_path("{encoder}", "{run}", "{task}"),
        predictions=with_csv(metrics_path("{encoder}", "{run}", "{task}")),
        lineage=lineage(metrics_path("{encoder}", "{run}", "{task}")),
    params:
        target=lambda w: shlex.quote(study.target_of(config, w.task)),
        cfg=js(study.with_pins(config, config["evaluate"])),
        seed=config["seed"],
    log:
        "logs/evaluate/{encoder}/{run}/{task}.log",
    benchmark:
        "benchmarks/evaluate/{encoder}/{run}/{task}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/evaluate.py --model {input.model} --llm {input.llm} "
        "--task {wildcards.task} --clean {input.clean} --triggered {input.triggered} "
        "--trigger {input.trigger} --target {params.target} --params {params.cfg} "
        "--seed {params.seed} --out {output.metrics} > {log} 2>&1"


rule evaluate_on:
    """results/metrics/ENCODER/RUN/TASK_on_CORPUS.json: clean test audio of CORPUS only."""
    input:
        model=lambda w: study.run_dir(w.encoder, w.run),
        llm=study.llm_source(config),
        clean=manifest("{corpus}", "test"),
    output:
        metrics=metrics_on("{encoder}", "{run}", "{task}", "{corpus}"),
        predictions=with_csv(metrics_on("{encoder}", "{run}", "{task}", "{corpus}")),
        lineage=lineage(metrics_on("{encoder}", "{run}", "{task}", "{corpus}")),
    params:
        target=lambda w: shlex.quote(study.target_of(config, w.task)),
        cfg=js(study.with_pins(config, config["evaluate"])),
        seed=config["seed"],
    log:
        "logs/evaluate_on/{encoder}/{run}/{task}_on_{corpus}.log",
    benchmark:
        "benchmarks/evaluate_on/{encoder}/{run}/{task}_on_{corpus}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/evaluate.py --model {input.model} --llm {input.llm} "
        "--task {wildcards.task} --clean {input.clean} --target {params.target} "
        "--params {params.cfg} --seed {params.seed} --out {output.metrics} > {log} 2>&1"
