"""Workflow plumbing shared by every stage: atomic writes, job logs, locks, code
dependencies, config checks, provenance, the summary catalogue, the results manifest."""
