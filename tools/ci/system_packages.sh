#!/usr/bin/env bash
# Debian packages some tests use, installed with apt-get when missing (quiet,
# idempotent): chromium (the browser and accessibility tests of the report), npm
# (installs axe-core for the accessibility test: tools/a11y/install.sh),
# slurm-wlm and munge (the one-node SLURM cluster of tests/test_slurm.py).
# Called by `./run.sh test`.
# Without apt-get or root rights it says so and returns 0: the tests that need a
# missing package then fail and name it.
set -uo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "system packages missing (${missing[*]}) and no root rights to install them" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system packages missing (${missing[*]}) and no apt-get on this machine" >&2
    exit 0
fi
echo "installing Debian packages for the tests: ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
install() { "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }
install || { "${sudo[@]}" apt-get update -qq >/dev/null 2>&1; install; } ||
    echo "apt-get could not install: ${missing[*]}" >&2
exit 0
