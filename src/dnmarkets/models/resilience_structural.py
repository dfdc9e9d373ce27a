"""The structural (local-level) interrupted time series of a resilience measure, next to
the segmented regression (dnmarkets.models.resilience).

Crawled presence series (active listings, active vendors) are a persistent latent level
(near a random walk: the AR(1) fit of the true simulated series has a coefficient of
0.9 and more) seen through crawl noise, which masks the persistence (0.5 in the crawled
listings): the AR(1) segmented regression then weighs the days differently on crawled
and on true series, and its calibrated intervals missed the truth in the multi-seed
study. A local level plus noise with the same regressors (:func:`fit_local_level`,
CausalImpact's structure fitted by maximum likelihood) describes both, and its own
intervals covered; for the measures in `local_level_measures` it gives the headline
change and the segmented regression's calibrated change is kept as `_segmented`, for
the others the local-level change is kept as robustness (`_local_level`).
"""

from __future__ import annotations

from dnmarkets.models.its import effect_at, fit_local_level, local_level_counterfactual


def structural_fit(series, event, settings, skip):
    """The local-level fit of one measure at one event: (fit, y, x)."""
    return fit_local_level(
        series, event["date"], settings["window_days"], skip, event.get("steps", ())
    )


def is_main(key: str, settings: dict) -> bool:
    return key in settings.get("local_level_measures", [])


def structural_entries(cat, key, label, event, fitted, settings, level):
    """Change at each horizon from the local-level fit `fitted` (fit, y, x): the headline
    entries for a measure in `local_level_measures` (the segmented regression's moved to
    `_segmented`), a robustness entry otherwise."""
    fit = fitted[0]
    main = is_main(key, settings)
    for days in settings["horizons"]:
        est, low, high = effect_at(fit, days, level)
        name = f"{key}_change_pct_{days}d"
        text = (
            f"Change of ecosystem {label} {days} days after {event['label']} vs the "
            f"counterfactual ({cat.pct}% CI, local level plus noise with the segmented "
            "regression's terms, the model's own interval)"
        )
        if main:
            segmented = dict(cat.items[f"{name}.{cat.event}"])
            segmented["description"] = (
                f"As {name}, from the segmented regression: " + (segmented["description"])
            )
            cat.items[f"{name}_segmented.{cat.event}"] = segmented
            cat.add(name, est, "percent", text, (low, high))
        else:
            cat.add(f"{name}_local_level", est, "percent", f"As {name}: {text}", (low, high))


def counterfactual_frame(fitted, level):
    """The figure's fitted and counterfactual series of the local-level fit."""
    fit, _, x = fitted
    return local_level_counterfactual(fit, x, level)


def alt_columns(key: str, settings: dict, cat, days: int, alt_true: float) -> dict:
    """The other model's estimate, interval and truth for the coverage study: the segmented
    regression's where the local level is the main model, and the reverse."""
    main = is_main(key, settings)
    suffix = "_segmented" if main else "_local_level"
    item = cat.items[f"{key}_change_pct_{days}d{suffix}.{cat.event}"]
    return {
        "alt_model": suffix[1:],
        "alt_true": alt_true,
        "alt_estimate": item["value"],
        "alt_ci_low": item["ci_low"],
        "alt_ci_high": item["ci_high"],
    }
