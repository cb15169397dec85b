#!/usr/bin/env bash
# Runs `repro check` on every bundled test-project and compares the verdict with its
# expected.toml. Installs mmdebstrap and the trixie keys when missing (Debian, as root), makes
# (or reuses) the builder images first. Exit 0 when every verdict holds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
[ -x "$bin" ] || { echo "build repro first: cargo build --release" >&2; exit 2; }
"$repo/scripts/install-tools.sh" images
for image in default rust go; do "$bin" image build "$image"; done
pass=0 fail=0
for dir in "$repo"/test-projects/*/; do
  name=$(basename "$dir")
  [ -f "$dir/expected.toml" ] || continue
  expected=$(sed -n 's/^verdict = "\(.*\)"/\1/p' "$dir/expected.toml")
  set +e
  "$bin" check --color never "$dir" > "/tmp/repro-check-$name.txt" 2>&1
  rc=$?
  set -e
  got=$(case $rc in 0) echo reproducible;; 1) echo not-reproducible;; *) echo "error($rc)";; esac)
  if [ "$got" = "$expected" ]; then pass=$((pass + 1)); mark=ok; else fail=$((fail + 1)); mark=FAIL; fi
  printf '%-4s %-18s expected %-17s got %s\n' "$mark" "$name" "$expected" "$got"
done
echo "reports in /tmp/repro-check-<project>.txt"
echo "test-projects: $pass passed, $fail failed"
[ "$fail" = 0 ]
