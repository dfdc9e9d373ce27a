#!/usr/bin/env bash
# axe-core for the accessibility test of the report (tests/workflow/test_workflow_e2e.py),
# installed with `npm ci` from tools/a11y/package-lock.json (pinned version and
# integrity hash) into tools/a11y/node_modules. Called by `./run.sh test`; quiet,
# and a no-op when the locked version is already there. Without npm it says so and
# returns 0: the test then fails under DNM_CI (and is skipped elsewhere), naming it.
set -uo pipefail
cd "$(dirname "$0")"

locked="$(sed -n '/"node_modules\/axe-core"/,/}/s/.*"version": "\(.*\)".*/\1/p' package-lock.json)"
installed="$(sed -n 's/^  "version": "\(.*\)".*/\1/p' node_modules/axe-core/package.json 2>/dev/null)"
[ -n "$locked" ] && [ "$installed" = "$locked" ] && exit 0

if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: the accessibility test needs axe-core (tools/a11y/install.sh)" >&2
    exit 0
fi
echo "installing axe-core $locked (npm ci in tools/a11y) ..." >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null ||
    echo "npm ci failed in tools/a11y: the accessibility test will name the missing axe-core" >&2
exit 0
