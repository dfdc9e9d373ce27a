# Notebooks: thin, parameterized (papermill) presentations of model outputs.
# Each writes its figures and table fragments into its own assets folder, so
# editing one notebook reruns only that notebook and the report.


rule landscape_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/landscape.ipynb"),
        notebook="notebooks/landscape.ipynb",
        model="results/models/{dataset}/landscape.json",
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        notebook="results/notebooks/{dataset}/landscape.ipynb",
        assets=directory("results/notebooks/{dataset}/landscape"),
    log:
        "logs/notebooks/{dataset}/landscape.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/landscape.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            **dataset_meta(wc.dataset),
            "model_path": input.model,
            "market_day_path": input.market_day,
            "events_json": events_for(wc.dataset),
            "market_names_json": json.dumps(market_names(wc.dataset), sort_keys=True),
            "low_coverage_threshold": config["cleaning"]["low_coverage_threshold"],
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule validation_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/validation.ipynb"),
        notebook="notebooks/validation.ipynb",
        validation="results/models/{dataset}/validation.json",
    output:
        notebook="results/notebooks/{dataset}/validation.ipynb",
        assets=directory("results/notebooks/{dataset}/validation"),
    log:
        "logs/notebooks/{dataset}/validation.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/validation.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            "label": DATASETS[wc.dataset]["label"],
            "validation_path": input.validation,
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule crawls_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/crawls.ipynb"),
        notebook="notebooks/crawls.ipynb",
        model="results/models/{dataset}/crawls.json",
    output:
        notebook="results/notebooks/{dataset}/crawls.ipynb",
        assets=directory("results/notebooks/{dataset}/crawls"),
    log:
        "logs/notebooks/{dataset}/crawls.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/crawls.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            **dataset_meta(wc.dataset),
            "model_path": input.model,
            "events_json": events_for(wc.dataset),
            "low_coverage_threshold": config["cleaning"]["low_coverage_threshold"],
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule registry_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/registry.ipynb"),
        notebook="notebooks/registry.ipynb",
        registry="results/registry/markets.parquet",
    output:
        notebook="results/notebooks/registry/timeline.ipynb",
        assets=directory("results/notebooks/registry/timeline"),
    log:
        "logs/notebooks/registry/timeline.log",
    benchmark:
        "results/benchmarks/notebooks/registry/timeline.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "registry_path": input.registry,
            "events_json": json.dumps(config["events"], sort_keys=True),
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule resilience_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/resilience.ipynb"),
        notebook="notebooks/resilience.ipynb",
        model="results/models/{dataset}/resilience.json",
        series="results/models/{dataset}/resilience_series.parquet",
    output:
        notebook="results/notebooks/{dataset}/resilience_{event}.ipynb",
        assets=directory("results/notebooks/{dataset}/resilience_{event}"),
    log:
        "logs/notebooks/{dataset}/resilience_{event}.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/resilience_{event}.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            **dataset_meta(wc.dataset),
            "event_name": wc.event,
            "model_path": input.model,
            "series_path": input.series,
            "events_json": events_for(wc.dataset),
            "market_names_json": json.dumps(market_names(wc.dataset), sort_keys=True),
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule survival_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/survival.ipynb"),
        notebook="notebooks/survival.ipynb",
        model="results/models/registry/survival.json",
        curves="results/models/registry/survival_curves.parquet",
    output:
        notebook="results/notebooks/registry/survival.ipynb",
        assets=directory("results/notebooks/registry/survival"),
    log:
        "logs/notebooks/registry/survival.log",
    benchmark:
        "results/benchmarks/notebooks/registry/survival.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "model_path": input.model,
            "curves_path": input.curves,
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule supply_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/supply.ipynb"),
        notebook="notebooks/supply.ipynb",
        model="results/models/{dataset}/supply.json",
    output:
        notebook="results/notebooks/{dataset}/supply.ipynb",
        assets=directory("results/notebooks/{dataset}/supply"),
    log:
        "logs/notebooks/{dataset}/supply.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/supply.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            **dataset_meta(wc.dataset),
            "model_path": input.model,
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule coverage_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/coverage.ipynb"),
        notebook="notebooks/coverage.ipynb",
        study="data/studies/its_coverage.json",
        rows="data/studies/its_coverage.csv",
    output:
        notebook="results/notebooks/{dataset}/coverage.ipynb",
        assets=directory("results/notebooks/{dataset}/coverage"),
    log:
        "logs/notebooks/{dataset}/coverage.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/coverage.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "study_path": input.study,
            "rows_path": input.rows,
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"
