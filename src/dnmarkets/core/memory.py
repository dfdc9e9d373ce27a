"""Memory of the large jobs: Arrow on the C library's allocator, and freed memory
handed back to the system between their large steps.

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
import os

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


def use_system_allocator() -> None:
    """Arrow's default allocator (mimalloc) hands freed pages back to the system and
    faults them in again for the next large column: on the Agora crawls that was a
    fifth of the cleaning's CPU time (system time 2.9 s -> 1.3 s on one partition with
    the C library's allocator). A pool chosen with ARROW_DEFAULT_MEMORY_POOL is kept."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())
