"""Freed memory handed back to the system between the large steps of a job.

The out-of-core steps at 100x scale (dnmarkets.panels.sightings) free gigabytes of
working memory (DuckDB's batches, Arrow tables, pandas temporaries) that the C
library's allocator keeps for later use by the process; a later step that
allocates through another allocator (numpy's objects, Arrow's pool) cannot reuse
it, so the job's resident memory added both. ``malloc_trim`` returns the free
pages at once (measured: the landscape job's peak at 100x scale, 3.05 -> 2.65 GB).
"""

from __future__ import annotations

import ctypes
import functools

import pyarrow as pa


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None (another C library: nothing to call). Looked up
    in the process's own symbols: ctypes.util.find_library would start a child
    process (ldconfig), whose peak memory counts as the job's parent's size."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def release_freed_memory() -> None:
    """Return the free pages of Arrow's memory pool and of the C library (glibc's
    malloc_trim; nothing to call with another C library) to the system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
