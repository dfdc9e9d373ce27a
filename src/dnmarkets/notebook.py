"""Small helpers that keep the notebooks thin."""

from __future__ import annotations

import os
from pathlib import Path


def enter_project_root() -> Path:
    """Make paths relative to the project root, also when run by hand in Jupyter.

    Papermill starts the kernel in the project root; Jupyter starts it in
    notebooks/. Walk up to the folder that holds the Snakefile.
    """
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Snakefile").exists():
            os.chdir(candidate)
            return candidate
    raise FileNotFoundError("no Snakefile above the current folder: run from the project")
