# The catalogue of headline numbers, provenance, and the rendered report.


rule summary:
    input:
        code=package_code("scripts/summary.py"),
        models=model_files(),
    output:
        summary="results/summary.json",
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/summary.py"


rule rulegraph:
    input:
        snakefile="Snakefile",
        rules=sorted(str(p) for p in Path("rules").glob("*.smk")),
    output:
        dot="results/provenance/rulegraph.dot",
    log:
        "logs/rulegraph.log",
    benchmark:
        "results/benchmarks/rulegraph.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        configfiles=" ".join(str(p) for p in workflow.configfiles),
        # a fixed hash seed: Snakemake lists the edges in set order, random otherwise
        snakemake=f"PYTHONHASHSEED=0 {sys.executable} -m snakemake",
    shell:
        "{params.snakemake} --rulegraph --nolock --quiet all --snakefile {input.snakefile} "
        "--configfile {params.configfiles} > {output.dot} 2> {log}"


rule provenance:
    input:
        code=package_code("scripts/provenance.py"),
        dot="results/provenance/rulegraph.dot",
        lock="uv.lock",
        manifests=expand("data/raw/{dataset}/manifest.tsv", dataset=DATASET_NAMES),
        accounting=expand(
            "results/clean/{dataset}/accounting.parquet", dataset=DATASET_NAMES
        ),
    output:
        assets=directory("results/provenance/report"),
        record="results/provenance/provenance.json",
        config="results/provenance/config.yaml",
    log:
        "logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        # the configuration in effect: datasets and events actually analysed
        config={**config, "datasets": DATASETS, "events": EVENTS},
        datasets=DATASET_NAMES,
    script:
        "../scripts/provenance.py"


rule report:
    input:
        code=package_code("scripts/render_report.py"),
        sources=REPORT_SOURCES,
        summary="results/summary.json",
        provenance="results/provenance/report",
        notebooks=notebook_assets(),
    output:
        html="results/report/report.html",
        pdf="results/report/report.pdf",
        # the CSVs of the figures' and tables' data links, beside the HTML
        data=directory("results/report/data"),
    log:
        "logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    params:
        datasets=DATASET_NAMES + SERIES_NAMES,
        labels={
            name: spec["label"]
            for name, spec in {**DATASETS, **SERIES_DATASETS}.items()
        },
        # every configured event: a real-evidence table may name an event that no crawl
        # dataset analyses (Bayonet seen only through series and rosters)
        event_labels={name: ev["label"] for name, ev in config["events"].items()},
        real=any(DATASETS[name]["real"] for name in DATASET_NAMES),
        real_datasets=[name for name in DATASET_NAMES if DATASETS[name]["real"]],
        report=config["report"],
        # the methods appendix states the transition buffers of the configuration
        resilience=config["analysis"]["resilience"],
    script:
        "../scripts/render_report.py"


rule manifest:
    input:
        code=package_code("scripts/results_manifest.py"),
        html="results/report/report.html",
        pdf="results/report/report.pdf",
        provenance="results/provenance/provenance.json",
        raw=raw_checksum_lists(),
    output:
        manifest="results/manifest.json",
    log:
        "logs/manifest.log",
    benchmark:
        "results/benchmarks/manifest.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        raw_dirs=raw_input_dirs(),
    script:
        "../scripts/results_manifest.py"
