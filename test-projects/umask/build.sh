set -eu
mkdir -p out gen
printf "generated\n" > gen/config.txt
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf out/gen.tar gen
