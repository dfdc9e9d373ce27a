"""Memory of the large jobs: Arrow on the C library's allocator, numpy's arrays on
ordinary pages, freed memory kept for the next allocation within the cleaning's steps,
and handed back to the system between the large steps of the models.

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
def _libc():
    """The process's C library (its own symbols; see _malloc_trim), or None."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None (another C library: nothing to call). Looked up
    in the process's own symbols: ctypes.util.find_library would start a child
    process (ldconfig), whose peak memory counts as the job's parent's size."""
    return getattr(_libc(), "malloc_trim", None)


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


def no_huge_pages_for_numpy() -> None:
    """Keep numpy from asking the kernel for transparent huge pages (madvise) for its
    arrays of 4 MiB or more. The cleaning allocates such arrays, writes them once and
    frees them; each first touch of a huge page then zeroes 2 MiB: on the Agora
    crawls the kernel's page zeroing was a tenth of the cleaning's CPU time, and
    without huge pages the system time fell from 1.2 to 0.7 s (benchmarks/README.md).
    Nothing happens where numpy lacks the switch (its private ``_set_madvise_hugepage``,
    the run-time form of the NUMPY_MADVISE_HUGEPAGE variable)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2 (or a future numpy without it)
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREE_TOP = 1 << 30  # free memory at the heap's top kept up to 1 GiB
_MMAP_ABOVE = 32 << 20  # the largest threshold glibc accepts on 64-bit systems


def reuse_freed_memory() -> bool:
    """Keep the C library from handing freed memory back to the system at once: blocks
    up to 32 MiB come from the heap (not a mapping of their own, unmapped when freed),
    and its free top is kept up to 1 GiB. The cleaning allocates and frees columns of
    that size step after step; each returned page was faulted in again for the next
    (Agora crawls, one job per partition: page faults -15%, CPU time -2.4%, peak
    memory +25 MB of 850). The thresholds are fixed, where glibc otherwise adapts them
    to the sizes freed so far. False where the C library has no mallopt (not glibc)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_TOP)) and bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE)
    )
