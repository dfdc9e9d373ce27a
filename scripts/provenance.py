"""Rule `provenance`: versions, inputs, config and DAG for the reproducibility appendix."""

from pathlib import Path

import pandas as pd
import yaml

from dnmarkets.core import provenance as prov
from dnmarkets.core.io import sha256_file, write_json, write_text
from dnmarkets.core.runlog import job_logging
from dnmarkets.report.mdtext import md_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    out = Path(sm.output.assets)
    out.mkdir(parents=True, exist_ok=True)
    software = prov.software_versions()
    inputs = [
        prov.dataset_inputs(name, Path(path))
        for name, path in zip(sm.params.datasets, sm.input.manifests, strict=True)
    ]
    accounting = pd.concat([pd.read_parquet(p) for p in sm.input.accounting])
    record = {
        "code_version": prov.code_version(),
        "lock_sha256": sha256_file(sm.input.lock),
        "software": software,
        "inputs": inputs,
        "config": dict(sm.params.config),
    }
    write_json(record, sm.output.record)

    write_text(
        md_table(
            pd.DataFrame(software), caption="Software used for this run.", label="tbl-software"
        ),
        out / "software.md",
    )
    inputs_table = pd.DataFrame(inputs)[["dataset", "files", "rows", "manifest_sha256"]]
    inputs_table = inputs_table.rename(columns={"manifest_sha256": "sha256 of checksum manifest"})
    write_text(
        md_table(
            inputs_table,
            caption="Raw inputs: every file is checked against a "
            "sha256 manifest before it is read.",
            label="tbl-inputs",
            formats={"rows": "{:,.0f}"},
        ),
        out / "inputs.md",
    )
    totals = (
        accounting.groupby(["dataset", "table"])[["raw_rows", "clean_rows", "quarantined_rows"]]
        .sum()
        .reset_index()
        .rename(
            columns={
                "dataset": "Dataset",
                "table": "Table",
                "raw_rows": "Raw rows",
                "clean_rows": "Clean rows",
                "quarantined_rows": "Quarantined rows",
            }
        )
    )
    counts = ["Raw rows", "Clean rows", "Quarantined rows"]
    write_text(
        md_table(
            totals,
            caption="Row accounting per dataset: raw rows = clean rows + quarantined rows.",
            label="tbl-row-accounting",
            formats={c: "{:,.0f}" for c in counts},
        ),
        out / "accounting.md",
    )
    # the appendix shows short tables; the whole configuration is published beside
    # the report, ready for `--configfile` to repeat the run
    config_text = yaml.safe_dump(dict(sm.params.config), sort_keys=False)
    write_text(config_text, sm.output.config)
    overview = prov.config_overview(dict(sm.params.config))
    captions = {
        "datasets": ("Datasets analysed in this run.", "tbl-config-datasets"),
        "events": ("Events (takedowns and exit scams) analysed.", "tbl-config-events"),
        "settings": (
            "Settings of the cleaning, the analysis and the simulation; "
            "the full configuration is in config.yaml.",
            "tbl-config-settings",
        ),
    }
    parts = [
        md_table(overview[name], caption=caption, label=label)
        for name, (caption, label) in captions.items()
    ]
    write_text(
        "- The full configuration: `results/provenance/config.yaml`\n"
        f"- Its sha256: `{sha256_file(sm.output.config)}`\n"
        "- To repeat this run's analysis: "
        "`./run.sh report --configfile results/provenance/config.yaml`\n\n" + "\n".join(parts),
        out / "config.md",
    )
    write_text(
        f"Code version `{record['code_version']}`; lock file sha256 `{record['lock_sha256']}`.\n",
        out / "version.md",
    )
    prov.draw_rulegraph(Path(sm.input.dot).read_text(), out / "dag.png")
    log.info("provenance written to %s", out)
