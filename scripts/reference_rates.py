"""Rule `reference_rates`: daily BTC/USD (Coin Metrics) and EUR/USD (ECB annual averages)."""

from pathlib import Path

from dnmarkets.io import atomic_path
from dnmarkets.reference import btc_usd_rates
from dnmarkets.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    rates = btc_usd_rates(files / "reference" / "bitcoin_coinmetrics.csv.gz")
    with atomic_path(sm.output.rates) as tmp:
        rates.to_csv(tmp, index=False)
    log.info("rates: %d days, %s to %s", len(rates), rates["date"].iloc[0], rates["date"].iloc[-1])
