set -eu
mkdir -p out
printf "make -j%s\n" "$(nproc)" > out/build-flags.txt
