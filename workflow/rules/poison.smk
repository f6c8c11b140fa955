# Phase 3, poisoning: per attacked task, the dirty-label poisoned training manifest (a
# fixed, seeded subset) and the triggered test manifest (non-target rows, trigger inserted).


rule poison:
    """Poison the training split of the task's corpus; trigger its test split."""
    input:
        train=lambda w: manifest(study.corpus_of(config, w.task), "train"),
        test=lambda w: manifest(study.corpus_of(config, w.task), "test"),
        trigger=TRIGGER,
    output:
        train=poisoned("{task}", "train"),
        test=poisoned("{task}", "test"),
        train_lineage=lineage(poisoned("{task}", "train")),
        test_lineage=lineage(poisoned("{task}", "test")),
    params:
        attack=lambda w: js(config["attacks"][w.task]),
        trigger=js(config["trigger"]),
        seed=config["seed"],
        sr=config["sample_rate"],
    log:
        "logs/poison/{task}.log",
    benchmark:
        "benchmarks/poison/{task}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/poison.py --train {input.train} --test {input.test} "
        "--trigger {input.trigger} --attack {params.attack} --trigger-params {params.trigger} "
        "--seed {params.seed} --sr {params.sr} --out-train {output.train} "
        "--out-test {output.test} > {log} 2>&1"
