"""Market lifetimes: planted lifetimes recovered; Kaplan-Meier, competing risks and the
Cox model checked against an independent implementation (lifelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter

from dnmarkets.models.survival import (
    cox,
    cumulative_incidence,
    kaplan_meier,
    lifetimes,
    survival_model,
)
from dnmarkets.sources.reference import read_registry


def registry(n=200, seed=0, median=150.0):
    """Exponential lifetimes (planted median), a custom code base halving the hazard,
    causes drawn 50/30/20, open markets censored at the update."""
    rng = np.random.default_rng(seed)
    custom = rng.random(n) < 0.4
    rate = np.log(2) / median * np.where(custom, 0.5, 1.0)
    life = rng.exponential(1 / rate)
    start = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    end = start + pd.to_timedelta(np.round(life), unit="D")
    update = pd.Timestamp("2019-06-09")
    alive = end > update
    cause = rng.choice(["scam", "voluntary", "raided"], n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(
        {
            "market": [f"m{i}" for i in range(n)],
            "start": start.date,
            "end": np.where(alive, None, end.date),
            "alive": pd.array(alive, dtype="boolean"),
            "closure": np.where(alive, "", cause),
            "arrested": pd.array(np.zeros(n, bool), dtype="boolean"),
            "multisig": pd.array(rng.random(n) < 0.3, dtype="boolean"),
            "i2p": pd.array(rng.random(n) < 0.1, dtype="boolean"),
            "guns": pd.array(rng.random(n) < 0.4, dtype="boolean"),
            "fraud": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "doxed": pd.array(np.zeros(n, bool), dtype="boolean"),
            "codebase": np.where(custom, "custom", "unknown"),
            "problem": "",
        }
    )


def test_lifetimes_censor_open_markets_at_the_update():
    reg = registry(n=50, median=2000.0)
    data = lifetimes(reg, "2019-06-09")
    open_ = data["closed"] == 0
    assert open_.any() and (data.loc[open_, "cause"] == "").all()
    expected = (pd.Timestamp("2019-06-09") - data.loc[open_, "start"]).dt.days
    np.testing.assert_array_equal(data.loc[open_, "duration_days"], expected)


def test_planted_median_lifetime_and_hazard_ratio_are_recovered():
    data = lifetimes(registry(n=400, seed=1), "2019-06-09")
    plain = data[data["custom_code"] == 0]
    km = kaplan_meier(plain)
    low, high = km["median_ci"]
    assert low < 150 < high
    hr = cox(data).set_index("feature").loc["custom_code"]
    assert hr["hr_low"] < 0.5 < hr["hr_high"]


def test_kaplan_meier_matches_lifelines():
    data = lifetimes(registry(seed=2), "2019-06-09")
    km = kaplan_meier(data)
    ref = KaplanMeierFitter().fit(data["duration_days"], data["closed"])
    curve = km["curve"]
    expected = ref.survival_function_at_times(curve["days"]).to_numpy()
    np.testing.assert_allclose(curve["survival"], expected, rtol=1e-10)
    assert km["median"] == pytest.approx(ref.median_survival_time_)


def test_cumulative_incidence_matches_lifelines_aalen_johansen():
    # continuous (untied) times: lifelines jitters tied times at random
    rng = np.random.default_rng(3)
    n = 300
    closed = rng.random(n) < 0.85
    data = pd.DataFrame(
        {
            "duration_days": rng.exponential(200, n),
            "closed": closed.astype(int),
            "cause": np.where(closed, rng.choice(["raided", "scam", "voluntary"], n), ""),
        }
    )
    cif = cumulative_incidence(data)
    codes = {"raided": 1, "scam": 2, "voluntary": 3}
    event = data["cause"].map(codes).fillna(0).astype(int)
    for cause, code in codes.items():
        ref = AalenJohansenFitter(calculate_variance=False).fit(
            data["duration_days"], event, event_of_interest=code
        )
        ours = cif[cif["cause"] == cause]
        expected = ref.cumulative_density_.iloc[:, 0]
        at = expected.reindex(ours["days"], method="ffill").to_numpy()
        np.testing.assert_allclose(ours["incidence"], at, atol=1e-9)
    # competing risks add up to the share closed (one minus Kaplan-Meier of any closure)
    last = cif.groupby("cause").tail(1)["incidence"].sum()
    km = kaplan_meier(data)["curve"]["survival"].iloc[-1]
    assert last == pytest.approx(1 - km)


def test_cox_model_matches_lifelines():
    data = lifetimes(registry(seed=4), "2019-06-09")
    ours = cox(data).set_index("feature")
    features = list(ours.index)
    frame = data[["duration_days", "closed", *features]]
    ref = CoxPHFitter().fit(frame, duration_col="duration_days", event_col="closed")
    np.testing.assert_allclose(ours["coef"], ref.params_[features], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours["se"], ref.standard_errors_[features], rtol=1e-3)


def test_real_registry_survival(mirror):
    reg = read_registry(mirror / "reference" / "dnm_survival_2019.csv")
    result = survival_model(reg, "2019-06-09", 0.95)
    s = result["summary"]
    assert s["markets"]["value"] == 88 and s["censored"]["value"] == 1  # Tochka only
    median = s["median_lifetime_days"]
    assert median["ci_low"] <= median["value"] <= median["ci_high"]
    data = lifetimes(reg, "2019-06-09")
    ref = KaplanMeierFitter().fit(data["duration_days"], data["closed"])
    # S(t) = 0.5 exactly on a plateau here (44 of 88): lifelines reports the plateau's
    # start, statsmodels the next closure; both satisfy S <= 0.5 and no later than the next
    assert ref.median_survival_time_ <= median["value"]
    assert float(ref.survival_function_at_times(median["value"]).iloc[0]) < 0.5
    shares = [v["value"] for k, v in s.items() if k.startswith("closed_within_1y_")]
    assert sum(shares) == pytest.approx(1 - s["alive_after_1y"]["value"])
