# Cleaning: one job per partition (a market over a block of months) (parallel locally, scattered on
# a cluster), then one merge per dataset. Every raw row ends up either in a
# clean table or in quarantine with its reason; accounting proves it.
# The clean stage keeps the scraped vendor aliases in private/ (never published):
# identities are matched there, and the tables published under results/clean/
# carry keyed pseudonyms instead (dnmarkets.clean.privacy).


rule clean_partition:
    input:
        code=package_code("scripts/clean_partition.py"),
        manifest="data/raw/{dataset}/manifest.tsv",
        rates=lambda wc: rates_for(wc.dataset),
    output:
        listings="private/clean/{dataset}/parts/{partition}/listings.parquet",
        vendors="private/clean/{dataset}/parts/{partition}/vendors.parquet",
        quarantine="private/clean/{dataset}/parts/{partition}/quarantine.parquet",
        accounting="private/clean/{dataset}/parts/{partition}/accounting.parquet",
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


rule quarantine_unmatched:
    # multi-market tabular datasets: rows whose market the config does not know
    input:
        code=package_code("scripts/quarantine_unmatched.py"),
        manifest="data/raw/{dataset}/manifest.tsv",
    output:
        listings="private/clean/{dataset}/parts/unmatched/listings.parquet",
        vendors="private/clean/{dataset}/parts/unmatched/vendors.parquet",
        quarantine="private/clean/{dataset}/parts/unmatched/quarantine.parquet",
        accounting="private/clean/{dataset}/parts/unmatched/accounting.parquet",
    log:
        "logs/clean/{dataset}/unmatched.log",
    benchmark:
        "results/benchmarks/clean/{dataset}/unmatched.tsv"
    wildcard_constraints:
        dataset="|".join(multi_market_datasets()) or "^$",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/quarantine_unmatched.py"


rule merge_clean:
    input:
        code=package_code("scripts/merge_clean.py"),
        manifest="data/raw/{dataset}/manifest.tsv",
        listings=lambda wc: clean_parts(wc.dataset, "listings"),
        vendors=lambda wc: clean_parts(wc.dataset, "vendors"),
        quarantine=lambda wc: clean_parts(wc.dataset, "quarantine"),
        accounting=lambda wc: clean_parts(wc.dataset, "accounting"),
    output:
        listings="private/clean/{dataset}/listings.parquet",
        vendors="private/clean/{dataset}/vendors.parquet",
        quarantine="private/clean/{dataset}/quarantine.parquet",
        accounting="private/clean/{dataset}/accounting.parquet",
    log:
        "logs/merge_clean/{dataset}.log",
    benchmark:
        "results/benchmarks/merge_clean/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/merge_clean.py"


rule identities:
    # identity matching needs the aliases themselves, so it reads the private tables
    input:
        unpack(
            lambda wc: (
                {"truth_vendors": f"data/raw/{wc.dataset}/ground_truth_vendors.csv.gz"}
                if DATASETS[wc.dataset]["kind"] == "simulated"
                else {}
            )
        ),
        code=package_code("scripts/identities.py"),
        listings="private/clean/{dataset}/listings.parquet",
        vendors="private/clean/{dataset}/vendors.parquet",
    output:
        identities="results/clean/{dataset}/identities.parquet",
        links="results/clean/{dataset}/identity_links.json",
    log:
        "logs/identities/{dataset}.log",
    benchmark:
        "results/benchmarks/identities/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        kind=lambda wc: DATASETS[wc.dataset]["kind"],
        key_file=config["privacy"]["key_file"],
        key_id=lambda wc: pseudonym_key_id(wc.dataset),
        settings=config["analysis"]["migration"],
    script:
        "../scripts/identities.py"


rule publish_clean:
    input:
        code=package_code("scripts/publish_clean.py"),
        listings="private/clean/{dataset}/listings.parquet",
        vendors="private/clean/{dataset}/vendors.parquet",
        quarantine="private/clean/{dataset}/quarantine.parquet",
        accounting="private/clean/{dataset}/accounting.parquet",
    output:
        listings="results/clean/{dataset}/listings.parquet",
        vendors="results/clean/{dataset}/vendors.parquet",
        quarantine="results/clean/{dataset}/quarantine.parquet",
        accounting="results/clean/{dataset}/accounting.parquet",
    log:
        "logs/publish_clean/{dataset}.log",
    benchmark:
        "results/benchmarks/publish_clean/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        kind=lambda wc: DATASETS[wc.dataset]["kind"],
        key_file=config["privacy"]["key_file"],
        key_id=lambda wc: pseudonym_key_id(wc.dataset),
    script:
        "../scripts/publish_clean.py"
