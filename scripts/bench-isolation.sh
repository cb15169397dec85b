#!/usr/bin/env bash
# bench-isolation.sh: per test-project, the expected and found culprits and cause codes, the
# probes culprit isolation used against the information bound (⌈log2 C(n,k)⌉ + 1 for k culprit
# variations among n: enough probes to tell them apart, plus one to confirm nothing else
# differs; 1 for a random build: the repeated control) and against one-at-a-time probing (one
# probe per variation), how long isolation took, and the builds a check made (control and run B
# included). Bars (issue 13): every broken project's culprits and codes right, no finding on
# deterministic ones, every single-culprit project in at most 6 probes, and on average at most
# 8 builds.
#
# REPRO=path/to/repro uses that binary (default: target/release/repro, built first);
# JOBS=N passes --jobs N.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${REPRO:-}" ]; then
  (cd "$repo" && cargo build --release --quiet)
  bin=$repo/target/release/repro
else
  bin=$REPRO
fi
jobs=()
[ -n "${JOBS:-}" ] && jobs=(--jobs "$JOBS")
printf '%-20s %-22s %-22s %6s %5s %5s %6s %7s %6s %s\n' \
  project expected found probes bound 1-by-1 rounds time builds ok
total=0 total_one=0 n=0 fail=0 secs=0 single_fail=0
for dir in "$repo"/test-projects/*/; do
  name=$(basename "$dir")
  [ -f "$dir/expected.toml" ] || continue
  json=$("$bin" check "${jobs[@]}" --json - "$dir" 2>/dev/null || true)
  line=$(EXPECTED="$dir/expected.toml" python3 -c '
import json, math, os, sys, tomllib
try:
    r = json.loads(sys.stdin.read())
except ValueError:
    print("- - - - - - - - FAIL 0 0"); sys.exit()
e = tomllib.load(open(os.environ["EXPECTED"], "rb"))
found = sorted(r["culprits"])
if any(a.get("random") for a in r["artifacts"]):
    found = found or ["(random)"]
want = sorted(e["culprits"]) or (["(random)"] if "random" in e["codes"] else [])
codes = sorted({f["code"] for f in r["findings"]})
iso = r.get("isolation") or {"builds": 0, "duration_ms": 0, "rounds": 0}
probes = iso.get("probes", iso["builds"])
n = len(r["variations"])
k = len(e["culprits"])
bound = 1 if not k else math.ceil(math.log2(math.comb(n, k))) + 1
broken = e["verdict"] == "not-reproducible"
ok = r["verdict"] == e["verdict"] and (
    found == want and codes == sorted(e["codes"]) if broken else not r["findings"])
single = broken and k == 1
print(",".join(want) or "-", ",".join(found) or "-",
      probes if broken else "-", bound if broken else "-", n if broken else "-",
      iso.get("rounds", 0) if broken else "-", "%.1fs" % (iso.get("duration_ms", 0) / 1000),
      2 + iso["builds"], "ok" if ok else "FAIL", int(broken), int(single and probes > 6))
' <<< "$json")
  read -r want found probes bound one rounds time builds ok broken over <<< "$line"
  printf '%-20s %-22s %-22s %6s %5s %5s %6s %7s %6s %s\n' \
    "$name" "$want" "$found" "$probes" "$bound" "$one" "$rounds" "$time" "$builds" "$ok"
  [ "$ok" = ok ] || fail=1
  [ "$over" = 1 ] && single_fail=1
  if [ "$broken" = 1 ]; then
    total=$((total + builds)); total_one=$((total_one + 2 + one)); n=$((n + 1))
    secs=$(awk -v a="$secs" -v b="${time%s}" 'BEGIN{print a + b}')
  fi
done
avg=$(awk -v t="$total" -v n="$n" 'BEGIN{printf "%.1f", t/n}')
avg1=$(awk -v t="$total_one" -v n="$n" 'BEGIN{printf "%.1f", t/n}')
echo "broken projects: $n; average builds (control and run B included): isolation $avg, one-at-a-time $avg1; isolation took ${secs}s in all"
[ "$fail" = 0 ] && echo "PASS  culprits and codes right on every broken project, no finding on deterministic ones" || echo "FAIL  culprits or codes"
[ "$single_fail" = 0 ] && echo "PASS  every single-culprit project in at most 6 probes" || { echo "FAIL  a single-culprit project took more than 6 probes"; fail=1; }
awk -v a="$avg" 'BEGIN{exit !(a <= 8)}' && echo "PASS  average builds $avg <= 8" || { echo "FAIL  average builds $avg > 8"; fail=1; }
exit $fail
