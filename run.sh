#!/usr/bin/env bash
# One entry point for users and CI.
#   ./run.sh report [snakemake args...]   set up the environment, run the pipeline
#   ./run.sh test   [pytest args...]      set up the environment, run the test suite
#   ./run.sh verify [results-folder]      check a results folder against its manifest.json
# Needs only Python 3.11 and access to PyPI. Every package version is pinned in uv.lock.
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION="0.13.9"
export UV_PYTHON_DOWNLOADS=never      # use the machine's Python 3.11, never fetch one
export UV_PROJECT_ENVIRONMENT="${UV_PROJECT_ENVIRONMENT:-.venv}"
# Compile bytecode at install: Snakemake imports ~1,000 modules at every start,
# and where .pyc files cannot be written later (PYTHONDONTWRITEBYTECODE, a
# read-only environment) compiling them each time doubles the no-op run.
export UV_COMPILE_BYTECODE=1

find_uv() {
    if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        echo uv
        return
    fi
    if [ ! -x .tools/uv/bin/uv ]; then
        echo "setting up uv $UV_VERSION in .tools/uv ..." >&2
        python3 -m venv .tools/uv >&2
        .tools/uv/bin/python -m pip install --quiet "uv==$UV_VERSION" >&2
    fi
    echo .tools/uv/bin/uv
}

UV="$(find_uv)"
command="${1:-report}"
shift || true
case "$command" in
    report)
        "$UV" sync --frozen --quiet --group test
        exec "$UV" run --frozen --no-sync snakemake "$@"
        ;;
    test)
        "$UV" sync --frozen --quiet --group test
        # Debian packages of the browser, accessibility and SLURM tests (apt-get, when missing)
        tools/ci/system_packages.sh
        # axe-core for the accessibility test (npm ci, pinned in tools/a11y/package-lock.json)
        tools/a11y/install.sh
        # two workers; --dist loadfile keeps the tests of one file (and the pipeline run
        # they share) on one worker
        exec "$UV" run --frozen --no-sync pytest -n 2 --dist loadfile "$@"
        ;;
    verify)
        "$UV" sync --frozen --quiet --group test
        exec "$UV" run --frozen --no-sync python -m dnmarkets.core.results_manifest "$@"
        ;;
    *)
        echo "usage: ./run.sh report|test|verify [args...]" >&2
        exit 2
        ;;
esac
