# Phase 7, tables: the study tables from the metrics files.


rule tabulate_t1:
    """T1, the base attack: encoder x task, Attack-0 model beside the clean model."""
    input:
        metrics=t1_metrics(),
    output:
        csv=T1_TABLES[0],
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
