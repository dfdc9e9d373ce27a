"""The configured events as each dataset has them.

An event (`events` in the config) names the real markets it closed
(`markets_closed`). A simulated dataset has fictitious markets instead: its
takedowns say which event they play (`event:` of a takedown), and in that
dataset the event's closed markets are those takedowns' markets. Models and
notebooks of a dataset read the events from here, never `markets_closed` of a
simulated dataset straight from the config.
"""

from __future__ import annotations


def planted_closures(spec: dict) -> dict[str, list[str]]:
    """Event name -> the markets a simulated dataset's takedowns close in it (config order)."""
    closures: dict[str, list[str]] = {}
    for takedown in spec.get("simulation", {}).get("takedowns", []):
        if takedown.get("event"):
            closures.setdefault(takedown["event"], []).append(takedown["market"])
    return closures


def dataset_events(events: dict, dataset: str, spec: dict) -> dict:
    """The events analysed in `dataset` (name-sorted), each with the markets it closed there."""
    planted = planted_closures(spec) if spec.get("kind") == "simulated" else None
    out = {}
    for name, event in sorted(events.items()):
        if dataset not in event["datasets"]:
            continue
        if planted is not None:
            event = {**event, "markets_closed": planted.get(name, [])}
        out[name] = event
    return out
