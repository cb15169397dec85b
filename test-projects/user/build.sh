set -eu
mkdir -p out
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --mode=go-w -cf out/data.tar data
