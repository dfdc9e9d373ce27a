"""Rule `crawl_check`: crawl completeness against independent counts (Grams, pages)."""

from pathlib import Path

import pandas as pd

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.crawls import crawl_summary, crawl_table, read_reference_counts

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    spec = sm.params.spec
    ref = spec["reference"]
    reference = read_reference_counts(files / ref["file"], ref["date"], ref["count"])
    pages = None
    if "pages" in spec:
        p = spec["pages"]
        pages = read_reference_counts(files / p["file"], p["date"], p["count"])
    table = crawl_table(pd.read_parquet(sm.input.market_day), reference, pages)
    summary = crawl_summary(table, sm.params.threshold, ref["label"])
    rows = table.assign(date=table["date"].astype(str)).to_dict("records")
    write_json(
        {"summary": summary, "tables": {"crawls": rows}, "label": ref["label"]}, sm.output.model
    )
    log.info(
        "%d crawls, %d with a %s count", len(table), table["reference"].notna().sum(), ref["label"]
    )
