#!/bin/bash
# Installs the Debian 12 packages that pamprofd's build, tests and demo need.
# Only what is missing is installed; needs root (or sudo).
set -euo pipefail

packages=(
    meson ninja-build pkg-config gcc clang libclang-rt-14-dev   # libFuzzer (tests/fuzz), a Recommends of clang
    libsystemd-dev libcjson-dev libcairo2-dev libcmocka-dev
    fonts-dejavu-core
    python3 python3-uvicorn python3-fastapi python3-psutil python3-matplotlib
    valgrind systemd util-linux procps curl clang-format   # clang-format: tests/meta/test_tree.py
    autoconf automake make xz-utils gpgv debian-archive-keyring   # Austin 3.7.0 (tests/tools/build-austin.sh)
    chromium python3-jsonschema   # the real speedscope app, headless (tests/tools/speedscope-app.py)
    prometheus-node-exporter prometheus   # the textfile collector and promtool (tests/integration/test_metrics.py)
)

# Installed for this machine's own architecture (or for all): a multiarch machine may also
# have, say, libsystemd-dev:arm64 (tests/arm64/), which does not count here.
native=$(dpkg --print-architecture)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null |
        grep -qE "^install ok installed ($native|all)\$" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
