"""Import the raw Agora HTML crawl of 2014-04-06 and measure its agreement with the CSV.

    python scripts/agora_html_agreement.py --mirror /work/shared/data \
        [--out results/agora_html_agreement.json]

Reads the archive and the CSV from the real-data mirror (nothing is extracted or copied),
prints the figures and writes them as JSON. No network.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dnmarkets.agora_agreement import agreement, read_listing_csv
from dnmarkets.agora_html import read_crawl_archive
from dnmarkets.io import write_json

DAY = "2014-04-06"
ARCHIVE = f"agora-2014-2015/agora-html-{DAY}-cat.tar.xz"
CSV = f"agora-2014-2015/listings/{DAY}_catProducts.csv.gz"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, required=True, help="real-data mirror directory")
    ap.add_argument("--out", type=Path, default=Path("results/agora_html_agreement.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    html_rows = read_crawl_archive(args.mirror / ARCHIVE)
    result = {
        "day": DAY,
        "archive": ARCHIVE,
        "csv": CSV,
        "import_counts": html_rows.attrs["import_counts"],
        **agreement(html_rows, read_listing_csv(args.mirror / CSV)),
    }
    write_json(result, args.out)

    print(f"HTML rows {result['n_html']:,}   CSV rows {result['n_csv']:,}")
    print(f"import counts: {result['import_counts']}")
    print(
        f"exact match on title, vendor, price, ships-from: {result['n_exact']:,} rows = "
        f"{result['exact_share']:.1%} of HTML rows, "
        f"{result['exact_share_on_csv_pages']:.1%} on pages the CSV covers"
    )
    shares = ", ".join(f"{k} {v:.1%}" for k, v in result["field_share"].items())
    print(f"per field: {shares}")
    print(f"only in HTML {result['only_html']:,}   only in CSV {result['only_csv']:,}")
    print("disagreements:")
    for d in result["disagreements"]:
        print(f"  {d['count']:>6,}  [{d['kind']}] {d['category']}")
    print(f"written to {args.out}")
    return result


if __name__ == "__main__":
    main()
