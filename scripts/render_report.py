"""Rule `report`: render the Quarto project to HTML and PDF."""

import datetime as dt
import os
import tempfile
from pathlib import Path

from dnmarkets.core.io import read_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.report.evidence import EVENTS, SUMMARY, evidence_table
from dnmarkets.report.metadata import (
    agreement_flags,
    buffer_days,
    every_measure_agrees,
    section_flags,
    title_block,
)
from dnmarkets.report.render import render_report

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log, tempfile.TemporaryDirectory(prefix="evidence-") as tmp:
    # The report's date is the day it is rendered, or SOURCE_DATE_EPOCH's day; the PDF
    # records that day's midnight as its creation time, so that two renders of one
    # day are byte-identical (reproducible-builds.org's convention)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        day = dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    else:
        day = dt.date.today()
        midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
        os.environ["SOURCE_DATE_EPOCH"] = str(int(midnight.timestamp()))
    assets = {"assets/provenance": Path(sm.input.provenance)}
    # values a notebook computed for the report's captions (a market's name, a stored
    # study's date), written to <assets>/meta.json (escaped Markdown), shown as
    # {{< meta notebooks.<dataset>.<notebook>.<key> >}}
    notebook_values = {}
    for path in sm.input.notebooks:  # results/notebooks/<dataset>/<notebook>
        path = Path(path)
        assets[f"assets/{path.parent.name}/{path.name}"] = path
        if (path / "meta.json").is_file():
            values = read_json(path / "meta.json")
            notebook_values.setdefault(path.parent.name, {})[path.name] = values
    summary = read_json(sm.input.summary)
    present = {
        **section_flags(summary),
        **agreement_flags(summary),
        "signs_agree_all": every_measure_agrees(summary),
    }
    # each event's table of real evidence (assets/evidence/<event>.md), shown where
    # evidence.<event> is true; likewise the executive summary's (evidence.summary)
    evidence_dir = Path(tmp)
    evidence = {}
    for event in (*EVENTS, SUMMARY):
        table = evidence_table(event, summary)
        if table is not None:
            (evidence_dir / f"{event}.md").write_text(table, encoding="utf-8")
            evidence[event] = True
    assets["assets/evidence"] = evidence_dir
    # the data period on the title page: the real crawls' years, else the simulation's
    real = bool(sm.params.real)
    datasets = sm.params.real_datasets if real else sm.params.datasets
    report = title_block(sm.params.report, summary, datasets, real)
    meta = {
        **report,
        "datasets": {name: True for name in sm.params.datasets},
        "dataset_labels": dict(sm.params.labels),
        "event_labels": dict(sm.params.event_labels),
        "notebooks": notebook_values,
        "real_data": real,
        **present,
        "evidence": evidence,
        "buffers": buffer_days(sm.params.resilience),
        "date": day.isoformat(),
    }
    render_report(
        source_dir=Path("report"),
        build_dir=Path("results/report/_build"),
        summary=summary,
        assets=assets,
        meta=meta,
        out_html=Path(sm.output.html),
        out_pdf=Path(sm.output.pdf),
    )
    log.info("report rendered: %s, %s", sm.output.html, sm.output.pdf)
