# Models: statistical estimates with intervals, as JSON and tables. Expensive
# fits live here, separate from the cheap plotting in the notebooks.


rule landscape_model:
    input:
        listings="results/clean/{dataset}/listings.parquet",
        accounting="results/clean/{dataset}/accounting.parquet",
        quarantine="results/clean/{dataset}/quarantine.parquet",
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        model="results/models/{dataset}/landscape.json",
    params:
        analysis=config["analysis"],
        cleaning=config["cleaning"],
    log:
        "logs/models/{dataset}/landscape.log",
    benchmark:
        "results/benchmarks/models/{dataset}/landscape.tsv"
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/landscape_model.py"
