# Phase 9, tables: the study tables from the metrics (and separability) files.


rule tabulate_t1:
    """T1, the base attack: encoder x task, Attack-0 model beside the clean model."""
    input:
        metrics=t1_metrics(),
    output:
        csv=report(T1_TABLES[0], caption="../report/T1.rst", category="T1 base attack"),
        md=T1_TABLES[1],
        lineage=lineage(T1_TABLES[0]),
    params:
        attacks=js(config["attacks"]),
        encoders=js(config["encoders"]),
    log:
        "logs/tabulate_t1/T1_base_attack.log",
    benchmark:
        "benchmarks/tabulate_t1/T1_base_attack.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t1 --metrics-root results/metrics "
        "--attacks {params.attacks} --encoders {params.encoders} --out {output.csv} "
        "> {log} 2>&1"


# -- T2-T4: the rows (labels + the files each reads) are built here, the stage reads them --

def t2_spec() -> list[dict]:
    c = config["components"]
    return [{"encoder": e, "config": cfg, "task": t,
             "metrics": metrics_path(e, config_run(cfg, t), t)}
            for e in c["encoders"] for t in c["tasks"] for cfg in ["0", *c["configs"]]]


def t3_spec() -> list[dict]:
    rows = []
    d = config["defense"]
    for e in d["encoders"]:
        for t in d["tasks"]:
            for start in d["starts"]:
                for method in d["methods"]:
                    for dom in defense_domains(t):
                        rows.append(t3_row(e, t, start, method, dom))
    return rows


def t3_row(encoder: str, task: str, start: str, method: str, domain: str) -> dict:
    """One defense: the start model and the defended one, on the task's own test set and on
    the defense corpus' test set (the same files in-domain)."""
    run = defense_run(start, method, domain, task)
    before = config_run("0" if start == "attack0" else start, task)
    corpus = defense_corpus(task, domain)

    def on_domain(r):
        return (metrics_path(encoder, r, task) if domain == "in"
                else metrics_on(encoder, r, task, corpus))

    return {"encoder": encoder, "task": task, "start": start, "defense": method,
            "domain": domain, "dataset": corpus, "run": run,
            "before": metrics_path(encoder, before, task), "after": metrics_path(encoder, run, task),
            "before_domain": on_domain(before), "after_domain": on_domain(run),
            "history": f"{run_dir(encoder, run)}/history.json"}


def t4_spec() -> list[dict]:
    s = config["separability"]
    return [{"encoder": e, "task": t, "model": m,
             "separability": separability_path(e, t4_model_run(m, t), t)}
            for e in s["encoders"] for t in s["tasks"] for m in s["runs"]]


def spec_files(rows: list[dict], keys: tuple) -> list[str]:
    return sorted({r[k] for r in rows for k in keys})


def table_paths(name: str) -> list[str]:
    return [f"results/tables/{name}.csv", f"results/tables/{name}.md"]


T2_TABLES, T3_TABLES, T4_TABLES = (table_paths("T2_components"), table_paths("T3_defense"),
                                   table_paths("T4_separability"))
T3_FIGURE = "results/figures/T3_defense_curve.png"


rule tabulate_t2:
    """T2, the component-wise analysis: configurations 0, 1.X, 2.X, 3.X per task."""
    input:
        metrics=spec_files(t2_spec(), ("metrics",)),
    output:
        csv=report(T2_TABLES[0], caption="../report/T2.rst", category="T2 components"),
        md=T2_TABLES[1],
        lineage=lineage(T2_TABLES[0]),
    params:
        rows=js(t2_spec()),
    log:
        "logs/tabulate_t2/T2_components.log",
    benchmark:
        "benchmarks/tabulate_t2/T2_components.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t2 --rows {params.rows} --out {output.csv} > {log} 2>&1"


rule tabulate_t3:
    """T3, the fine-tuning defense, and its curve (AER and benign metric vs defense steps)."""
    input:
        metrics=spec_files(t3_spec(), ("before", "after", "before_domain", "after_domain")),
        runs=sorted({os.path.dirname(r["history"]) for r in t3_spec()}),
    output:
        csv=report(T3_TABLES[0], caption="../report/T3.rst", category="T3 defense"),
        md=T3_TABLES[1],
        lineage=lineage(T3_TABLES[0]),
        figure=report(T3_FIGURE, caption="../report/T3_curve.rst", category="T3 defense"),
        figure_lineage=lineage(T3_FIGURE),
    params:
        rows=js(t3_spec()),
    log:
        "logs/tabulate_t3/T3_defense.log",
    benchmark:
        "benchmarks/tabulate_t3/T3_defense.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t3 --rows {params.rows} --out {output.csv} "
        "--figure {output.figure} > {log} 2>&1"


rule tabulate_t4:
    """T4, separability of clean and triggered clips (cosine, activation clustering)."""
    input:
        results=spec_files(t4_spec(), ("separability",)),
    output:
        csv=report(T4_TABLES[0], caption="../report/T4.rst", category="T4 separability"),
        md=T4_TABLES[1],
        lineage=lineage(T4_TABLES[0]),
    params:
        rows=js(t4_spec()),
        k=js(config["separability"]["k"]),
    log:
        "logs/tabulate_t4/T4_separability.log",
    benchmark:
        "benchmarks/tabulate_t4/T4_separability.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t4 --rows {params.rows} --k {params.k} "
        "--out {output.csv} > {log} 2>&1"
