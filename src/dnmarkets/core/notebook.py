"""Small helpers that keep the notebooks thin, and that make executed ones reproducible."""

from __future__ import annotations

import os
from pathlib import Path

TIMINGS = ("start_time", "end_time", "duration")


def make_reproducible(path: str | Path, output_path: str) -> None:
    """Drop what differs between identical runs from an executed notebook.

    Papermill and nbclient record when each cell ran, papermill gives its
    injected-parameters cell a random id and records the (temporary) output
    path; without them a rerun gives the same bytes, so the results manifest
    and byte comparisons of reruns hold for notebooks too.
    """
    import nbformat  # only the rule script needs it, not the notebooks

    nb = nbformat.read(path, as_version=4)
    run = nb.metadata.get("papermill", {})
    for key in TIMINGS:
        run.pop(key, None)
    run["output_path"] = output_path
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in TIMINGS:
            cell.metadata.get("papermill", {}).pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
    nbformat.write(nb, path)


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
