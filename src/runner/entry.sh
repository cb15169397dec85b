#!/bin/sh
# repro's entry script. Runs as the run's user, with every capability dropped in a container.
# The runner puts beside it:
#   run.conf        REPRO_BUILD_PATH, REPRO_UMASK, REPRO_TIMEOUT (shell assignments)
#   build.env       `export NAME='value'` lines: the build's whole environment
#   outputs.globs   output globs, one per line (empty: every file created or changed)
#   source.tar      the source tree, its entries in the order this run creates them
# `entry.sh build CMD...` unpacks the source, runs the build and lists its outputs in
# $O/outputs.list; `entry.sh outputs` then writes them as a tar stream on stdout. $O is a
# small folder of the runner's (in a container, a tmpfs of the disk limit).
set -eu
# The container backend uses /repro and /out; the local backend points these elsewhere.
R=${REPRO_DIR:-/repro}
O=${REPRO_OUT:-/out}
. "$R/run.conf"
umask "$REPRO_UMASK"
mode=$1
shift
if [ "$mode" = outputs ]; then
  cd "$REPRO_BUILD_PATH"
  exec tar -cf - --no-recursion --verbatim-files-from -T "$O/outputs.list"
fi
mkdir -p "$REPRO_BUILD_PATH"
cd "$REPRO_BUILD_PATH"
# Archive order is creation order (tmpfs readdir follows it); mtimes are kept (make and
# autotools depend on them).
tar -xf "$R/source.tar" --no-same-owner
manifest() {
  find . -path ./.git -prune -o \( -type f -o -type l \) -printf '%P\t%s\t%T@\t%i\n' | LC_ALL=C sort
}
manifest > "$O/.before"
echo "repro: building in $REPRO_BUILD_PATH as $(id -un 2>/dev/null || id -u):$(id -g), umask $(umask)" >&2
# The deadline holds inside the build's own container too: repro's clock is not the only one.
# Images without coreutils' timeout rely on the container's lifetime.
bounded=
if command -v timeout >/dev/null 2>&1; then
  set -- timeout -k 5 "$REPRO_TIMEOUT" "$@"
  bounded=1
fi
set +e
( . "$R/build.env" && exec "$@" )
status=$?
set -e
# The folder may be full (the build wrote there): the status is also the exit code.
echo "$status" > "$O/exit-status" 2>/dev/null || true
if [ "$status" -eq 124 ] && [ -n "$bounded" ]; then
  echo "repro: the build ran past its timeout of ${REPRO_TIMEOUT}s and was stopped" >&2
  exit 124
fi
if [ "$status" -ne 0 ]; then
  echo "repro: the build command exited with status $status" >&2
  exit "$status"
fi
if [ -s "$R/outputs.globs" ]; then
  # Quoted globs, `**` allowed; only regular files are outputs.
  bash -O globstar -O nullglob -O dotglob -c '
    IFS=
    while IFS= read -r g; do
      for f in $g; do
        if [ -f "$f" ] && [ ! -L "$f" ]; then printf "%s\n" "${f#./}"; fi
      done
    done < "$1"' repro-outputs "$R/outputs.globs" | LC_ALL=C sort -u > "$O/outputs.list"
else
  manifest > "$O/.after"
  LC_ALL=C comm -13 "$O/.before" "$O/.after" | cut -f1 | while IFS= read -r f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then printf '%s\n' "$f"; fi
  done > "$O/outputs.list"
fi
echo "repro: $(wc -l < "$O/outputs.list") output files" >&2
