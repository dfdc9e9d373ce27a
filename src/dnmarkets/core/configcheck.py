"""Checks of the configuration that a JSON schema cannot express: names that point nowhere.

The schema (schemas/config.schema.yaml) catches typos in keys and malformed
values; this module catches references between parts of the config (an
event's dataset, a takedown's market, a dataset's source and files) and dates
that match the pattern but do not exist (2017-02-30). It runs when the
workflow is parsed, before any job, so a typo fails at once with its key.
"""

from __future__ import annotations

import datetime as dt
from fnmatch import fnmatch


class ConfigError(ValueError):
    """The configuration refers to something that does not exist."""


def _date_problems(key: str, value) -> list[str]:
    if value is None:
        return []
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return [f"{key}: {value!r} is not a calendar date"]
    return []


def _dataset_problems(name: str, spec: dict, sources: list) -> list[str]:
    where = f"datasets.{name}"
    problems = []
    if spec["kind"] == "simulated":
        sim = spec["simulation"]
        problems += _date_problems(f"{where}.simulation.start", sim["start"])
        problems += _date_problems(f"{where}.simulation.end", sim["end"])
        slugs = [m["slug"] for m in sim["markets"]]
        problems += [
            f"{where}.simulation.markets: market {s!r} listed twice"
            for s in sorted({s for s in slugs if slugs.count(s) > 1})
        ]
        for m in sim["markets"]:
            problems += _date_problems(
                f"{where}.simulation.markets.{m['slug']}.opened", m["opened"]
            )
        for i, t in enumerate(sim["takedowns"]):
            if t["market"] not in slugs:
                problems.append(
                    f"{where}.simulation.takedowns[{i}].market: unknown market {t['market']!r} "
                    f"(simulated markets: {', '.join(slugs)})"
                )
        return problems
    known_sources = sorted({f.source for f in sources})
    if spec["source"] not in known_sources:
        return [
            f"{where}.source: {spec['source']!r} is not a source in data/sources.tsv "
            f"(sources: {', '.join(known_sources)})"
        ]
    paths = [f.path for f in sources if f.source == spec["source"]]
    problems += _date_problems(f"{where}.market.opened", spec["market"].get("opened"))
    for day in spec.get("period") or []:
        problems += _date_problems(f"{where}.period", day)
    for table in ("listings", "vendors"):
        if table in spec and not any(fnmatch(p, spec[table]["files"]) for p in paths):
            problems.append(
                f"{where}.{table}.files: {spec[table]['files']!r} matches no file of source "
                f"{spec['source']!r} in data/sources.tsv"
            )
    named = [(f"html_check.{k}", spec.get("html_check", {}).get(k)) for k in ("archive", "csv")]
    for part in ("reference", "pages"):
        named.append(
            (f"crawl_check.{part}.file", spec.get("crawl_check", {}).get(part, {}).get("file"))
        )
    for key, path in named:
        if path is not None and path not in paths:
            problems.append(f"{where}.{key}: {path!r} is not a file of source {spec['source']!r}")
    return problems


def config_problems(config: dict, sources: list) -> list[str]:
    """Every reference in `config` that points nowhere (empty when all is well).

    `sources` are the entries of data/sources.tsv (:func:`dnmarkets.sources.fetch.read_sources`).
    """
    datasets = config["datasets"]
    problems = []
    for name, spec in datasets.items():
        problems += _dataset_problems(name, spec, sources)
    for name, ev in config["events"].items():
        where = f"events.{name}"
        problems += _date_problems(f"{where}.date", ev["date"])
        problems += _date_problems(f"{where}.end_date", ev.get("end_date"))
        if ev.get("end_date") and ev["end_date"] < ev["date"]:
            problems.append(f"{where}.end_date: {ev['end_date']} is before the date {ev['date']}")

        specs = [datasets[d] for d in ev["datasets"] if d in datasets]
        # in simulated data every closed market is simulated; real crawls of one market
        # see the closures of others from outside, so their names cannot be checked here
        if specs and all(s["kind"] == "simulated" for s in specs):
            slugs = {m["slug"] for s in specs for m in s["simulation"]["markets"]}
            problems += [
                f"{where}.markets_closed: unknown market {m!r} (markets of "
                f"{', '.join(ev['datasets'])}: {', '.join(sorted(slugs))})"
                for m in ev["markets_closed"]
                if m not in slugs
            ]
    return problems


def config_warnings(config: dict) -> list[str]:
    """Dataset names in events and analysis blocks that are not configured datasets.

    Not errors: dropping a dataset (say the simulated one, for a real-data-only
    run) leaves its events in the config, and they are then simply not analysed.
    A warning still shows a typo (`sim2071`) at once.
    """
    datasets = config["datasets"]
    known = ", ".join(sorted(datasets))
    warnings = [
        f"events.{name}.datasets: {d!r} is not a configured dataset ({known}): "
        "the event is not analysed there"
        for name, ev in config["events"].items()
        for d in ev["datasets"]
        if d not in datasets
    ]
    external = config["analysis"].get("migration", {}).get("external", {})
    warnings += [
        f"analysis.migration.external.{d}: {d!r} is not a configured dataset ({known})"
        for d in external
        if d not in datasets
    ]
    return warnings


def check_config(config: dict, sources: list) -> list[str]:
    """Raise :class:`ConfigError` listing every problem of :func:`config_problems`;
    return the warnings of :func:`config_warnings`."""
    problems = config_problems(config, sources)
    if problems:
        raise ConfigError(
            "config.yaml refers to things that do not exist:\n  " + "\n  ".join(problems)
        )
    return config_warnings(config)
