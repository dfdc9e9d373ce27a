# Daily series datasets (kind `series`): import the configured files into one clean
# table with its quarantine and row accounting, fit the interrupted time series at
# each event of the dataset, and draw the figure.


rule import_series:
    input:
        code=package_code("scripts/import_series.py"),
        fetched=lambda wc: f"data/raw/{SERIES_DATASETS[wc.series]['source']}/fetched.tsv",
    output:
        series="results/clean/{series}/series.parquet",
        quarantine="results/clean/{series}/quarantine.parquet",
        accounting="results/clean/{series}/accounting.parquet",
    log:
        "logs/import/{series}.log",
    benchmark:
        "results/benchmarks/import/{series}.tsv"
    wildcard_constraints:
        series="|".join(SERIES_NAMES) or "^$",
    conda:
        "../envs/pipeline.yaml"
    params:
        files=lambda wc: SERIES_DATASETS[wc.series]["series"],
    script:
        "../scripts/import_series.py"


rule series_model:
    input:
        code=package_code("scripts/series_model.py"),
        series="results/clean/{series}/series.parquet",
    output:
        model="results/models/{series}/resilience.json",
        fitted="results/models/{series}/resilience_series.parquet",
        placebo="results/models/{series}/resilience_placebo.parquet",
    log:
        "logs/models/{series}/resilience.log",
    benchmark:
        "results/benchmarks/models/{series}/resilience.tsv"
    wildcard_constraints:
        series="|".join(SERIES_NAMES) or "^$",
    conda:
        "../envs/pipeline.yaml"
    params:
        spec=lambda wc: SERIES_DATASETS[wc.series],
        events=lambda wc: series_events(wc.series),
        all_events=config["events"],
        settings=config["analysis"]["resilience"],
        level=config["analysis"]["confidence_level"],
        seed=config["analysis"]["seed"],
    script:
        "../scripts/series_model.py"


rule series_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/series.ipynb"),
        notebook="notebooks/series.ipynb",
        model="results/models/{series}/resilience.json",
        fitted="results/models/{series}/resilience_series.parquet",
    output:
        notebook="results/notebooks/{series}/series.ipynb",
        assets=directory("results/notebooks/{series}/series"),
    log:
        "logs/notebooks/{series}/series.log",
    benchmark:
        "results/benchmarks/notebooks/{series}/series.tsv"
    wildcard_constraints:
        series="|".join(SERIES_NAMES) or "^$",
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.series,
            "label": SERIES_DATASETS[wc.series]["label"],
            "model_path": input.model,
            "fitted_path": input.fitted,
            "events_json": json.dumps(series_events(wc.series), sort_keys=True),
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"
