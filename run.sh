#!/usr/bin/env bash
# One entry point for users and CI.
#   ./run.sh report [snakemake args...]   set up the environment, run the pipeline
#   ./run.sh test   [pytest args...]      set up the environment, run the test suite
#   ./run.sh verify [results-folder]      check a results folder against its manifest.json
# Needs Python 3.11, 3.12 or 3.13 and access to PyPI. Every package version is
# pinned in uv.lock (resolved for all three).
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION="0.13.9"
# The Pythons the project supports: requires-python in pyproject.toml
# (tests/workflow/test_code_style.py checks that the two agree).
PY_MIN=3.11
PY_MAX=3.13
export UV_PROJECT_ENVIRONMENT="${UV_PROJECT_ENVIRONMENT:-.venv}"
# Compile bytecode at install: Snakemake imports ~1,000 modules at every start,
# and where .pyc files cannot be written later (PYTHONDONTWRITEBYTECODE, a
# read-only environment) compiling them each time doubles the no-op run.
export UV_COMPILE_BYTECODE=1

# The path of Python $1 if its version is PY_MIN to PY_MAX, else nothing (status 1).
in_range() {
    "$1" -c "import sys
low, high = (tuple(map(int, v.split('.'))) for v in ('$PY_MIN', '$PY_MAX'))
if not low <= sys.version_info[:2] <= high:
    sys.exit(1)
print(sys.executable)" 2>/dev/null
}

# The machine's Python: the first of python3, python3.13, python3.12 and
# python3.11 on PATH that is in range.
find_python() {
    local name
    for name in python3 python3.13 python3.12 python3.11; do
        command -v "$name" >/dev/null 2>&1 && in_range "$name" && return
    done
    return 0
}

no_python_help() {
    local found
    found="$(python3 --version 2>/dev/null || echo "no python3")"
    cat >&2 <<HELP
./run.sh needs Python $PY_MIN to $PY_MAX; this machine has $found on PATH and
uv could not download a managed Python (no access to its downloads?). Either
  - install one: Debian/Ubuntu \`apt-get install python3\` (bookworm: 3.11,
    trixie: 3.13), or \`pyenv install 3.13\`, or https://www.python.org; or
  - point DNM_PYTHON at one: DNM_PYTHON=/usr/bin/python3.12 ./run.sh report
HELP
}

if [ -n "${DNM_PYTHON:-}" ]; then
    PYTHON="$(in_range "$DNM_PYTHON")" || {
        echo "DNM_PYTHON=$DNM_PYTHON is not a Python $PY_MIN to $PY_MAX" >&2
        exit 2
    }
else
    PYTHON="$(find_python)"
fi
if [ -n "$PYTHON" ]; then
    # use the machine's Python, never fetch one
    export UV_PYTHON="$PYTHON"
    export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
else
    # none in range: uv installs a managed Python (from its GitHub downloads) where
    # the machine can reach them
    echo "no Python $PY_MIN to $PY_MAX on PATH: asking uv for a managed Python $PY_MAX ..." >&2
    export UV_PYTHON="$PY_MAX"
    export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-automatic}"
fi

find_uv() {
    if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        echo uv
        return
    fi
    if [ ! -x .tools/uv/bin/uv ]; then
        echo "setting up uv $UV_VERSION in .tools/uv ..." >&2
        # any python3 can install uv (its wheel has no Python code to speak of)
        "${PYTHON:-python3}" -m venv .tools/uv >&2 || {
            echo "cannot set up uv: no working python3 (install Python $PY_MIN to $PY_MAX, or uv $UV_VERSION)" >&2
            exit 2
        }
        .tools/uv/bin/python -m pip install --quiet "uv==$UV_VERSION" >&2
    fi
    echo .tools/uv/bin/uv
}

# The pinned environment (uv.lock) with the test group
sync() {
    "$UV" sync --frozen --quiet --group test || {
        [ -n "$PYTHON" ] || no_python_help
        exit 1
    }
}

UV="$(find_uv)"
command="${1:-report}"
shift || true
case "$command" in
    report)
        sync
        exec "$UV" run --frozen --no-sync snakemake "$@"
        ;;
    test)
        sync
        # Debian packages of the browser, accessibility and SLURM tests (apt-get, when missing)
        tools/ci/system_packages.sh
        # axe-core for the accessibility test (npm ci, pinned in tools/a11y/package-lock.json)
        tools/a11y/install.sh
        # two workers; --dist loadfile keeps the tests of one file (and the pipeline run
        # they share) on one worker
        exec "$UV" run --frozen --no-sync pytest -n 2 --dist loadfile "$@"
        ;;
    verify)
        sync
        exec "$UV" run --frozen --no-sync python -m dnmarkets.core.results_manifest "$@"
        ;;
    *)
        echo "usage: ./run.sh report|test|verify [args...]" >&2
        exit 2
        ;;
esac
