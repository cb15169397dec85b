# A release tarball made the reproducible way: sorted, clamped mtimes, no owner, gzip -n.
set -eu
mkdir -p out gen
# TZ=UTC rather than -u: under libfaketime (the time variation) `date -u` follows TZ.
TZ=UTC date -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d > gen/release-date
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --mode='go-w' -cf - data gen | gzip -n -9 > out/release.tar.gz
