"""What the benchmarks ran on: one line, the same in every benchmark's output."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"{gib:.0f} GiB, Python {platform.python_version()}"
    )
