"""Market lifetimes from the market registry: how long darknet markets live and how
they end.

A market's lifetime runs from its opening to its closure; markets still open at
the registry's update are censored there. Estimates (statsmodels):
- Kaplan–Meier survival, the median lifetime and the share alive after one year,
  with 95% intervals;
- cumulative incidence of each closure type (raided, scam, hacked, voluntary,
  unknown) as competing risks (Aalen–Johansen), which, unlike one minus a
  Kaplan–Meier curve per cause, add up to the share of markets closed;
- a Cox proportional-hazards model of closure (any reason) on the registry's
  market features, as hazard ratios with intervals.
Checked against an independent implementation (lifelines) in the tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.duration.survfunc import CumIncidenceRight, SurvfuncRight

from dnmarkets.core.summary import entry

CAUSES = ["raided", "scam", "hacked", "voluntary", "unknown"]
CAUSE_LABELS = {
    "raided": "a raid",
    "scam": "an exit scam",
    "hacked": "a hack",
    "voluntary": "a voluntary closure",
    "unknown": "an unrecorded reason",
}
# registry features used as risk factors (booleans; missing counts as False)
COX_FEATURES = {
    "multisig": "offered multisig escrow",
    "i2p": "were reachable over I2P",
    "guns": "sold guns",
    "fraud": "sold fraud goods",
    "custom_code": "ran their own (custom) code base",
    "opened_year": "opened a year later (per year since 2011)",
}


def lifetimes(registry: pd.DataFrame, censor_date: str) -> pd.DataFrame:
    """One row per market with a usable start: duration in days, closed (event) flag,
    closure cause, and the Cox covariates. Markets flagged with a data problem stay in,
    with the flag (their dates are the registry's)."""
    reg = registry.copy()
    start = pd.to_datetime(reg["start"], errors="coerce")
    end = pd.to_datetime(reg["end"], errors="coerce")
    censor = pd.Timestamp(censor_date)
    closed = ~reg["alive"].fillna(False).astype(bool) & end.notna()
    stop = end.where(closed, censor)
    out = pd.DataFrame(
        {
            "market": reg["market"],
            "start": start,
            "duration_days": (stop - start).dt.days.astype("float64"),
            "closed": closed.astype(int),
            "cause": np.where(closed, reg["closure"].replace("", "unknown").fillna("unknown"), ""),
            "problem": reg.get("problem", pd.Series("", index=reg.index)).fillna(""),
        }
    )
    # features known while the market runs (arrests are part of the closure: not a risk factor)
    for name in ("multisig", "i2p", "guns", "fraud"):
        out[name] = reg[name].fillna(False).astype(float)
    out["custom_code"] = (reg["codebase"].fillna("") == "custom").astype(float)
    out["opened_year"] = (start.dt.year - 2011).astype(float)
    out = out[out["start"].notna() & (out["duration_days"] > 0)]
    return out.reset_index(drop=True)


def kaplan_meier(data: pd.DataFrame, level: float = 0.95) -> dict:
    sf = SurvfuncRight(data["duration_days"], data["closed"])
    alpha = 1 - level
    median = sf.quantile(0.5)
    median_ci = sf.quantile_ci(0.5, alpha=alpha)
    times = sf.surv_times
    lo, hi = _pointwise_band(sf, level)
    year = _at(sf, 365.0, level)
    curve = pd.DataFrame({"days": times, "survival": sf.surv_prob, "low": lo, "high": hi})
    return {
        "median": float(median),
        "median_ci": tuple(float(v) for v in median_ci),
        "one_year": year,
        "curve": curve,
    }


def _pointwise_band(sf: SurvfuncRight, level: float):
    """Pointwise interval of the survival curve on the log(-log) scale (stays in [0, 1])."""
    z = stats.norm.ppf(0.5 + level / 2)
    s = np.clip(sf.surv_prob, 1e-12, 1 - 1e-12)
    se_log = sf.surv_prob_se / s  # se of log S (Greenwood)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_cll = se_log / np.abs(np.log(s))
    lo = s ** np.exp(z * se_cll)
    hi = s ** np.exp(-z * se_cll)
    return np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0)


def _at(sf: SurvfuncRight, day: float, level: float) -> tuple[float, float, float]:
    idx = np.searchsorted(sf.surv_times, day, side="right") - 1
    if idx < 0:
        return (1.0, 1.0, 1.0)
    lo, hi = _pointwise_band(sf, level)
    return (float(sf.surv_prob[idx]), float(lo[idx]), float(hi[idx]))


