"""Rule `migration_external`: newcomers on a surviving market matched by name to
vendor lists of the markets an event closed (real data; a lower bound)."""

from pathlib import Path

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.core.summary import entry
from dnmarkets.models.migration_external import arrivals, read_name_list, read_vendor_markets
from dnmarkets.models.migration_rosters import roster_model

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    spec = dict(sm.params.spec)
    if "rosters" in spec:  # rosters of the closed markets (private clean tables)
        tables = {
            role: sm.input[role] for role in sm.input.keys() if role not in ("code", "fetched")
        }
        result = roster_model(
            tables,
            dict(spec["rosters"]),
            dict(sm.params.all_events),
            float(sm.params.level),
            int(sm.params.min_alias_length),
        )
        write_json(result, sm.output.model)
        log.info("roster overlap: %d entries", len(result["summary"]))
        raise SystemExit(0)
    vendors, bad = read_vendor_markets(files / spec["vendor_markets"])
    names = {m: read_name_list(files / p) for m, p in spec.get("name_lists", {}).items()}
    result = arrivals(
        vendors,
        dict(sm.params.events),
        dict(spec.get("flags", {})),
        dict(spec.get("near_flags", {})),
        names,
        float(sm.params.level),
        int(sm.params.window),
    )
    summary = result["summary"]
    summary["vendors"] = entry(
        len(vendors), "count", "Vendors in the derived vendor table (name matching source)"
    )
    summary["vendors_unreadable"] = entry(
        bad, "count", "Rows of the derived vendor table dropped: first date does not parse"
    )
    write_json({"summary": summary, "tables": result["tables"]}, sm.output.model)
    log.info("%d vendors (%d unreadable rows), %d entries", len(vendors), bad, len(summary))
