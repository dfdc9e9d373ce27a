"""The simulated ecosystem (sim2017): a deterministic generator of raw snapshots with
planted effects and their ground truth."""