def cumulative_incidence(data: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of each closure cause (competing risks)."""
    causes = [c for c in CAUSES if (data["cause"] == c).any()]
    code = data["cause"].map({c: i + 1 for i, c in enumerate(causes)}).fillna(0).astype(int)
    ci = CumIncidenceRight(data["duration_days"].to_numpy(), code.to_numpy())
    z = stats.norm.ppf(0.5 + level / 2)
    frames = []
    for i, cause in enumerate(causes):
        value = ci.cinc[i]
        se = ci.cinc_se[i]
        frames.append(
            pd.DataFrame(
                {
                    "cause": cause,
                    "days": ci.times,
                    "incidence": value,
                    "low": np.clip(value - z * se, 0, 1),
                    "high": np.clip(value + z * se, 0, 1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def incidence_at(cif: pd.DataFrame, day: float) -> pd.DataFrame:
    rows = []
    for cause, part in cif.groupby("cause", sort=False):
        before = part[part["days"] <= day]
        if before.empty:
            rows.append({"cause": cause, "incidence": 0.0, "low": 0.0, "high": 0.0})
        else:
            last = before.iloc[-1]
            rows.append(
                {
                    "cause": cause,
                    "incidence": last["incidence"],
                    "low": last["low"],
                    "high": last["high"],
                }
            )
    return pd.DataFrame(rows)


def cox(data: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Cox model of closure (any cause) on the registry's features; Efron ties."""
    features = [f for f in COX_FEATURES if data[f].nunique() > 1]
    model = sm.PHReg(
        data["duration_days"].to_numpy(),
        data[features].to_numpy(),
        status=data["closed"].to_numpy(),
        ties="efron",
    )
    res = model.fit()
    ci = res.conf_int(alpha=1 - level)
    return pd.DataFrame(
        {
            "feature": features,
            "label": [COX_FEATURES[f] for f in features],
            "coef": res.params,
            "se": res.bse,
            "hazard_ratio": np.exp(res.params),
            "hr_low": np.exp(ci[:, 0]),
            "hr_high": np.exp(ci[:, 1]),
            "p_value": res.pvalues,
            # markets with a yes/no feature (none for a continuous one such as the year)
            "markets_with_feature": [
                int(data[f].sum()) if set(data[f].unique()) <= {0.0, 1.0} else None
                for f in features
            ],
        }
    )


def survival_model(registry: pd.DataFrame, censor_date: str, level: float) -> dict:
    """Catalogue entries, tables and curves of the market-lifetime analysis."""
    data = lifetimes(registry, censor_date)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # log(0) at the curve's ends; handled in the bands
        km = kaplan_meier(data, level)
        cif = cumulative_incidence(data, level)
        hazard = cox(data, level)
    at_year = incidence_at(cif, 365.0)
    pct = int(round(level * 100))
    summary = {
        "markets": entry(len(data), "count", "Markets in the registry with an opening date"),
        "closed": entry(
            int(data["closed"].sum()), "count", "Markets closed by the registry's update"
        ),
        "censored": entry(
            int((data["closed"] == 0).sum()), "count", "Markets still open at the update (censored)"
        ),
        "median_lifetime_days": entry(
            km["median"],
            "days",
            f"Median market lifetime (Kaplan-Meier, {pct}% CI)",
            km["median_ci"],
        ),
        "alive_after_1y": entry(
            km["one_year"][0],
            "share",
            f"Share of markets still open one year after opening (Kaplan-Meier, {pct}% CI)",
            km["one_year"][1:],
        ),
    }
    for _, row in at_year.iterrows():
        summary[f"closed_within_1y_{row['cause']}"] = entry(
            row["incidence"],
            "share",
            f"Share of markets that ended by {CAUSE_LABELS[row['cause']]} within one year of "
            f"opening (cumulative incidence, competing risks, {pct}% CI)",
            (row["low"], row["high"]),
        )
    # the last time with a finite standard error (it is undefined where no market is left)
    final = (
        cif.dropna(subset=["low", "high"]).groupby("cause", sort=False).tail(1).set_index("cause")
    )
    top = final["incidence"].idxmax()
    summary["most_common_closure"] = entry(
        float(final.loc[top, "incidence"]),
        "share",
        f"Cumulative incidence of the most common closure type ({top}) by the end of follow-up",
        (float(final.loc[top, "low"]), float(final.loc[top, "high"])),
    )
    for _, row in hazard.iterrows():
        summary[f"hazard_ratio_{row['feature']}"] = entry(
            row["hazard_ratio"],
            "ratio",
            f"Hazard ratio of closure for markets that {row['label']} (Cox model, {pct}% CI)",
            (row["hr_low"], row["hr_high"]),
        )
    return {
        "summary": summary,
        "tables": {
            "lifetimes": data.assign(start=data["start"].dt.date.astype(str)).to_dict("records"),
            "cox": hazard.to_dict("records"),
            "incidence_1y": at_year.to_dict("records"),
        },
        "km_curve": km["curve"],
        "incidence": cif,
    }
