#!/bin/sh
# repro's entry script. Runs inside the build container as the run's user, with every
# capability dropped. Uploaded by the runner together with:
#   /repro/run.conf        REPRO_BUILD_PATH, REPRO_UMASK (shell assignments)
#   /repro/build.env       `export NAME='value'` lines: the build's whole environment
#   /repro/outputs.globs   output globs, one per line (empty: every file created or changed)
#   /repro/source.tar      the source tree, its entries in the order this run creates them
# Arguments: the build command. Outputs land in /out (a plain path, not the tmpfs, which
# vanishes with the container): outputs.tar, outputs.list, exit-status.
set -eu
# The container backend uses /repro and /out; the local backend points these elsewhere.
R=${REPRO_DIR:-/repro}
O=${REPRO_OUT:-/out}
. "$R/run.conf"
umask "$REPRO_UMASK"
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
set +e
( . "$R/build.env" && exec "$@" )
status=$?
set -e
echo "$status" > "$O/exit-status"
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
tar -cf "$O/outputs.tar" --no-recursion --verbatim-files-from -T "$O/outputs.list" || {
  echo "repro: collecting the outputs failed" >&2
  exit 125
}
echo "repro: $(wc -l < "$O/outputs.list") output files" >&2
