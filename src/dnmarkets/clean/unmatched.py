"""Quarantine of the rows whose market the configuration does not know.

A multi-market tabular dataset takes each row's market from a source column or
from the file's path (``market:`` in its table mapping). The import writes rows
whose value names no configured market to ``unmatched/`` files, with the value
in an extra ``market`` column (:mod:`dnmarkets.sources.tabular`). They are never
dropped: here every such row goes to quarantine with field ``market`` and
reason ``unknown_market``, and the accounting counts them (raw = clean +
quarantined, with no clean rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dnmarkets.clean.partition import (
    CleanResult,
    _combine,
    _empty_like,
    _quarantine,
    _read_raw,
    accounting_table,
    sorted_quarantine,
)
from dnmarkets.clean.schemas import (
    ACCOUNTING_SCHEMA,
    LISTINGS_SCHEMA,
    QUARANTINE_SCHEMA,
    VENDORS_SCHEMA,
)

UNMATCHED_MARKET = "unmatched"  # the market column of these rows: none of the configured ones
REASON = "unknown_market"


def quarantine_unmatched(raw_files: list[Path], dataset: str, project_root: Path) -> CleanResult:
    """Every row of the `unmatched/` snapshot files, quarantined as `unknown_market`."""
    raws = [_read_raw(Path(p), Path(project_root)) for p in sorted(raw_files, key=str)]
    parts = []
    for table in ("listings", "vendors"):
        group = [r for r in raws if r.table == table]
        if group:
            frame = _combine(group)
            reason = np.full(len(frame), REASON, dtype=object)
            field = np.full(len(frame), "market", dtype=object)
            parts.append(_quarantine(group, frame, field, reason, dataset, UNMATCHED_MARKET, table))
    quarantine = sorted_quarantine([p for p in parts if len(p)])
    counts = {r.rel: (0, r.n_rows) for r in raws}
    accounting = accounting_table(raws, dataset, UNMATCHED_MARKET, counts)
    return CleanResult(
        LISTINGS_SCHEMA.validate(_empty_like(LISTINGS_SCHEMA)),
        VENDORS_SCHEMA.validate(_empty_like(VENDORS_SCHEMA)),
        QUARANTINE_SCHEMA.validate(quarantine),
        ACCOUNTING_SCHEMA.validate(accounting),
    )
