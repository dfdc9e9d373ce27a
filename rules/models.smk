# Models: statistical estimates with intervals, as JSON and tables. Expensive
# fits live here, separate from the cheap plotting in the notebooks.


rule landscape_model:
    input:
        code=package_code("scripts/landscape_model.py"),
        listings="results/clean/{dataset}/listings.parquet",
        accounting="results/clean/{dataset}/accounting.parquet",
        quarantine="results/clean/{dataset}/quarantine.parquet",
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        model="results/models/{dataset}/landscape.json",
    log:
        "logs/models/{dataset}/landscape.log",
    benchmark:
        "results/benchmarks/models/{dataset}/landscape.tsv"
    conda:
        "../envs/models.yaml"
    params:
        analysis=config["analysis"],
        cleaning=config["cleaning"],
        single_pass=lambda wc: DATASETS[wc.dataset].get("single_pass", False),
        single_category=lambda wc: DATASETS[wc.dataset].get("single_category"),
    script:
        "../scripts/landscape_model.py"


rule validate_simulation:
    input:
        code=package_code("scripts/validate_simulation.py"),
        landscape="results/models/{dataset}/landscape.json",
        truth="data/raw/{dataset}/ground_truth.json",
    output:
        model="results/models/{dataset}/validation.json",
    log:
        "logs/models/{dataset}/validation.log",
    benchmark:
        "results/benchmarks/models/{dataset}/validation.tsv"
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/validate_simulation.py"


rule crawl_check:
    input:
        code=package_code("scripts/crawl_check.py"),
        market_day="results/panels/{dataset}/market_day.parquet",
        fetched=lambda wc: source_of(wc.dataset),
    output:
        model="results/models/{dataset}/crawls.json",
    log:
        "logs/models/{dataset}/crawls.log",
    benchmark:
        "results/benchmarks/models/{dataset}/crawls.tsv"
    conda:
        "../envs/models.yaml"
    params:
        spec=lambda wc: DATASETS[wc.dataset]["crawl_check"],
        threshold=config["cleaning"]["low_coverage_threshold"],
    script:
        "../scripts/crawl_check.py"


rule resilience_model:
    input:
        unpack(
            lambda wc: (
                {"truth": f"data/raw/{wc.dataset}/ground_truth_daily.csv.gz"}
                if DATASETS[wc.dataset]["kind"] == "simulated"
                else {}
            )
        ),
        code=package_code("scripts/resilience_model.py"),
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        model="results/models/{dataset}/resilience.json",
        series="results/models/{dataset}/resilience_series.parquet",
        forecasts="results/models/{dataset}/resilience_forecasts.parquet",
    log:
        "logs/models/{dataset}/resilience.log",
    benchmark:
        "results/benchmarks/models/{dataset}/resilience.tsv"
    conda:
        "../envs/models.yaml"
    params:
        events=lambda wc: json.loads(events_for(wc.dataset)),
        settings=config["analysis"]["resilience"],
        level=config["analysis"]["confidence_level"],
        seed=config["analysis"]["seed"],
    script:
        "../scripts/resilience_model.py"


rule survival_model:
    input:
        code=package_code("scripts/survival_model.py"),
        registry="results/registry/markets.parquet",
    output:
        model="results/models/registry/survival.json",
        curves="results/models/registry/survival_curves.parquet",
    log:
        "logs/models/registry/survival.log",
    benchmark:
        "results/benchmarks/models/registry/survival.tsv"
    conda:
        "../envs/models.yaml"
    params:
        settings=config["analysis"]["survival"],
        level=config["analysis"]["confidence_level"],
    script:
        "../scripts/survival_model.py"


rule supply_model:
    input:
        code=package_code("scripts/supply_model.py"),
        listings="results/clean/{dataset}/listings.parquet",
        # rates of the possible days of a scrape whose day is unknown (`price_days`)
        rates=lambda wc: (
            rates_for(wc.dataset) if "price_days" in DATASETS[wc.dataset] else []
        ),
    output:
        model="results/models/{dataset}/supply.json",
    log:
        "logs/models/{dataset}/supply.log",
    benchmark:
        "results/benchmarks/models/{dataset}/supply.tsv"
    conda:
        "../envs/models.yaml"
    params:
        analysis=config["analysis"],
        price_days=lambda wc: DATASETS[wc.dataset].get("price_days"),
    script:
        "../scripts/supply_model.py"


rule coverage_study:
    input:
        code=package_code("scripts/coverage_study.py"),
        study="data/studies/its_coverage.json",
        rows="data/studies/its_coverage.csv",
    output:
        model="results/models/{dataset}/coverage.json",
    log:
        "logs/models/{dataset}/coverage.log",
    benchmark:
        "results/benchmarks/models/{dataset}/coverage.tsv"
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/coverage_study.py"
