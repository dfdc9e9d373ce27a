# Panels: market x day activity (listings, vendors, estimated sales, crawl
# coverage) and vendor x market presence intervals.


rule panels:
    input:
        code=package_code("scripts/panels.py"),
        listings="results/clean/{dataset}/listings.parquet",
    output:
        market_day="results/panels/{dataset}/market_day.parquet",
        vendor_market="results/panels/{dataset}/vendor_market.parquet",
    log:
        "logs/panels/{dataset}.log",
    benchmark:
        "results/benchmarks/panels/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/panels.py"
