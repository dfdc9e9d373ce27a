"""Vendor rosters: one row per seller profile of a market (a `roster` dataset).

A roster says who sold on a market by some day (Dream Market's 2016 seller
profiles), not what they offered, so it has no listings, panels or crawl
models: it is read here, cleaned row by row and used by the roster overlap
model (dnmarkets.models.migration_rosters). The mapping in config.yaml names
the source columns:

    roster:
      file: dream-2016/DreamMarket2016_seller.csv.gz
      columns: {vendor: seller_name, registered: member_since, pgp: pgp}
      date_format: "%d/%m/%Y"

The key block is an ASCII-armoured, multi-line cell; its fingerprint is read
as for Agora's vendor pages (dnmarkets.sources.pgp). A missing or unreadable
key is not a reason to drop the profile (the name still matches): it is
recorded in `pgp_reason`. Rows are quarantined, with the field named, when the
vendor name is blank, the date does not parse or lies after the roster's
`collected` day, or the same name (exactly as scraped) appeared in an earlier
row. Every source row is either a clean row or a quarantined one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from dnmarkets.sources.pgp import fingerprints
from dnmarkets.sources.rawcsv import csv_records, decode, decode_error, read_bytes

CLEAN_COLUMNS = ["source_row", "vendor", "registered", "pgp_fingerprint", "pgp_reason"]
QUARANTINE_COLUMNS = ["source_file", "source_row", "field", "reason", "value"]


class RosterError(ValueError):
    """The roster file cannot be read as configured (names file, and row and field)."""


def read_records(path: Path, rel: str, columns: dict) -> pd.DataFrame:
    """The configured source columns of every data row, as text (row 1 = first data row)."""
    data = read_bytes(path, RosterError)
    text, bad = decode(data, path, RosterError)
    if bad is not None:
        raise RosterError(decode_error(Path(rel), bad, data, "utf-8"))
    header, records = csv_records(Path(rel), text, RosterError)
    if not records:
        raise RosterError(f"{rel}: no data rows")
    missing = [c for c in columns.values() if c not in header]
    if missing:
        raise RosterError(f"{rel}: source column(s) {missing} not in the header {header}")
    for i, record in enumerate(records, start=1):
        if len(record) != len(header):
            raise RosterError(
                f"{rel}: data row {i} has {len(record)} fields, the header {len(header)} "
                f"(field {header[-1]!r} cannot be placed)"
            )
    frame = pd.DataFrame(records, columns=header)
    out = pd.DataFrame({name: frame[col].str.strip() for name, col in columns.items()})
    out.insert(0, "source_row", range(1, len(frame) + 1))
    return out


def clean_roster(
    raw: pd.DataFrame, rel: str, date_format: str, collected: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean rows and quarantined rows (one reason each, the first that applies)."""
    columns = {"vendor", "registered", "pgp"}
    if not columns <= set(raw.columns):
        raise RosterError(f"{rel}: the roster mapping needs columns {sorted(columns)}")
    registered = pd.to_datetime(raw["registered"], format=date_format, errors="coerce")
    reasons = pd.Series("", index=raw.index, dtype=object)
    fields = pd.Series("", index=raw.index, dtype=object)

    def mark(mask: pd.Series, field: str, reason: str) -> None:
        new = mask & (reasons == "")
        reasons[new], fields[new] = reason, field

    mark(raw["vendor"] == "", "vendor", "empty_vendor")
    mark(registered.isna(), "registered", "bad_date")
    mark(registered > pd.Timestamp(collected), "registered", "date_after_collection")
    mark(raw["vendor"].duplicated() & (raw["vendor"] != ""), "vendor", "duplicate_vendor")
    bad = reasons != ""
    quarantine = pd.DataFrame(
        {
            "source_file": rel,
            "source_row": raw["source_row"][bad],
            "field": fields[bad],
            "reason": reasons[bad],
            "value": [raw.at[i, fields[i]] for i in raw.index[bad]],
        },
        columns=QUARANTINE_COLUMNS,
    )
    good = raw[~bad]
    keys = fingerprints(good["pgp"])
    clean = pd.DataFrame(
        {
            "source_row": good["source_row"].to_numpy(),
            "vendor": good["vendor"].to_numpy(),
            "registered": registered[~bad].dt.date.to_numpy(),
            "pgp_fingerprint": keys["fingerprint"].fillna("").to_numpy(),
            "pgp_reason": keys["reason"].fillna("").to_numpy(),
        },
        columns=CLEAN_COLUMNS,
    )
    if len(clean) + len(quarantine) != len(raw):
        raise AssertionError(f"{rel}: roster rows do not add up")
    return clean, quarantine.reset_index(drop=True)


def import_roster(spec: dict, root: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Clean table, quarantine and accounting of a roster dataset's file."""
    rel = spec["file"]
    raw = read_records(root / rel, rel, spec["columns"])
    collected = spec.get("collected") or dt.date.today().isoformat()
    clean, quarantine = clean_roster(raw, rel, spec.get("date_format", "%Y-%m-%d"), collected)
    accounting = {
        "source_file": rel,
        "raw_rows": len(raw),
        "clean_rows": len(clean),
        "quarantined_rows": len(quarantine),
        "quarantine_reasons": quarantine["reason"].value_counts().sort_index().to_dict(),
        "with_fingerprint": int((clean["pgp_fingerprint"] != "").sum()),
    }
    return clean, quarantine, accounting
