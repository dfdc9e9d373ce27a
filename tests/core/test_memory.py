"""The jobs' memory policy (dnmarkets.core.memory)."""

from __future__ import annotations

import platform

from numpy._core.multiarray import _set_madvise_hugepage as madvise

from dnmarkets.core.memory import no_huge_pages_for_numpy, reuse_freed_memory


def test_numpy_huge_pages_are_switched_off_and_stay_off():
    before = madvise(True)  # the switch returns its previous state
    try:
        no_huge_pages_for_numpy()
        assert madvise(False) is False
        no_huge_pages_for_numpy()  # a second call (a later partition) changes nothing
        assert madvise(False) is False
    finally:
        madvise(before)


def test_freed_memory_is_kept_on_glibc():
    """mallopt accepts both thresholds (it returns 0 for a value out of range, as a
    mmap threshold above 32 MiB is); elsewhere nothing is set and it says so."""
    assert reuse_freed_memory() is (platform.libc_ver()[0] == "glibc")
