# Phase 8, analysis (T4): clean vs triggered test clips in the encoder and connector outputs
# of the Attack-0 model (and of the clean model, for reference): cosine, activation
# clustering, t-SNE.


rule separability:
    """results/separability/ENCODER/RUN/TASK.json and its t-SNE figure."""
    input:
        model=lambda w: study.run_dir(w.encoder, w.run),
        llm=study.llm_source(config),
        triggered=poisoned("{task}", "test"),
        trigger=TRIGGER,
    output:
        result=study.separability_path("{encoder}", "{run}", "{task}"),
        lineage=lineage(study.separability_path("{encoder}", "{run}", "{task}")),
        figure=report(study.tsne_path("{encoder}", "{run}", "{task}"), caption="../report/T4_tsne.rst",
                      category="T4 separability", subcategory="t-SNE",
                      labels={"encoder": "{encoder}", "model": "{run}", "task": "{task}"}),
        figure_lineage=lineage(study.tsne_path("{encoder}", "{run}", "{task}")),
    params:
        cfg=js(study.separability_params(config)),
        seed=config["seed"],
    log:
        "logs/separability/{encoder}/{run}/{task}.log",
    benchmark:
        "benchmarks/separability/{encoder}/{run}/{task}.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/separability.py --model {input.model} --llm {input.llm} "
        "--triggered {input.triggered} --trigger {input.trigger} --params {params.cfg} "
        "--seed {params.seed} --out {output.result} --figure {output.figure} > {log} 2>&1"
