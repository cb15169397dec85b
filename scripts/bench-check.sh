#!/usr/bin/env bash
# bench-check.sh: the cost of `repro check` (2 runs, in parallel) against one bare build of the
# same project in the same image with the same limits, and repro's own per-run overhead
# (container create, upload, download, removal) for a 10 MB source tree.
#
# The project is generated: NFILES C files with a serial `make` (no -j) taking >= 10 s here.
# Bars (issue): repro check <= 1.4x the bare build; overhead per run < 1 s for 10 MB source.
# Then a real crate as crates.io publishes it (REAL_CRATE, default semver 1.0.23, through
# scripts/real-projects.sh): the dependency phase with a warm store (the entry found by its key,
# no container), and `repro check` against the same two builds run bare (`cargo build --release
# --offline` on the fetched files, in the same image).
# Knobs: NFILES (default 24), NFUNCS (functions per file, 60), RUNS (3), PADDING_MIB (10),
# REAL_CRATE ("NAME VERSION"; empty skips that part).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
NFILES=${NFILES:-24} NFUNCS=${NFUNCS:-60} RUNS=${RUNS:-3} PADDING_MIB=${PADDING_MIB:-10}
REAL_CRATE=${REAL_CRATE-semver 1.0.23}
[ -n "${REPRO:-}" ] || (cd "$repo" && cargo build --release --quiet)
work=$(mktemp -d /tmp/repro-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# ---- the generated project
proj=$work/proj
mkdir -p "$proj/src" "$proj/data"
python3 - "$proj" "$NFILES" "$NFUNCS" <<'PY'
import os, random, sys
root, nfiles, nfuncs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
objs = []
for f in range(nfiles):
    with open(os.path.join(root, "src", f"m{f:03d}.c"), "w") as c:
        c.write("#include <stdint.h>\n#include <string.h>\n")
        for i in range(nfuncs):
            c.write(f"uint64_t f{f}_{i}(uint64_t x, const char *s) {{\n  uint64_t a = {rng.getrandbits(32)}u;\n")
            c.write(f"  for (unsigned j = 0; j < {rng.randint(3, 40)}; j++) {{ a = a * 6364136223846793005ull + x + j;\n")
            c.write("    switch (a & 7) {\n")
            for k in range(6):
                c.write(f"    case {k}: a ^= {rng.getrandbits(24)}u + strlen(s); break;\n")
            c.write("    default: a += a >> 13; } }\n  return a;\n}\n")
    objs.append(f"obj/m{f:03d}.o")
with open(os.path.join(root, "Makefile"), "w") as m:
    m.write("CFLAGS ?= -g -O2\nOBJS = " + " ".join(objs) + "\n")
    m.write("out/libbench.a: $(OBJS)\n\tmkdir -p out\n\tar rcsD $@ $(OBJS)\n")
    m.write("obj/%.o: src/%.c\n\tmkdir -p obj\n\t$(CC) $(CFLAGS) -c -o $@ $<\n")
with open(os.path.join(root, "repro.toml"), "w") as t:
    t.write('[build]\ncommand = ["make"]\noutputs = ["out/*"]\ntimeout = "30m"\nmemory = "4G"\n')
PY
# Pad the source tree to PADDING_MIB (data files the build does not read).
head -c $((PADDING_MIB << 20)) /dev/urandom | split -b 1M - "$proj/data/blob."
src_mib=$(du -sm "$proj" | cut -f1)

"$bin" image build default >/dev/null
# The image repro check uses (our default builder image, by its tag in the engine).
image=$(docker images --no-trunc --format '{{.ID}}' repro/default | head -1)
[ -n "$image" ] || { echo "no repro/default image in the engine" >&2; exit 2; }

# ---- bare build: same image, same limits, one container, the source copied onto a tmpfs
bare() {
  docker run --rm --network none --cap-drop ALL --security-opt no-new-privileges \
    --memory 4g --memory-swap 4g --pids-limit 4096 --user 1000:1000 \
    --tmpfs /build:rw,exec,mode=1777,size=4g -v "$proj:/src:ro" "$image" \
    sh -c 'mkdir -p /build/a && cd /build/a && tar -C /src -cf - . | tar -xf - && make >/dev/null' >/dev/null
}
bares=() checks=() overheads=()
for ((i = 0; i < RUNS; i++)); do
  t0=$EPOCHREALTIME; bare; t1=$EPOCHREALTIME
  bares+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
  t0=$EPOCHREALTIME
  set +e; "$bin" check --json "$work/check.json" "$proj" >/dev/null 2>&1; rc=$?; set -e
  t1=$EPOCHREALTIME
  [ "$rc" -le 1 ] || { echo "repro check failed (exit $rc)" >&2; exit 2; }
  checks+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
  overheads+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(max(x["overhead_ms"] for x in r["runs"])/1000)' "$work/check.json")")
done
b=$(printf '%s\n' "${bares[@]}" | median)
c=$(printf '%s\n' "${checks[@]}" | median)
o=$(printf '%s\n' "${overheads[@]}" | median)
ratio=$(awk -v c="$c" -v b="$b" 'BEGIN{printf "%.2f", c/b}')
verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/check.json")
printf '# %s cores, load %s; project: %s C files x %s functions, serial make, source %s MiB; %s runs\n' \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$NFILES" "$NFUNCS" "$src_mib" "$RUNS"
printf '%-28s %10s\n' "bare build (median s)" "$b" "repro check, 2 runs (s)" "$c" "ratio check/bare" "$ratio" \
  "repro overhead per run (s)" "$o"
echo "verdict of the generated project: $verdict"
fail=0
awk -v r="$ratio" 'BEGIN{exit !(r <= 1.4)}' && echo "PASS  repro check <= 1.4x the bare build" || { echo "FAIL  repro check <= 1.4x the bare build"; fail=1; }
awk -v o="$o" 'BEGIN{exit !(o < 1.0)}' && echo "PASS  overhead per run < 1 s for a ${src_mib} MiB source" || { echo "FAIL  overhead per run < 1 s"; fail=1; }
awk -v b="$b" 'BEGIN{exit !(b >= 10)}' || echo "note: the bare build took under 10 s; raise NFILES"

# ---- a real crate: the dependency phase with a warm store, and check vs two bare builds
if [ -n "$REAL_CRATE" ]; then
  read -r cname cversion <<<"$REAL_CRATE"
  crate_dir=$("$repo/scripts/real-projects.sh" --fetch crate "$cname" "$cversion")
  # The first check fills the store (a cold fetch when the store has no entry for it yet).
  set +e; "$bin" check --no-isolate --json "$work/crate-cold.json" "$crate_dir" >/dev/null 2>&1; rc=$?; set -e
  [ "$rc" -le 1 ] || { echo "repro check of $cname $cversion failed (exit $rc)" >&2; exit 2; }
  entry=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["dependency_phase"]["store"] + "/entries/" + r["dependency_phase"]["ecosystems"][0]["store_digest"] + "/data")' "$work/crate-cold.json")
  rust_image=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"]["image_id"])' "$work/crate-cold.json")
  cold_ms=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependency_phase"]["elapsed_ms"])' "$work/crate-cold.json")
  bare_crate() {
    docker run --rm --network none --cap-drop ALL --security-opt no-new-privileges \
      --memory 4g --memory-swap 4g --pids-limit 4096 --user 1000:1000 -e HOME=/build/home \
      --tmpfs /build:rw,exec,mode=1777,size=4g -v "$crate_dir:/src:ro" -v "$entry:/deps:ro" "$rust_image" \
      sh -c 'mkdir -p /build/a && cd /build/a && tar -C /src --exclude=./.git -cf - . | tar -xf - &&
        { [ -f Cargo.lock ] || cp /deps/Cargo.lock .; } && cargo build --release --offline --locked -q \
        --config "source.crates-io.replace-with=\"repro-deps\"" \
        --config "source.repro-deps.directory=\"/deps/vendor\""' >/dev/null
  }
  warm=() cchecks=() cbares=()
  for ((i = 0; i < RUNS; i++)); do
    t0=$EPOCHREALTIME; bare_crate; bare_crate; t1=$EPOCHREALTIME
    cbares+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
    t0=$EPOCHREALTIME
    set +e; "$bin" check --no-isolate --json "$work/crate.json" "$crate_dir" >/dev/null 2>&1; rc=$?; set -e
    t1=$EPOCHREALTIME
    [ "$rc" -le 1 ] || { echo "repro check of $cname $cversion failed (exit $rc)" >&2; exit 2; }
    cchecks+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
    warm+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); p=r["dependency_phase"]; assert all(e["source"] == "store" for e in p["ecosystems"]); print(p["elapsed_ms"]/1000)' "$work/crate.json")")
  done
  cb=$(printf '%s\n' "${cbares[@]}" | median)
  cc=$(printf '%s\n' "${cchecks[@]}" | median)
  cw=$(printf '%s\n' "${warm[@]}" | median)
  ndeps=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["dependencies"]))' "$work/crate.json")
  cverdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/crate.json")
  printf '# real crate %s %s: %s dependencies, verdict %s; first check'"'"'s dependency phase %s s\n' \
    "$cname" "$cversion" "$ndeps" "$cverdict" "$(awk -v m="$cold_ms" 'BEGIN{printf "%.3f", m/1000}')"
  printf '%-28s %10s\n' "dependency phase, warm (s)" "$cw" "2 bare builds, serial (s)" "$cb" \
    "repro check, 2 runs (s)" "$cc" "ratio check/bare" "$(awk -v c="$cc" -v b="$cb" 'BEGIN{printf "%.2f", c/b}')"
fi
exit $fail
