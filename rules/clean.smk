# Cleaning: one job per partition (a market over a block of months) (parallel locally, scattered on
# a cluster), then one merge per dataset. Every raw row ends up either in a
# clean table or in quarantine with its reason; accounting proves it.


rule clean_partition:
    input:
        code=package_code("scripts/clean_partition.py"),
        manifest="data/raw/{dataset}/manifest.tsv",
        rates=lambda wc: rates_for(wc.dataset),
    output:
        listings="results/clean/{dataset}/parts/{partition}/listings.parquet",
        vendors="results/clean/{dataset}/parts/{partition}/vendors.parquet",
        quarantine="results/clean/{dataset}/parts/{partition}/quarantine.parquet",
        accounting="results/clean/{dataset}/parts/{partition}/accounting.parquet",
    log:
        "logs/clean/{dataset}/{partition}.log",
    benchmark:
        "results/benchmarks/clean/{dataset}/{partition}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        cleaning=config["cleaning"],
        block_months=lambda wc: DATASETS[wc.dataset]["partition_months"],
    script:
        "../scripts/clean_partition.py"


rule merge_clean:
    input:
        code=package_code("scripts/merge_clean.py"),
        manifest="data/raw/{dataset}/manifest.tsv",
        listings=lambda wc: clean_parts(wc.dataset, "listings"),
        vendors=lambda wc: clean_parts(wc.dataset, "vendors"),
        quarantine=lambda wc: clean_parts(wc.dataset, "quarantine"),
        accounting=lambda wc: clean_parts(wc.dataset, "accounting"),
    output:
        listings="results/clean/{dataset}/listings.parquet",
        vendors="results/clean/{dataset}/vendors.parquet",
        quarantine="results/clean/{dataset}/quarantine.parquet",
        accounting="results/clean/{dataset}/accounting.parquet",
    log:
        "logs/merge_clean/{dataset}.log",
    benchmark:
        "results/benchmarks/merge_clean/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/merge_clean.py"
