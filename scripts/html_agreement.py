"""Rule `html_agreement`: import Agora's raw HTML crawl of one day and compare it
with the parsed CSV of the same day (how far the CSVs can be trusted)."""

from pathlib import Path

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.core.summary import entry
from dnmarkets.sources.agora_html import read_crawl_archive
from dnmarkets.sources.html_agreement import agreement, read_listing_csv

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    check = sm.params.check
    day = check["day"]
    html_rows = read_crawl_archive(files / check["archive"])
    csv_rows = read_listing_csv(files / check["csv"])
    result = agreement(html_rows, csv_rows)
    counts = html_rows.attrs["import_counts"]
    summary = {
        "html_rows": entry(
            result["n_html"], "count", f"Listing rows imported from the raw HTML crawl of {day}"
        ),
        "csv_rows": entry(result["n_csv"], "count", f"Rows of the parsed CSV of {day}"),
        "exact_share": entry(
            result["exact_share"],
            "share",
            "Share of HTML rows matching a CSV row on title, vendor, price and ships-from",
        ),
        "exact_share_on_csv_pages": entry(
            result["exact_share_on_csv_pages"],
            "share",
            "As exact_share, on the pages the CSV parser read",
        ),
        "ships_from_share": entry(
            result["field_share"]["ships_from"],
            "share",
            "Share of title+vendor pairs whose ships-from agrees",
        ),
    }
    write_json(
        {"summary": summary, "details": {**result, "import_counts": counts}}, sm.output.model
    )
    log.info(
        "HTML %d rows, CSV %d rows, exact %.3f",
        result["n_html"],
        result["n_csv"],
        result["exact_share"],
    )
