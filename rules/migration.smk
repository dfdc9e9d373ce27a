# Vendor migration: identities across markets, and who reappears where after a
# closure. One model per dataset, with event-suffixed keys (as resilience).


rule migration_model:
    input:
        unpack(
            lambda wc: (
                {
                    "truth": f"data/raw/{wc.dataset}/ground_truth.json",
                    "truth_vendors": f"data/raw/{wc.dataset}/ground_truth_vendors.csv.gz",
                }
                if DATASETS[wc.dataset]["kind"] == "simulated"
                else {}
            )
        ),
        code=package_code("scripts/migration_model.py"),
        listings="results/clean/{dataset}/listings.parquet",
        vendors="results/clean/{dataset}/vendors.parquet",
        vendor_market="results/panels/{dataset}/vendor_market.parquet",
        market_day="results/panels/{dataset}/market_day.parquet",
    output:
        model="results/models/{dataset}/migration.json",
        identities="results/models/{dataset}/identities.parquet",
    log:
        "logs/models/{dataset}/migration.log",
    benchmark:
        "results/benchmarks/models/{dataset}/migration.tsv"
    conda:
        "../envs/models.yaml"
    params:
        events=lambda wc: migration_events(wc.dataset),
        settings=config["analysis"].get("migration", {}),
        level=config["analysis"]["confidence_level"],
        seed=config["analysis"]["seed"],
        replicates=config["analysis"]["bootstrap_replicates"],
    script:
        "../scripts/migration_model.py"
