"""Stale Snakemake locks after a killed run.

Snakemake marks the files a run will write in `.snakemake/locks/` and removes
the marks when it ends. A run killed with SIGKILL (or by a power loss) leaves
them behind, and the next run refuses to start until `--unlock`. Each run of
this workflow holds an flock on `.snakemake/dnm-run.flock` for its lifetime;
the kernel drops it when the process dies, however it dies. A run that gets
the flock therefore knows that no other run of this workflow is alive, and
that any lock marks present are stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

# The open flock descriptor of this process (kept open, so the flock is held
# until the process exits; not inherited by jobs: Python opens it close-on-exec).
_HELD: list[int] = []


def clear_stale_locks(snakemake_dir: str | os.PathLike = ".snakemake") -> list[Path]:
    """Take the run flock; if it was free, remove Snakemake's leftover lock files.

    Returns the removed lock files. When another run holds the flock, nothing
    is touched and Snakemake's own lock check decides whether this run may start.
    """
    if _HELD:
        return []
    root = Path(snakemake_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "dnm-run.flock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return []
    _HELD.append(fd)
    stale = sorted((root / "locks").glob("*.lock"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
