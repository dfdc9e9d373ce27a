"""Rule `simulate`: write the simulated raw snapshots and their ground truth."""

from pathlib import Path

from dnmarkets.core.runlog import job_logging
from dnmarkets.sim.simulate import simulate

with job_logging(snakemake.log[0]) as log:  # noqa: F821 (injected by Snakemake)
    out_dir = Path(snakemake.output.manifest).parent  # noqa: F821
    sim = dict(snakemake.params.simulation)  # noqa: F821
    truth = simulate(sim, out_dir, threads=snakemake.threads)  # noqa: F821
    log.info("simulated dataset written to %s", out_dir)
