set -eu
mkdir -p out
printf "built on %s\n" "$(uname -n)" > out/build-info.txt
