#!/usr/bin/env bash
# The README's test command: installs what the tests use when it is missing (on Debian, as root:
# scripts/install-tools.sh tests), then runs the whole suite. Arguments go to
# `cargo nextest run`; the output ends with nextest's summary line. Without a Docker engine,
# REPRO_SKIP_ENGINE_TESTS=1 skips (and names) the tests that need one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh tests
exec cargo nextest run --no-fail-fast "$@"
