#!/usr/bin/env bash
# Makes two small releases that differ the way unreproducible builds do (timestamps, order, a
# build path in a file, a jar entry) with real tools, and runs `repro diff` on them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in a b; do
  d=$work/$side/release-1.0
  mkdir -p "$d/lib" "$d/bin" "$d/jar/META-INF"
  printf 'Example release 1.0\n' > "$d/README"
  printf '#!/bin/sh\necho built in /build/%s\n' "$side" > "$d/bin/run"
  chmod 755 "$d/bin/run"
  printf 'Manifest-Version: 1.0\nBuilt-By: %s\n' "$side" > "$d/jar/META-INF/MANIFEST.MF"
  printf 'value=%s\n' "$side" > "$d/jar/app.properties"
  (cd "$d/jar" && python3 - "$side" <<'PY'
import sys, zipfile
side = sys.argv[1]
when = (2024, 1, 1, 0, 0, 0) if side == "a" else (2024, 6, 1, 12, 0, 0)
with zipfile.ZipFile("../lib/app.jar", "w", zipfile.ZIP_DEFLATED) as z:
    for name in ("META-INF/MANIFEST.MF", "app.properties"):
        z.writestr(zipfile.ZipInfo(name, when), open(name, "rb").read())
PY
  )
  rm -rf "$d/jar"
  mtime=$([ "$side" = a ] && echo @1700000000 || echo @1700086400)
  tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name --mtime="$mtime" \
    -C "$work/$side" -cf - release-1.0 | gzip -9 > "$work/$side.tar.gz"
done
set +e
"$bin" diff "$@" "$work/a.tar.gz" "$work/b.tar.gz"
rc=$?
echo "exit code: $rc (0 identical, 1 different, 2 error)"
[ "$rc" -le 1 ]
