# Phase 2, trigger: the click WAV (synthesized, or a named audio file resampled).


def trigger_file() -> list[str]:
    """The audio file the trigger is made from, if one is named (else the synthetic click)."""
    t = config["trigger"]
    src = t.get("path") or (t["source"] if t["source"] != "synthetic" else None)
    return [src] if src else []


rule trigger:
    """The trigger WAV at the corpus sample rate, with its hash and stats (click.wav.json)."""
    input:
        trigger_file(),
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
