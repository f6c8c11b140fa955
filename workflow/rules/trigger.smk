# Phase 2, trigger: the click WAV (synthesized, or a named audio file resampled).


rule trigger:
    """The trigger WAV at the corpus sample rate, with its hash and stats (click.wav.json)."""
    input:
        study.trigger_file(config),
    output:
        wav=TRIGGER,
        info=f"{TRIGGER}.json",
        lineage=lineage(TRIGGER),
    params:
        cfg=js(config["trigger"]),
        seed=config["seed"],
        sr=config["sample_rate"],
    log:
        "logs/trigger/click.log",
    benchmark:
        "benchmarks/trigger/click.tsv"
    threads: 1
    shell:
        ENV + "{PY} {STAGES}/trigger.py --params {params.cfg} --seed {params.seed} "
        "--sr {params.sr} --out {output.wav} > {log} 2>&1"
