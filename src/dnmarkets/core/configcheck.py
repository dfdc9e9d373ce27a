"""Checks of the configuration that a JSON schema cannot express, and the schema's defaults.

The schema (schemas/config.schema.yaml) catches typos in keys and malformed
values and holds the default of every optional key; this module catches
references between parts of the config (an event's dataset, a takedown's
market, a dataset's source and files), dates that match the pattern but do not
exist (2017-02-30) and orders of dates. It runs when the workflow is parsed,
before any job, so a typo fails at once with its key. Code called without
Snakemake (the simulator, tests) gets the same checks and defaults here.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from fnmatch import fnmatch
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from dnmarkets.core.events import planted_closures

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid or refers to something that does not exist."""


@functools.cache
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def _resolve(node: dict) -> dict:
    while "$ref" in node:  # local references only: "#/$defs/<name>"
        target = _schema()["$defs"][node["$ref"].removeprefix("#/$defs/")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _section_schema(section: str) -> dict:
    """The schema of the config key at dotted `section` (a name under a mapping of
    names, such as a dataset's, may be any)."""
    node = _resolve(_schema())
    for key in section.split("."):
        props = node.get("properties", {})
        node = _resolve(props[key] if key in props else node["additionalProperties"])
    return node


def schema_defaults(section: str) -> dict:
    """The schema's `default:` values of the keys of config section `section` (dotted,
    e.g. "analysis.migration.matching"), for code called without Snakemake."""
    props = _section_schema(section).get("properties", {})
    return {k: copy.deepcopy(v["default"]) for k, v in props.items() if "default" in v}


def _with_defaults(cls):
    # jsonschema FAQ (as snakemake.utils.validate): fill defaults while validating
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


_DefaultingValidator = _with_defaults(Draft202012Validator)


def _schema_problem(where: str, error) -> str:
    key = ".".join([where, *(f"[{p}]" if isinstance(p, int) else p for p in error.path)])
    key = key.replace(".[", "[")
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{key}: unknown key(s) {unknown}"
    if error.validator == "required":
        return f"{key}: missing key {error.message.split(' ')[0]}"
    return f"{key}: {error.message}"


def checked_section(value, section: str, where: str | None = None) -> dict:
    """A copy of config section `section` validated against the schema, defaults filled;
    :class:`ConfigError` naming each bad key (`where`: the name shown, default `section`)."""
    where = where or section
    schema = {**_section_schema(section), "$defs": _schema()["$defs"]}
    value = copy.deepcopy(value)
    errors = _DefaultingValidator(schema).iter_errors(value)
    errors = sorted(errors, key=lambda e: [str(p) for p in e.path])
    if errors:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(_schema_problem(where, e) for e in errors)
        )
    return value


def checked_simulation(sim_cfg) -> dict:
    """A simulation block checked as the workflow checks it (schema, then the checks a
    schema cannot express), with the schema's defaults filled."""
    if not isinstance(sim_cfg, dict):
        raise ConfigError(f"simulation config must be a mapping, got {type(sim_cfg).__name__}")
    sim = checked_section(sim_cfg, "datasets.*.simulation", "simulation")
    problems = simulation_problems(sim)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return sim


def _date_problems(key: str, value) -> list[str]:
    if value is None:
        return []
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return [f"{key}: {value!r} is not a calendar date"]
    return []


def _ordered(later_key: str, later, earlier_key: str, earlier) -> list[str]:
    if dt.date.fromisoformat(later) < dt.date.fromisoformat(earlier):
        return [f"{later_key}: {later} is before {earlier_key} {earlier}"]
    return []


