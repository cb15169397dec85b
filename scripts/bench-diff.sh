#!/usr/bin/env bash
# bench-diff.sh [CORPUS_DIR]   (default /tmp/rbbench-corpus)
#
# Times `repro diff A B` against `diffoscope --text FILE A B` on the shared benchmark corpus
# (made by ../shared/bench/make-corpus.sh with the settings run-peer-bench.sh uses), checks
# the bars from docs/benchmarks.md, and checks detection parity: every archive member that
# diffoscope reports as different must be in repro's difference tree too.
# Exits 0 when every bar passes, 1 when one fails, 2 on a setup error.
#
# Knobs (environment):
#   RUNS=3            timed runs per tool and pair (repro gets one extra warm-up run;
#                     cmp gets RUNS+2 runs after a warm-up)
#   PAIRS="tar jar elf nested big-1byte big-same"
#   SHARED_DIR        where bench/make-corpus.sh lives (default: ../shared beside the repo)
#   MEM_CAP_GIB=12    address-space cap (prlimit --as) for each diffoscope run
#   DTIMEOUT=900      wall timeout per diffoscope run, seconds
#   RTIMEOUT=900      wall timeout per repro run, seconds
#   SPEED_BAR=30      repro must be at least this many times faster than diffoscope
#   MEM_BAR=0.25      repro's peak RSS at most this fraction of diffoscope's
#   CMP_BAR=1.5       on big-same, repro at most this many times cmp's time
#   PARITY_ONLY=1     skip the timed runs, check detection parity only
#   NO_BUILD=1        use the existing target/release/repro (no cargo build)
# Corpus knobs as in run-peer-bench.sh (SCALE=0.25 NFUNCS=2000 BIG_MIB=1024 BIG_DIFF_MIB=128);
# change them and the corpus is regenerated, and the figures no longer compare with the
# peer benchmark's.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED_DIR=$(cd "${SHARED_DIR:-$REPO/../shared}" && pwd)
CORPUS=${1:-/tmp/rbbench-corpus}
RUNS=${RUNS:-3}
PAIRS=${PAIRS:-"tar jar elf nested big-1byte big-same"}
MEM_CAP_GIB=${MEM_CAP_GIB:-12}
DTIMEOUT=${DTIMEOUT:-900}
RTIMEOUT=${RTIMEOUT:-900}
SPEED_BAR=${SPEED_BAR:-30}
MEM_BAR=${MEM_BAR:-0.25}
CMP_BAR=${CMP_BAR:-1.5}
export SCALE=${SCALE:-0.25} NFUNCS=${NFUNCS:-2000} BIG_MIB=${BIG_MIB:-1024} \
       BIG_DIFF_MIB=${BIG_DIFF_MIB:-128}
export LC_ALL=C TZ=UTC

die() { echo "bench-diff: error: $*" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"

# ------------------------------------------------------------------ tools
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v diffoscope >/dev/null || missing+=(diffoscope-minimal)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
  echo "bench-diff: installing ${missing[*]} from the Debian archive" >&2
  # Kept outside apt's own cache: this machine's apt hook empties that between passes.
  as_root mkdir -p /var/cache/apt-keep/partial
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o Dir::Cache::Archives=/var/cache/apt-keep/ install -y "${missing[@]}" >&2
fi
for t in diffoscope cmp prlimit timeout python3 cargo; do
  command -v "$t" >/dev/null || die "$t not found"
done

if [[ ${NO_BUILD:-0} != 1 ]]; then
  (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
fi
REPRO=${CARGO_TARGET_DIR:-$REPO/target}/release/repro
[[ -x $REPRO ]] || die "$REPRO not built"
"$REPRO" diff --help >/dev/null 2>&1 || die "$REPRO has no 'diff' command"

# ------------------------------------------------------------------ corpus
"$SHARED_DIR/bench/make-corpus.sh" "$CORPUS"
OUT=$CORPUS/.bench-diff          # reports of the last run, and cached diffoscope JSON
mkdir -p "$OUT"
TF=$(mktemp /tmp/bench-diff-time.XXXXXX)
trap 'rm -f "$TF"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "NA"; else if (NR%2) print v[(NR+1)/2]; else printf "%.4f\n", (v[NR/2]+v[NR/2+1])/2}'; }
maxof() { sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf f, a/b; else print "NA" }'; }

# measure CMD... : runs CMD under /usr/bin/time; sets M_RC, M_WALL (seconds, from bash's
# microsecond clock: %e has a 10 ms resolution, too coarse for repro on the small pairs)
# and M_RSS (peak RSS, KiB). The caller redirects CMD's output.
measure() {
  local t0 t1
  : > "$TF"
  t0=$EPOCHREALTIME
  set +e
  /usr/bin/time -f '%e %M' -o "$TF" "$@"
  M_RC=$?
  set -e
  t1=$EPOCHREALTIME
  M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
  M_RSS=$(tail -1 "$TF" | awk 'NF==2 && $2 ~ /^[0-9]+$/ {print $2}')
  M_RSS=${M_RSS:-0}
}

rc_meaning() {
  case $1 in
    0) echo identical ;; 1) echo different ;; 2) echo error ;; 124) echo "timed out" ;;
    137) echo "killed (out of memory?)" ;; *) echo "exit $1" ;;
  esac
}

