"""Rule `identities`: vendor accounts matched across markets on the scraped aliases,
published with pseudonyms: one identity column per fuzzy-matching threshold of the
sensitivity table, and the simulator's true identity where there is one."""

import pandas as pd

from dnmarkets.clean.identity import account_table, identity_table
from dnmarkets.clean.privacy import load_key
from dnmarkets.core.io import write_json, write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.panels.sightings import group_counts

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    settings = dict(sm.params.settings)
    # aliases counted out of core: memory follows accounts, not listing sightings
    listings = group_counts(sm.input.listings, ["market", "vendor_key", "vendor"])
    # and the profile sightings per alias and fingerprint
    vendors = group_counts(sm.input.vendors, ["market", "vendor_key", "vendor", "pgp_fingerprint"])
    truth_vendors = (
        pd.read_csv(sm.input.truth_vendors, dtype=str, keep_default_na=False)
        if "truth_vendors" in sm.input.keys()
        else None
    )
    key = load_key(sm.wildcards.dataset, sm.params.kind, sm.params.key_file)
    table, links = identity_table(account_table(listings, vendors), settings, key, truth_vendors)
    log.info("%d accounts, %d identities", len(table), table["identity"].nunique())
    write_parquet(table, sm.output.identities)
    write_json({"links": links, "pseudonym_key_id": sm.params.key_id}, sm.output.links)
