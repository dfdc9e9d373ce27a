"""Rule `migration_model`: vendor migration at each event, on the identities matched
(and pseudonymised) in the clean stage."""

import pandas as pd

from dnmarkets.clean.identity import pairwise_scores
from dnmarkets.core.io import read_json, write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.core.summary import entry
from dnmarkets.models.migration import (
    account_spans,
    matching_sensitivity,
    migration,
    read_vendor_profiles,
    truth_checks,
)

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    settings = dict(sm.params.settings)
    # the profiles summarised per account (spans, rating, registration): the table
    # has one row per vendor and crawl, tens of millions at 100x scale
    vendors = read_vendor_profiles(sm.input.vendors)
    vendor_market = pd.read_parquet(sm.input.vendor_market)
    market_day = pd.read_parquet(sm.input.market_day)
    resolved = pd.read_parquet(sm.input.identities)
    log.info("%d accounts, %d identities", len(resolved), resolved["identity"].nunique())
    accounts = resolved.merge(
        account_spans(vendor_market, vendors), on=["market", "vendor_key"], how="left"
    )
    result = migration(
        dict(sm.params.events),
        accounts,
        vendor_market,
        market_day,
        vendors,
        settings,
        float(sm.params.level),
        int(sm.params.seed),
        int(sm.params.replicates),
    )
    summary, tables = result["summary"], result["tables"]
    summary["accounts"] = entry(len(resolved), "count", "Vendor accounts (market x alias key)")
    summary["identities"] = entry(
        resolved["identity"].nunique(), "count", "Vendor identities after matching accounts"
    )
    tables["links"] = read_json(sm.input.links)["links"]
    if "truth" in sm.input.keys():
        scores = pairwise_scores(resolved, resolved["true_uid"])
        tables["matching"] = scores
        for key in ("precision", "recall"):
            summary[f"matching_{key}"] = entry(
                scores[key],
                "share",
                f"Identity matching {key} over pairs of accounts on different markets, "
                "against the simulator's true identities",
            )
        truth = read_json(sm.input.truth)["events"]
        checks, rows = truth_checks(
            summary,
            {k: truth[k] for k in sm.params.events if k in truth},
            float(sm.params.level),
        )
        summary.update(checks)
        tables["checks"] = rows
    tables["matching_sensitivity"] = matching_sensitivity(
        resolved,
        vendor_market,
        market_day,
        vendors,
        dict(sm.params.events),
        settings,
        float(sm.params.level),
        int(sm.params.seed),
    )
    write_json({"summary": summary, "tables": tables}, sm.output.model)
    log.info("%d catalogue entries", len(summary))
