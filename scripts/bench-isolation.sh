#!/usr/bin/env bash
# bench-isolation.sh: per test-project, the expected and found culprits and the builds culprit
# isolation used (control and run B included), against one-at-a-time probing (control + the
# all-varied run + one build per variation that is on). Bar (issue 5): every broken project's
# culprits named correctly, no finding on deterministic ones, and on average fewer builds than
# one-at-a-time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
(cd "$repo" && cargo build --release --quiet)
printf '%-22s %-28s %-28s %7s %7s %s\n' project expected found builds 1-at-a-time ok
total=0 total_one=0 n=0 fail=0
for dir in "$repo"/test-projects/*/; do
  name=$(basename "$dir")
  [ -f "$dir/expected.toml" ] || continue
  json=$("$bin" check --json - "$dir" 2>/dev/null || true)
  line=$(EXPECTED="$dir/expected.toml" python3 -c '
import json, os, sys, tomllib
r = json.loads(sys.stdin.read())
e = tomllib.load(open(os.environ["EXPECTED"], "rb"))
found = sorted(r["culprits"])
if any(a.get("random") for a in r["artifacts"]):
    found = found or ["(random)"]
want = sorted(e["culprits"]) or (["(random)"] if "random" in e["codes"] else [])
iso = r.get("isolation") or {"builds": 0}
builds = 2 + iso["builds"]
one = 2 + len(r["variations"])
broken = e["verdict"] == "not-reproducible"
ok = (r["verdict"] == e["verdict"]) and (found == want if broken else not r["findings"])
print(",".join(want) or "-", ",".join(found) or "-", builds if broken else 2, one if broken else 2, "ok" if ok else "FAIL", int(broken))
' <<< "$json")
  read -r want found builds one ok broken <<< "$line"
  printf '%-22s %-28s %-28s %7s %7s %s\n' "$name" "$want" "$found" "$builds" "$one" "$ok"
  [ "$ok" = ok ] || fail=1
  if [ "$broken" = 1 ]; then total=$((total + builds)); total_one=$((total_one + one)); n=$((n + 1)); fi
done
avg=$(awk -v t="$total" -v n="$n" 'BEGIN{printf "%.1f", t/n}')
avg1=$(awk -v t="$total_one" -v n="$n" 'BEGIN{printf "%.1f", t/n}')
echo "broken projects: $n; average builds: isolation $avg, one-at-a-time $avg1"
[ "$fail" = 0 ] && echo "PASS  culprits named on every broken project, no finding on deterministic ones" || echo "FAIL  culprits"
awk -v a="$avg" -v b="$avg1" 'BEGIN{exit !(a < b)}' && echo "PASS  fewer builds than one-at-a-time on average" || { echo "FAIL  fewer builds on average"; fail=1; }
exit $fail