DIFFOSCOPE_CAPPED=(timeout "$DTIMEOUT" prlimit --as=$((MEM_CAP_GIB << 30)) diffoscope)
REPRO_CAPPED=(timeout "$RTIMEOUT" "$REPRO")
FAILS=()     # "BAR|message", one per failure; BAR is runs, speed, memory, cmp or parity
fail() { local bar=$1; shift; FAILS+=("$bar|$*"); }

pair_files() {  # sets A and B for pair $1
  local f
  f=$(ls "$CORPUS/$1/a")
  A=$CORPUS/$1/a/$f; B=$CORPUS/$1/b/$f
  [[ -f $A && -f $B ]] || die "pair $1: missing files in $CORPUS/$1"
}
expected_rc() { [[ $1 == big-same ]] && echo 0 || echo 1; }

# ------------------------------------------------------------------ header
printf '# machine: %s cores, %s memory (%s available), load %s, kernel %s\n' \
  "$(nproc)" "$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  "$(awk '/MemAvailable/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -r)"
printf '# versions: repro %s (%s), diffoscope %s, %s, %s\n' \
  "$("$REPRO" --version 2>/dev/null | awk '{print $2}')" \
  "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo no-git)" \
  "$(diffoscope --version | awk '{print $2}')" "$(cmp --version | head -1)" "$(python3 --version)"
printf '# corpus: %s (%s), RUNS=%s, diffoscope capped at %s GiB address space and %ss\n' \
  "$CORPUS" "$(cat "$CORPUS/.complete")" "$RUNS" "$MEM_CAP_GIB" "$DTIMEOUT"

# ------------------------------------------------------------------ timing
if [[ ${PARITY_ONLY:-0} != 1 ]]; then
  printf '\n%-10s %10s %9s %7s %10s %9s %7s %8s %8s %9s %8s\n' \
    pair diffo_s diffo_MiB d_rc repro_s repro_MiB r_rc speed_x mem_frac cmp_s repro/cmp
  for p in $PAIRS; do
    pair_files "$p"
    want=$(expected_rc "$p")
    cat "$A" "$B" > /dev/null                       # warm the page cache
    walls=(); rsss=(); d_rc=NA
    for ((i = 0; i < RUNS; i++)); do
      measure "${DIFFOSCOPE_CAPPED[@]}" --text "$OUT/$p.diffoscope.txt" "$A" "$B" \
        > /dev/null 2> "$OUT/$p.diffoscope.stderr"
      walls+=("$M_WALL"); rsss+=("$M_RSS"); d_rc=$M_RC
      [[ $M_RC == "$want" ]] || { fail runs "$p: diffoscope run $((i + 1)) ended $(rc_meaning "$M_RC") (see $OUT/$p.diffoscope.stderr)"; break; }
    done
    d_wall=$(printf '%s\n' "${walls[@]}" | median)
    d_rss=$(printf '%s\n' "${rsss[@]}" | maxof)

    "${REPRO_CAPPED[@]}" diff "$A" "$B" > /dev/null 2>&1 || true     # warm-up
    walls=(); rsss=(); r_rc=NA
    for ((i = 0; i < RUNS; i++)); do
      measure "${REPRO_CAPPED[@]}" diff "$A" "$B" > "$OUT/$p.repro.txt" 2> "$OUT/$p.repro.stderr"
      walls+=("$M_WALL"); rsss+=("$M_RSS"); r_rc=$M_RC
      [[ $M_RC == "$want" ]] || { fail runs "$p: repro diff run $((i + 1)) ended $(rc_meaning "$M_RC"), expected $(rc_meaning "$want") (see $OUT/$p.repro.stderr)"; break; }
    done
    r_wall=$(printf '%s\n' "${walls[@]}" | median)
    r_rss=$(printf '%s\n' "${rsss[@]}" | maxof)

    speed=$(ratio "$d_wall" "$r_wall")
    memf=$(ratio "$r_rss" "$d_rss" "%.3f")
    cmp_s=-; per_cmp=-
    if [[ $p == big-same ]]; then
      cmp -s "$A" "$B" || true                      # warm-up
      walls=()
      for ((i = 0; i < RUNS + 2; i++)); do
        measure cmp -s "$A" "$B"
        walls+=("$M_WALL")
        [[ $M_RC == 0 ]] || fail runs "big-same: cmp says the files differ (exit $M_RC)"
      done
      cmp_s=$(printf '%s\n' "${walls[@]}" | median)
      per_cmp=$(ratio "$r_wall" "$cmp_s" "%.2f")
      awk -v r="$per_cmp" -v bar="$CMP_BAR" 'BEGIN { exit !(r != "NA" && r + 0 <= bar + 0) }' \
        || fail cmp "big-same: repro takes ${per_cmp}x cmp's time (bar: <= ${CMP_BAR}x)"
    elif [[ $d_rc == "$want" && $r_rc == "$want" ]]; then
      awk -v s="$speed" -v bar="$SPEED_BAR" 'BEGIN { exit !(s != "NA" && s + 0 >= bar + 0) }' \
        || fail speed "$p: repro is ${speed}x faster than diffoscope (bar: >= ${SPEED_BAR}x)"
      awk -v m="$memf" -v bar="$MEM_BAR" 'BEGIN { exit !(m != "NA" && m + 0 <= bar + 0) }' \
        || fail memory "$p: repro's peak memory is ${memf} of diffoscope's (bar: <= ${MEM_BAR})"
    else
      speed=NA; memf=NA
      fail speed "$p: not measurable, a run failed"
      fail memory "$p: not measurable, a run failed"
    fi
    printf '%-10s %10s %9s %7s %10s %9s %7s %8s %8s %9s %8s\n' "$p" \
      "$d_wall" "$(awk -v k="$d_rss" 'BEGIN{printf "%.0f", k/1024}')" "$d_rc" \
      "$r_wall" "$(awk -v k="$r_rss" 'BEGIN{printf "%.1f", k/1024}')" "$r_rc" \
      "$speed" "$memf" "$cmp_s" "$per_cmp"
  done
  echo "# seconds: median wall of $RUNS runs; MiB: max peak RSS over the runs (/usr/bin/time %M);"
  echo "# speed_x = diffoscope/repro wall; mem_frac = repro/diffoscope peak RSS; rc 0 same, 1 differ, 2 error, 124 timeout, 137 killed"
fi

# ------------------------------------------------------------------ parity
echo
echo "# detection parity: archive members diffoscope reports as different, found in repro's tree"
parity_fail=0
for p in $PAIRS; do
  [[ $p == big-same ]] && continue
  pair_files "$p"
  D=$OUT/$p.diffoscope.json; R=$OUT/$p.repro.json
  # The cached diffoscope report is valid for these exact inputs and this diffoscope.
  stamp="$(diffoscope --version) $(stat -c '%s %Y %i' "$A" "$B" | tr '\n' ' ')"
  stamp+=$(grep -F -e "./$p/a/" -e "./$p/b/" "$CORPUS/SHA256SUMS" | tr '\n' ' ' || true)
  if [[ ! -s $D || ! -f $D.stamp || $(cat "$D.stamp") != "$stamp" ]]; then
    rm -f "$D" "$D.stamp"
    set +e
    "${DIFFOSCOPE_CAPPED[@]}" --json "$D.tmp" "$A" "$B" > /dev/null 2> "$OUT/$p.diffoscope-json.stderr"
    rc=$?
    set -e
    if [[ $rc != 1 ]]; then
      echo "$p: diffoscope --json ended $(rc_meaning "$rc") (see $OUT/$p.diffoscope-json.stderr)"
      parity_fail=1; continue
    fi
    mv "$D.tmp" "$D"; echo "$stamp" > "$D.stamp"
  fi
  set +e
  "${REPRO_CAPPED[@]}" diff --json "$R" "$A" "$B" > /dev/null 2> "$OUT/$p.repro-json.stderr"
  rc=$?
  set -e
  if [[ $rc != 1 ]]; then
    echo "$p: repro diff --json ended $(rc_meaning "$rc"), expected different (see $OUT/$p.repro-json.stderr)"
    parity_fail=1; continue
  fi
  python3 "$REPO/scripts/diffoscope-parity.py" --pair "$p" "$D" "$R" || parity_fail=1
done
((parity_fail == 0)) || fail parity "see the parity lines above"

# ------------------------------------------------------------------ verdict
echo
differing=$(for p in $PAIRS; do [[ $p == big-same ]] || printf '%s ' "$p"; done)
verdict() {  # verdict BAR LABEL: FAIL if any failure was recorded against BAR
  local bar=$1 label=$2 line bad=()
  for line in "${FAILS[@]}"; do [[ ${line%%|*} == "$bar" ]] && bad+=("${line#*|}"); done
  if ((${#bad[@]})); then
    echo "FAIL  $label"; printf '        %s\n' "${bad[@]}"
  else
    echo "PASS  $label"
  fi
}
if [[ ${PARITY_ONLY:-0} != 1 ]]; then
  verdict runs "runs: every run ended with the expected exit status"
  [[ -n $differing ]] && verdict speed "speed: repro >= ${SPEED_BAR}x faster than diffoscope on ${differing% }"
  [[ -n $differing ]] && verdict memory "memory: repro peak RSS <= ${MEM_BAR} of diffoscope's on ${differing% }"
  [[ " $PAIRS " == *" big-same "* ]] && verdict cmp "big-same: repro <= ${CMP_BAR}x cmp -s"
fi
[[ -n $differing ]] && verdict parity "detection parity on ${differing% }"
if ((${#FAILS[@]})); then exit 1; fi