def simulation_problems(sim: dict, where: str = "simulation") -> list[str]:
    """What the schema cannot check in a (schema-valid) simulation block: real dates and
    their order, market names that are unique and that takedowns name, a market open on
    the start date."""
    dates = [(f"{where}.{k}", sim[k]) for k in ("start", "end")]
    dates += [
        (f"{where}.markets.{m['slug']}.{k}", m.get(k))
        for m in sim["markets"]
        for k in ("opened", "closed")
    ]
    dates += [
        (f"{where}.takedowns[{i}].{k}", t.get(k))
        for i, t in enumerate(sim["takedowns"])
        for k in ("date", "police_control_from")
    ]
    problems = [p for key, value in dates for p in _date_problems(key, value)]
    if problems:
        return problems  # the orders below need real dates
    problems += _ordered(f"{where}.end", sim["end"], "start", sim["start"])
    slugs = [m["slug"] for m in sim["markets"]]
    problems += [
        f"{where}.markets: market {s!r} listed twice"
        for s in sorted({s for s in slugs if slugs.count(s) > 1})
    ]
    taken_down = {}
    for i, t in enumerate(sim["takedowns"]):
        key = f"{where}.takedowns[{i}]"
        if t["market"] not in slugs:
            problems.append(
                f"{key}.market: unknown market {t['market']!r} "
                f"(simulated markets: {', '.join(slugs)})"
            )
        elif t["market"] in taken_down:
            problems.append(f"{key}.market: market {t['market']!r} taken down twice")
        else:
            taken_down[t["market"]] = t["date"]
        if t.get("police_control_from"):
            problems += _ordered(
                f"{key}.date", t["date"], "police_control_from", t["police_control_from"]
            )
    open_at_start = False
    for m in sim["markets"]:
        key = f"{where}.markets.{m['slug']}"
        closes = [d for d in (m.get("closed"), taken_down.get(m["slug"])) if d]
        for d in closes:
            problems += _ordered(f"{key}: closure", d, "opening", m["opened"])
        # ISO dates compare as text
        open_at_start |= m["opened"] <= sim["start"] and min(closes, default="9999") > sim["start"]
    if not open_at_start:
        problems.append(f"{where}.markets: no market is open on the start date {sim['start']}")
    return problems


UNMATCHED_MARKET = "unmatched"  # dnmarkets.clean.unmatched: the market of quarantined rows


def _market_problems(where: str, spec: dict) -> list[str]:
    """A tabular dataset names one `market` or a list of `markets`; with a list, each
    table says where a row's market is, and slugs and `match` values are unique."""
    if ("market" in spec) == ("markets" in spec):
        return [f"{where}: give either `market` (one market) or `markets` (several), not both"]
    if "market" in spec:
        problems = _date_problems(f"{where}.market.opened", spec["market"].get("opened"))
        return problems + [
            f"{where}.{table}.market: only for a dataset with `markets` (this one has one `market`)"
            for table in ("listings", "vendors")
            if "market" in spec.get(table, {})
        ]
    problems = []
    for i, m in enumerate(spec["markets"]):
        problems += _date_problems(f"{where}.markets[{i}].opened", m.get("opened"))
    slugs = [m["slug"] for m in spec["markets"]]
    values = [m.get("match", m["slug"]) for m in spec["markets"]]
    problems += [
        f"{where}.markets: {what} {v!r} given twice"
        for what, listed in (("market", slugs), ("match value", values))
        for v in sorted({v for v in listed if listed.count(v) > 1})
    ]
    if UNMATCHED_MARKET in slugs:
        problems.append(
            f"{where}.markets: {UNMATCHED_MARKET!r} is reserved (rows of unknown markets)"
        )
    for table in ("listings", "vendors"):
        rule = spec.get(table, {}).get("market") if table in spec else {}
        if rule is None:
            problems.append(
                f"{where}.{table}.market: missing: say where a row's market is named "
                "({column: name} or {path: regex})"
            )
        elif "path" in rule:
            problems += _regex_problems(f"{where}.{table}.market.path", rule["path"])
    return problems


def _regex_problems(key: str, pattern: str) -> list[str]:
    try:
        groups = re.compile(pattern).groups
    except re.error as err:
        return [f"{key}: not a regular expression ({err})"]
    return [] if groups else [f"{key}: {pattern!r} has no group (the market is its first group)"]


