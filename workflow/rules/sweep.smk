# S1, the poison-rate x trigger-SNR sweep (its plan: slm_backdoor.sweep): per encoder, task,
# rate and SNR, the task's attack poisoned at that rate with the trigger at that SNR, an
# Attack-0 model trained on it from the usual initialisation, evaluated on test clips
# triggered at that SNR. The study's own cell reuses the T1 Attack-0 model. The rules are the
# poison, train and evaluate rules with a cell's inputs and outputs.
from slm_backdoor import sweep


use rule poison as poison_sweep with:
    output:
        train=sweep.poisoned_path("{task}", "{cell}", "train"),
        test=sweep.poisoned_path("{task}", "{cell}", "test"),
        train_lineage=lineage(sweep.poisoned_path("{task}", "{cell}", "train")),
        test_lineage=lineage(sweep.poisoned_path("{task}", "{cell}", "test")),
    params:
        attack=lambda w: js(sweep.attack_of(config, w.task, w.cell)),
        trigger=lambda w: js(sweep.trigger_of(config, w.cell)),
        seed=config["seed"],
        sr=config["sample_rate"],
    log:
        "logs/poison_sweep/{task}/{cell}.log",
    benchmark:
        "benchmarks/poison_sweep/{task}/{cell}.tsv"


use rule train as train_sweep with:
    input:
        unpack(lambda w: study.spec_inputs(config, sweep.run_spec(config, w.encoder, w.task, w.cell))),
    output:
        run=directory(sweep.run_path("{encoder}", "{task}", "{cell}")),
        lineage=lineage(sweep.run_path("{encoder}", "{task}", "{cell}")),
    params:
        args=lambda w: study.spec_args(config, sweep.run_spec(config, w.encoder, w.task, w.cell)),
        cfg=lambda w: js(sweep.run_spec(config, w.encoder, w.task, w.cell)["cfg"]),
        seed=config["seed"],
    log:
        "logs/train_sweep/{encoder}/{task}/{cell}.log",
    benchmark:
        "benchmarks/train_sweep/{encoder}/{task}/{cell}.tsv"


use rule evaluate as evaluate_sweep with:
    input:
        model=sweep.run_path("{encoder}", "{task}", "{cell}"),
        llm=study.llm_source(config),
        clean=lambda w: manifest(study.corpus_of(config, w.task), "test"),
        triggered=sweep.poisoned_path("{task}", "{cell}", "test"),
        trigger=TRIGGER,
    output:
        metrics="results/sweep/{encoder}/{task}/{cell}.json",
        predictions="results/sweep/{encoder}/{task}/{cell}.csv",
        lineage=lineage("results/sweep/{encoder}/{task}/{cell}.json"),
    log:
        "logs/evaluate_sweep/{encoder}/{task}/{cell}.log",
    benchmark:
        "benchmarks/evaluate_sweep/{encoder}/{task}/{cell}.tsv"


rule tabulate_s1:
    """S1: AER and false activation against poisoning rate and trigger SNR."""
    input:
        metrics=sorted({r["metrics"] for r in sweep.rows(config)}),
    output:
        csv=report(sweep.S1_TABLES[0], caption="../report/S1.rst", category="S1 poison sweep"),
        md=sweep.S1_TABLES[1],
        lineage=lineage(sweep.S1_TABLES[0]),
        figure=report(sweep.S1_FIGURE, caption="../report/S1_figure.rst", category="S1 poison sweep"),
        figure_lineage=lineage(sweep.S1_FIGURE),
    params:
        rows=lambda w: js(sweep.rows(config)),
    log:
        "logs/tabulate_s1/S1_poison_sweep.log",
    benchmark:
        "benchmarks/tabulate_s1/S1_poison_sweep.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate_s1.py --rows {params.rows} --out {output.csv} "
        "--figure {output.figure} > {log} 2>&1"
