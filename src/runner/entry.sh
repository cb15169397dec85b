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
. /repro/run.conf
umask "$REPRO_UMASK"
mkdir -p "$REPRO_BUILD_PATH"
cd "$REPRO_BUILD_PATH"
# Archive order is creation order (tmpfs readdir follows it); mtimes are kept (make and
# autotools depend on them).
tar -xf /repro/source.tar --no-same-owner
manifest() {
  find . -path ./.git -prune -o \( -type f -o -type l \) -printf '%P\t%s\t%T@\t%i\n' | LC_ALL=C sort
}
manifest > /out/.before
echo "repro: building in $REPRO_BUILD_PATH as $(id -un 2>/dev/null || id -u):$(id -g), umask $(umask)" >&2
set +e
( . /repro/build.env && exec "$@" )
status=$?
set -e
echo "$status" > /out/exit-status
if [ "$status" -ne 0 ]; then
  echo "repro: the build command exited with status $status" >&2
  exit "$status"
fi
if [ -s /repro/outputs.globs ]; then
  # Quoted globs, `**` allowed; only regular files are outputs.
  bash -O globstar -O nullglob -O dotglob -c '
    IFS=
    while IFS= read -r g; do
      for f in $g; do
        if [ -f "$f" ] && [ ! -L "$f" ]; then printf "%s\n" "${f#./}"; fi
      done
    done < /repro/outputs.globs' | LC_ALL=C sort -u > /out/outputs.list
else
  manifest > /out/.after
  LC_ALL=C comm -13 /out/.before /out/.after | cut -f1 | while IFS= read -r f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then printf '%s\n' "$f"; fi
  done > /out/outputs.list
fi
tar -cf /out/outputs.tar --no-recursion -T /out/outputs.list || {
  echo "repro: collecting the outputs failed" >&2
  exit 125
}
echo "repro: $(wc -l < /out/outputs.list) output files" >&2
