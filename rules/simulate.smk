# The embedded default dataset: a simulated 2017 ecosystem written as raw
# snapshots, plus the ground truth of every effect planted in it.


rule simulate:
    input:
        code=package_code("scripts/simulate.py"),
    output:
        manifest="data/raw/{dataset}/manifest.tsv",
        ground_truth="data/raw/{dataset}/ground_truth.json",
        truth_daily="data/raw/{dataset}/ground_truth_daily.csv.gz",
        truth_vendors="data/raw/{dataset}/ground_truth_vendors.csv.gz",
        rates="data/raw/{dataset}/rates.csv",
        markets="data/raw/{dataset}/markets.csv",
    log:
        "logs/simulate/{dataset}.log",
    benchmark:
        "results/benchmarks/simulate/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(simulated_datasets()) or "^$",
    conda:
        "../envs/pipeline.yaml"
    # one thread builds the crawls' rows, the other gzips the files already built
    threads: 2
    params:
        simulation=lambda wc: DATASETS[wc.dataset]["simulation"],
    script:
        "../scripts/simulate.py"
