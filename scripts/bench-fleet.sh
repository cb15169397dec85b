#!/usr/bin/env bash
# bench-fleet.sh: the cost of a fleet batch of N jobs against the sum of N separate
# `repro check` runs of the same projects, on one engine, with the same options.
#
# Bar (issue 14): the batch costs at most 1.1x the sum. The batch runs one job at a time
# (--jobs-at-once 1) so that both sides build with the same parallelism; what is measured is
# the fleet's own cost (store, claims, engine identification, per-job preflight).
# Knobs: PROJECTS (test-projects names; default the 8 below), ROUNDS (2; the median is kept),
# ENGINE (default DOCKER_HOST or the local socket), REPRO (a repro binary; default a release
# build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
[ -n "${REPRO:-}" ] || (cd "$repo" && cargo build --release --quiet)
PROJECTS=${PROJECTS:-"c-make-ok shell-tar-ok archive-mtime hostname user umask timezone file-order"}
ROUNDS=${ROUNDS:-2}
ENGINE=${ENGINE:-${DOCKER_HOST:-unix:///var/run/docker.sock}}
work=$(mktemp -d /tmp/repro-bench-fleet.XXXXXX)
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
now() { date +%s.%N; }

jobs=()
for p in $PROJECTS; do jobs+=("$repo/test-projects/$p"); done
n=${#jobs[@]}
# Warm up: the builder image is loaded once, before anything is timed.
DOCKER_HOST=$ENGINE "$bin" check --no-isolate "${jobs[0]}" >/dev/null 2>&1 || true

separate=() batch=()
for round in $(seq "$ROUNDS"); do
  t0=$(now)
  for j in "${jobs[@]}"; do
    DOCKER_HOST=$ENGINE "$bin" check --no-isolate "$j" >/dev/null 2>&1 || true
  done
  t1=$(now)
  separate+=("$(echo "$t1 - $t0" | bc -l)")
  db="sqlite://$work/fleet-$round.sqlite"
  t0=$(now)
  "$bin" fleet run --db "$db" --engine "$ENGINE" --jobs-at-once 1 --no-isolate "${jobs[@]}" \
    >/dev/null 2>"$work/fleet-$round.err" || [ $? = 1 ]
  t1=$(now)
  batch+=("$(echo "$t1 - $t0" | bc -l)")
  echo "round $round: $n separate checks ${separate[-1]}s, one batch ${batch[-1]}s" >&2
done
s=$(printf '%s\n' "${separate[@]}" | median)
b=$(printf '%s\n' "${batch[@]}" | median)
ratio=$(echo "$b / $s" | bc -l)
printf 'jobs: %d  separate checks (sum): %.1f s  fleet batch: %.1f s  ratio: %.3f (bar <= 1.1)\n' \
  "$n" "$s" "$b" "$ratio"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.1) }' || { echo "bench-fleet: over the bar" >&2; exit 1; }