def _dataset_problems(name: str, spec: dict, sources: list) -> list[str]:
    where = f"datasets.{name}"
    problems = []
    if spec["kind"] == "simulated":
        return simulation_problems(spec["simulation"], f"{where}.simulation")
    known_sources = sorted({f.source for f in sources})
    if spec["source"] not in known_sources:
        return [
            f"{where}.source: {spec['source']!r} is not a source in data/sources.tsv "
            f"(sources: {', '.join(known_sources)})"
        ]
    paths = [f.path for f in sources if f.source == spec["source"]]
    if spec["kind"] == "series":
        return problems + _series_problems(where, spec, paths)
    if spec["kind"] == "roster":
        if spec["roster"]["file"] not in paths:
            problems.append(
                f"{where}.roster.file: {spec['roster']['file']!r} is not a file of source "
                f"{spec['source']!r}"
            )
        return problems
    problems += _market_problems(where, spec)
    for day in spec.get("period") or []:
        problems += _date_problems(f"{where}.period", day)
    for table in ("listings", "vendors"):
        if table in spec and not any(fnmatch(p, spec[table]["files"]) for p in paths):
            problems.append(
                f"{where}.{table}.files: {spec[table]['files']!r} matches no file of source "
                f"{spec['source']!r} in data/sources.tsv"
            )
    named = [(f"html_check.{k}", spec.get("html_check", {}).get(k)) for k in ("archive", "csv")]
    named.append(("rates", spec.get("rates")))
    for part in ("reference", "pages"):
        named.append(
            (f"crawl_check.{part}.file", spec.get("crawl_check", {}).get(part, {}).get("file"))
        )
    for key, path in named:
        if path is not None and path not in paths:
            problems.append(f"{where}.{key}: {path!r} is not a file of source {spec['source']!r}")
    return problems


def _series_problems(where: str, spec: dict, paths: list[str]) -> list[str]:
    """A series dataset's files that are not in its source, and markets without a name."""
    problems = []
    for i, item in enumerate(spec["series"]):
        if item["file"] not in paths:
            problems.append(
                f"{where}.series[{i}].file: {item['file']!r} is not a file of source "
                f"{spec['source']!r}"
            )
        if item["market"] not in {m["slug"] for m in spec["markets"]}:
            problems.append(f"{where}.series[{i}].market: {item['market']!r} not in markets")
        if item["format"] == "csv" and not {"date", "columns"} <= set(item):
            problems.append(f"{where}.series[{i}]: a csv file needs `date` and `columns`")
    return problems


def _planted_event_problems(config: dict) -> list[str]:
    """Simulated datasets and events agree: each event a simulated dataset is listed in
    has takedowns that play it (`event:`), and each such tag names an event.

    (Real crawls of one market see the closures of others from outside, so the
    names in `markets_closed` cannot be checked.)"""
    events = config["events"]
    problems = []
    for name, spec in config["datasets"].items():
        if spec["kind"] != "simulated":
            continue
        where = f"datasets.{name}.simulation.takedowns"
        for i, takedown in enumerate(spec["simulation"]["takedowns"]):
            event = takedown.get("event")
            if event is not None and event not in events:
                problems.append(
                    f"{where}[{i}].event: {event!r} is not an event ({', '.join(sorted(events))})"
                )
        planted = planted_closures(spec)
        problems += [
            f"events.{event}.datasets: lists the simulated dataset {name}, whose takedowns do "
            f"not play it (set `event: {event}` on them in {where})"
            for event in sorted(events)
            if name in events[event]["datasets"] and not planted.get(event)
        ]
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
    problems += _planted_event_problems(config)
    for name, ext in config["analysis"].get("migration", {}).get("external", {}).items():
        event = ext.get("rosters", {}).get("event")
        # a dataset left out of the config leaves its analysis settings: a warning only
        if name in config["datasets"] and event is not None and event not in config["events"]:
            problems.append(
                f"analysis.migration.external.{name}.rosters.event: {event!r} is not an event "
                f"({', '.join(sorted(config['events']))})"
            )
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
    for name, ext in external.items():
        rosters = ext.get("rosters", {})
        roles = [rosters["earlier"], *rosters["closed"].values()] if rosters else []
        warnings += [
            f"analysis.migration.external.{name}.rosters: {d!r} is not a configured dataset "
            f"({known}): the roster overlap is not computed"
            for d in roles
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
