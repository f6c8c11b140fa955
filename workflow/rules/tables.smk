# Phase 9, tables: the study tables from the metrics (and separability) files. T2-T4: the
# rows (labels + the files each reads) come from slm_backdoor.study, the stage reads them.


rule tabulate_t1:
    """T1, the base attack: encoder x task, Attack-0 model beside the clean model."""
    input:
        metrics=study.t1_metrics(config),
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


rule tabulate_t2:
    """T2, the component-wise analysis: configurations 0, 1.X, 2.X, 3.X per task."""
    input:
        metrics=study.row_files(study.t2_rows(config), ("metrics",)),
    output:
        csv=report(T2_TABLES[0], caption="../report/T2.rst", category="T2 components"),
        md=T2_TABLES[1],
        lineage=lineage(T2_TABLES[0]),
    params:
        rows=js(study.t2_rows(config)),
    log:
        "logs/tabulate_t2/T2_components.log",
    benchmark:
        "benchmarks/tabulate_t2/T2_components.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t2 --rows {params.rows} --out {output.csv} > {log} 2>&1"


rule tabulate_t3:
    """T3, the fine-tuning defense: AER and benign metric before and after each defense."""
    input:
        metrics=study.row_files(study.t3_rows(config),
                                ("before", "after", "before_domain", "after_domain")),
    output:
        csv=report(T3_TABLES[0], caption="../report/T3.rst", category="T3 defense"),
        md=T3_TABLES[1],
        lineage=lineage(T3_TABLES[0]),
    params:
        rows=js(study.t3_rows(config)),
    log:
        "logs/tabulate_t3/T3_defense.log",
    benchmark:
        "benchmarks/tabulate_t3/T3_defense.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t3 --rows {params.rows} --out {output.csv} > {log} 2>&1"


rule figure_t3:
    """The T3 defense curve: AER and benign metric against defense steps (run histories)."""
    input:
        runs=sorted({os.path.dirname(r["history"]) for r in study.t3_rows(config)}),
    output:
        figure=report(T3_FIGURE, caption="../report/T3_curve.rst", category="T3 defense"),
        lineage=lineage(T3_FIGURE),
    params:
        rows=js(study.t3_rows(config)),
    log:
        "logs/figure_t3/T3_defense_curve.log",
    benchmark:
        "benchmarks/figure_t3/T3_defense_curve.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/figure_t3.py --rows {params.rows} --out {output.figure} > {log} 2>&1"


rule tabulate_t4:
    """T4, separability of clean and triggered clips (cosine, activation clustering)."""
    input:
        results=study.row_files(study.t4_rows(config), ("separability",)),
    output:
        csv=report(T4_TABLES[0], caption="../report/T4.rst", category="T4 separability"),
        md=T4_TABLES[1],
        lineage=lineage(T4_TABLES[0]),
    params:
        rows=js(study.t4_rows(config)),
        k=js(config["separability"]["k"]),
    log:
        "logs/tabulate_t4/T4_separability.log",
    benchmark:
        "benchmarks/tabulate_t4/T4_separability.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/tabulate.py t4 --rows {params.rows} --k {params.k} "
        "--out {output.csv} > {log} 2>&1"
