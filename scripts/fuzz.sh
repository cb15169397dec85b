#!/usr/bin/env bash
# fuzz.sh [TARGET] [SECONDS]: runs a cargo-fuzz target on stable Rust (RUSTC_BOOTSTRAP=1).
# Targets: compare_pair (two arbitrary inputs through the whole engine), sniff.
# The stable property tests (tests/formats/engine_props.rs and each comparator's proptests) run in
# the normal test suite; this is the coverage-guided complement.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-compare_pair}
secs=${2:-240}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cd "$repo/fuzz"
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=4096
