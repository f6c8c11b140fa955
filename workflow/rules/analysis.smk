# Phase 8, analysis (T4): clean vs triggered test clips in the encoder and connector outputs
# of the Attack-0 model (and of the clean model, for reference): cosine, activation
# clustering, t-SNE.


def separability_path(encoder: str, run: str, task: str) -> str:
    return f"results/separability/{encoder}/{run}/{task}.json"


def tsne_path(encoder: str, run: str, task: str) -> str:
    return f"results/figures/T4_tsne/{encoder}/{run}/{task}.png"


def t4_model_run(model: str, task: str) -> str:
    """separability.runs names: "attack0" (the T1 Attack-0 model) or "clean"."""
    return f"attack0_{task}" if model == "attack0" else f"clean_{corpus_of(task)}"


rule separability:
    """results/separability/ENCODER/RUN/TASK.json and its t-SNE figure."""
    input:
        model=lambda w: run_dir(w.encoder, w.run),
        llm=llm_source(),
        triggered=poisoned("{task}", "test"),
        trigger=TRIGGER,
    output:
        result=separability_path("{encoder}", "{run}", "{task}"),
        lineage=lineage(separability_path("{encoder}", "{run}", "{task}")),
        figure=report(tsne_path("{encoder}", "{run}", "{task}"), caption="../report/T4_tsne.rst",
                      category="T4 separability", subcategory="t-SNE",
                      labels={"encoder": "{encoder}", "model": "{run}", "task": "{task}"}),
        figure_lineage=lineage(tsne_path("{encoder}", "{run}", "{task}")),
    params:
        cfg=js(with_pins({**{k: v for k, v in config["separability"].items()
                             if k in ("pca_components", "k", "tsne_perplexity")},
                          "batch_size": config["evaluate"]["batch_size"]})),
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
