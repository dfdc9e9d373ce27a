# Vendor migration: identities across markets, and who reappears where after a
# closure. One model per dataset, with event-suffixed keys (as resilience).


rule migration_model:
    input:
        unpack(
            lambda wc: (
                {"truth": f"data/raw/{wc.dataset}/ground_truth.json"}
                if DATASETS[wc.dataset]["kind"] == "simulated"
                else {}
            )
        ),
        code=package_code("scripts/migration_model.py"),
        identities="results/clean/{dataset}/identities.parquet",
        links="results/clean/{dataset}/identity_links.json",
        vendors="results/clean/{dataset}/vendors.parquet",
        vendor_market="results/panels/{dataset}/vendor_market.parquet",
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        model="results/models/{dataset}/migration.json",
    log:
        "logs/models/{dataset}/migration.log",
    benchmark:
        "results/benchmarks/models/{dataset}/migration.tsv"
    conda:
        "../envs/models.yaml"
    params:
        events=lambda wc: migration_events(wc.dataset),
        settings=config["analysis"]["migration"],
        level=config["analysis"]["confidence_level"],
        seed=config["analysis"]["seed"],
        replicates=config["analysis"]["bootstrap_replicates"],
    script:
        "../scripts/migration_model.py"


rule migration_notebook:
    input:
        code=package_code("scripts/run_notebook.py", "notebooks/migration.ipynb"),
        notebook="notebooks/migration.ipynb",
        model="results/models/{dataset}/migration.json",
    output:
        notebook="results/notebooks/{dataset}/migration.ipynb",
        assets=directory("results/notebooks/{dataset}/migration"),
    log:
        "logs/notebooks/{dataset}/migration.log",
    benchmark:
        "results/benchmarks/notebooks/{dataset}/migration.tsv"
    conda:
        "../envs/notebooks.yaml"
    params:
        parameters=lambda wc, input, output: {
            "dataset": wc.dataset,
            **dataset_meta(wc.dataset),
            "model_path": input.model,
            "events_json": json.dumps(migration_events(wc.dataset), sort_keys=True),
            "market_names_json": json.dumps(market_names(wc.dataset), sort_keys=True),
            "out_dir": output.assets,
        },
    script:
        "../scripts/run_notebook.py"


rule roster_clean:
    input:
        code=package_code("scripts/roster_clean.py"),
        fetched=lambda wc: f"data/raw/{ROSTER_DATASETS[wc.roster]['source']}/fetched.tsv",
    output:
        roster="private/clean/{roster}/roster.parquet",
        quarantine="private/clean/{roster}/roster_quarantine.parquet",
        accounting="results/clean/{roster}/roster_accounting.json",
    log:
        "logs/clean/{roster}/roster.log",
    benchmark:
        "results/benchmarks/clean/{roster}/roster.tsv"
    conda:
        "../envs/models.yaml"
    params:
        spec=lambda wc: ROSTER_DATASETS[wc.roster]["roster"],
    script:
        "../scripts/roster_clean.py"


rule migration_external:
    input:
        unpack(lambda wc: roster_input_files(wc.dataset)),
        code=package_code("scripts/migration_external.py"),
        fetched=lambda wc: source_of(wc.dataset),
    output:
        model="results/models/{dataset}/migration_external.json",
    log:
        "logs/models/{dataset}/migration_external.log",
    benchmark:
        "results/benchmarks/models/{dataset}/migration_external.tsv"
    conda:
        "../envs/models.yaml"
    params:
        spec=lambda wc: config["analysis"]["migration"]["external"][wc.dataset],
        events=lambda wc: json.loads(events_for(wc.dataset)),
        level=config["analysis"]["confidence_level"],
        window=config["analysis"]["migration"]["arrivals_window_days"],
        all_events=config["events"],
        min_alias_length=config["analysis"]["migration"]["matching"]["min_alias_length"],
    script:
        "../scripts/migration_external.py"
