set -eu
mkdir -p out
tar --sort=name --owner=0 --group=0 --numeric-owner --mode=go-w --mtime=now -cf - data | gzip -n > out/data.tar.gz
