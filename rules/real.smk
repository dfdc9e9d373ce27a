# Real data: obtain the source files (mirror or download, checksums verified),
# import tabular scrapes into canonical snapshots by the mapping in the config,
# and prepare the reference tables (exchange rates, market registry).


rule fetch:
    input:
        code=package_code("scripts/fetch.py"),
        sources="data/sources.tsv",
    output:
        fetched="data/raw/{source}/fetched.tsv",
    log:
        "logs/fetch/{source}.log",
    benchmark:
        "results/benchmarks/fetch/{source}.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        mirror=config["mirror"],
        download=config["download"],
    script:
        "../scripts/fetch.py"


rule import_tabular:
    input:
        code=package_code("scripts/import_tabular.py"),
        fetched=lambda wc: source_of(wc.dataset),
    output:
        manifest="data/raw/{dataset}/manifest.tsv",
        accounting="data/raw/{dataset}/import_accounting.tsv",
    log:
        "logs/import/{dataset}.log",
    benchmark:
        "results/benchmarks/import/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(tabular_datasets()) or "^$",
    conda:
        "../envs/pipeline.yaml"
    params:
        # only what the import reads, so editing e.g. crawl_check does not re-import
        spec=lambda wc: {
            k: v
            for k, v in DATASETS[wc.dataset].items()
            if k in ("market", "markets", "listings", "vendors", "period")
        },
    script:
        "../scripts/import_tabular.py"


rule tabular_rates:
    # a tabular dataset's own exchange rates (`rates`), e.g. those of the simulator
    input:
        code=package_code("scripts/tabular_rates.py"),
        fetched=lambda wc: source_of(wc.dataset),
    output:
        rates="data/raw/{dataset}/rates.csv",
    log:
        "logs/import/{dataset}_rates.log",
    benchmark:
        "results/benchmarks/import/{dataset}_rates.tsv"
    wildcard_constraints:
        dataset="|".join(own_rates_datasets()) or "^$",
    conda:
        "../envs/pipeline.yaml"
    params:
        file=lambda wc: DATASETS[wc.dataset]["rates"],
    script:
        "../scripts/tabular_rates.py"


rule reference_rates:
    input:
        code=package_code("scripts/reference_rates.py"),
        fetched="data/raw/reference/fetched.tsv",
    output:
        rates="data/raw/reference/rates.csv",
    log:
        "logs/reference/rates.log",
    benchmark:
        "results/benchmarks/reference/rates.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/reference_rates.py"


rule registry:
    input:
        code=package_code("scripts/registry.py"),
        fetched="data/raw/reference/fetched.tsv",
    output:
        registry="results/registry/markets.parquet",
    log:
        "logs/reference/registry.log",
    benchmark:
        "results/benchmarks/reference/registry.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/registry.py"


rule html_agreement:
    input:
        code=package_code("scripts/html_agreement.py"),
        fetched=lambda wc: source_of(wc.dataset),
    output:
        model="results/models/{dataset}/html_agreement.json",
    log:
        "logs/models/{dataset}/html_agreement.log",
    benchmark:
        "results/benchmarks/models/{dataset}/html_agreement.tsv"
    conda:
        "../envs/pipeline.yaml"
    params:
        check=lambda wc: DATASETS[wc.dataset]["html_check"],
    script:
        "../scripts/html_agreement.py"
