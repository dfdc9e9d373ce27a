"""Code style and workflow lint: ruff, snakefmt and `snakemake --lint` report nothing."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY_DIRS = ["src", "tests", "scripts", "benchmarks", "tools"]


def run(*args):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_and_format_are_clean():
    lint = run(sys.executable, "-m", "ruff", "check", *PY_DIRS)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(sys.executable, "-m", "ruff", "format", "--check", *PY_DIRS)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_snakemake_lint_is_clean():
    lint = run(sys.executable, "-m", "snakemake", "--lint", "--cores", "1")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Congratulations" in lint.stdout + lint.stderr


def test_snakefmt_is_clean():
    fmt = run(sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_every_notebook_cell_has_a_fixed_id():
    """nbformat gives a cell without an id a random one on every run, so the
    executed notebook (a result file) would differ between identical runs."""
    import json

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        missing = [i for i, cell in enumerate(cells) if not cell.get("id")]
        assert not missing, f"{path.name}: cells {missing} have no id"


def test_citation_file_names_this_version_and_license():
    import tomllib

    import yaml

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"]["text"]
    assert citation["title"] and citation["authors"] and citation["message"]


def test_run_sh_accepts_the_pythons_of_pyproject_and_the_lock():
    """./run.sh picks a Python in PY_MIN..PY_MAX: the range of requires-python, for
    which uv.lock is resolved."""
    import re
    import tomllib

    run_sh = (ROOT / "run.sh").read_text(encoding="utf-8")
    low = re.search(r"^PY_MIN=(3\.\d+)$", run_sh, re.M)[1]
    high = re.search(r"^PY_MAX=(3\.\d+)$", run_sh, re.M)[1]
    minor = int(high.split(".")[1])
    expected = f">=3.{int(low.split('.')[1])},<3.{minor + 1}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == expected
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    assert lock["requires-python"] == f">={low}, <3.{minor + 1}"
