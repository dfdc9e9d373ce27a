"""The true peak memory of each Snakemake job, for benchmarks/bench.py.

Snakemake's `benchmark:` files sample a job's memory every few seconds, so a
short peak between two samples is missed. bench.py copies this file into its
temporary project's src/ (on every job's PYTHONPATH) and sets DNM_PEAK_RSS_DIR:
every job's Python process then imports it at start-up, and a rule's script
(the one process whose ``__main__`` has Snakemake's ``snakemake`` object)
writes, at exit, the kernel's own record of its peak resident memory
(``ru_maxrss``) and that of its largest finished child (a notebook's kernel,
pandoc, Typst) to one JSON file per process.
"""

import atexit
import json
import os
import resource
import sys


def _write_peak(folder: str) -> None:
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    rule = getattr(job, "rule", None)
    if not isinstance(rule, str):  # not a rule's script (Snakemake itself, a kernel)
        return
    # Linux reports ru_maxrss in kibibytes
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    record = {
        "rule": rule,
        "output": str(list(job.output)[0]) if len(job.output) else "",
        "self_mb": round(own, 1),
        "children_mb": round(children, 1),
    }
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as handle:
        json.dump(record, handle)


if os.environ.get("DNM_PEAK_RSS_DIR"):
    atexit.register(_write_peak, os.environ["DNM_PEAK_RSS_DIR"])
