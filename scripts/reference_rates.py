"""Rule `reference_rates`: daily BTC/USD (Coin Metrics) and EUR/USD (ECB, rate of the day)."""

from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.reference import btc_usd_rates

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    rates = btc_usd_rates(files / "reference" / "bitcoin_coinmetrics.csv.gz")
    with atomic_path(sm.output.rates) as tmp:
        rates.to_csv(tmp, index=False)
    log.info("rates: %d days, %s to %s", len(rates), rates["date"].iloc[0], rates["date"].iloc[-1])
